use crate::activation::ActivationError;
use crate::otp::ParamsError;

use super::MAX_PAYLOAD_BYTES;

/// Why a payload was refused. Every message starts with the field (or the
/// format) it is about, and never contains secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is {0} bytes; the limit is {MAX_PAYLOAD_BYTES}")]
    TooLarge(usize),
    #[error(
        "payload: not a known format (expected <QRCode>…, tessera://activate?…, otpauth://… or otpauth-migration://…)"
    )]
    UnknownFormat,
    #[error(transparent)]
    Activation(#[from] ActivationError),
    #[error(transparent)]
    Otp(#[from] ParamsError),
    #[error("{0}: required field is missing")]
    Missing(&'static str),
    #[error("{0}: given more than once")]
    Duplicate(String),
    #[error("{field}: longer than {max} characters")]
    TooLong { field: String, max: usize },
    #[error("{0}: control characters are not allowed")]
    ControlCharacter(String),
    #[error("payload: more than {0} unknown fields")]
    TooManyExtra(usize),
    /// Anything else wrong with one field or with the format's syntax;
    /// `field` is the field name or the format (`tag form`, `otpauth`, …).
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl PayloadError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Refuses a payload over [`MAX_PAYLOAD_BYTES`]; every parser calls it
/// first, so each stays safe when called on its own.
pub(crate) fn check_size(text: &str) -> Result<(), PayloadError> {
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(text.len()));
    }
    Ok(())
}

/// A piece of the input quoted in an error: at most 32 characters, control
/// characters escaped. Only for names and syntax, never for field values
/// that may carry a key.
pub(crate) fn shown(text: &str) -> String {
    const MAX: usize = 32;
    let mut quoted = format!("{:?}", text.chars().take(MAX).collect::<String>());
    if text.chars().nth(MAX).is_some() {
        quoted.push('…');
    }
    quoted
}
