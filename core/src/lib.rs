//! `tessera-core`: Tessera's protocol logic, without I/O.
//!
//! - [`otp`]: HOTP, TOTP, OCRA and account code parameters.
//! - [`activation`]: the activation protocol (PROTOCOL.md §1, §3–§5).
//! - [`signature`]: the issuer's Ed25519 signature (PROTOCOL.md §7).
//! - [`payload`]: every activation-image payload format, one [`payload::Payload`] type.
//! - [`secret`]: key material that zeroizes and never prints.
//! - [`transaction`]: transaction signing: the canonical transaction, its
//!   keys, the sealed request and the OCRA response (docs/protocol.md).
//! - [`text`]: characters a name shown to a person may not hold.

pub mod activation;
pub mod otp;
pub mod payload;
pub mod secret;
pub mod signature;
pub mod text;
pub mod transaction;

pub use secret::{SecretBytes, SecretString};
