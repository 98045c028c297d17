//! Activation payloads: the text an activation image holds. One [`Payload`]
//! type for the rest of the system, one parser per format:
//!
//! | format | module |
//! | --- | --- |
//! | `<QRCode>…</QRCode>` tag form (PROTOCOL.md §2) | [`tag`] |
//! | `tessera://activate?…` URI form (PROTOCOL.md §2) | [`uri`] |
//! | `otpauth://totp|hotp/…` (Key URI format) | [`otpauth`] |
//! | `otpauth-migration://offline?data=…` (Google Authenticator export) | [`migration`] |
//!
//! [`parse`] picks the format from the text's start.

pub mod migration;
pub mod otpauth;
pub mod tag;
pub mod uri;

mod error;
mod tessera;

pub use error::PayloadError;
pub use migration::MigrationBatch;
pub use otpauth::OtpAuthAccount;
pub use tessera::{Extra, Form, OtpField, TesseraPayload};

/// Largest payload accepted, in bytes (PROTOCOL.md §2).
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// Anything an activation image may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A Tessera activation (tag or URI form), with device binding.
    Tessera(TesseraPayload),
    /// One standard `otpauth://` account; no device binding.
    OtpAuth(OtpAuthAccount),
    /// A Google Authenticator export: several accounts at once.
    Migration(MigrationBatch),
}

impl Payload {
    /// What kind of payload this is, for messages and listings.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Payload::Tessera(_) => "tessera",
            Payload::OtpAuth(_) => "otpauth",
            Payload::Migration(_) => "otpauth-migration",
        }
    }
}

/// Parses any supported payload. Leading and trailing white space (a QR
/// code often ends in a newline) is ignored.
pub fn parse(text: &str) -> Result<Payload, PayloadError> {
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(text.len()));
    }
    let text = text.trim();
    let starts = |prefix: &str| {
        text.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    if text.starts_with('<') {
        tag::parse(text).map(Payload::Tessera)
    } else if starts("tessera:") {
        uri::parse(text).map(Payload::Tessera)
    } else if starts("otpauth-migration:") {
        migration::parse(text).map(Payload::Migration)
    } else if starts("otpauth:") {
        otpauth::parse(text).map(Payload::OtpAuth)
    } else {
        Err(PayloadError::UnknownFormat)
    }
}
