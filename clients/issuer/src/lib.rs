//! tessera-issuer: the issuer's side of Tessera activation (PROTOCOL.md),
//! as a command line over a SQLite file and as an HTTP service over SQLite
//! or PostgreSQL.
//!
//! - [`store`]: the one store trait, its SQLite and PostgreSQL databases,
//!   their migrations, and the envelope encryption of keys at rest.
//! - [`service`]: the operations (create, bind, finalize, verify, revoke,
//!   clients), each one transaction with its audit line.
//! - [`commands`] and [`server`]: the command line and the HTTP API, which
//!   only translate to and from the service.

pub mod cli;
pub mod commands;
pub mod error;
pub mod files;
pub mod image;
pub mod output;
pub mod server;
pub mod service;
pub mod signing;
pub mod store;
