//! tesserad: the per-user authenticator daemon. See ARCHITECTURE.md.

pub mod account;
pub mod activation;
pub mod config;
pub mod dbus;
pub mod error;
pub mod grpc;
pub mod keyring;
pub mod memory;
pub mod notify;
pub mod peer;
pub mod service;
pub mod signing;
pub mod vault;
