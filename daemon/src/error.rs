//! The daemon's typed errors. Every failure a user can cause has an
//! [`ErrorCode`] (the same set as `tessera.v1.ErrorCode`) and a message that
//! says what to do. The gRPC and D-Bus adapters translate these; nothing
//! else decides how an error looks to a client.

use std::fmt;

/// What went wrong, as a client can act on it. The wire names are those of
/// `tessera.v1.ErrorCode` (`grpc/convert.rs` maps them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidArgument,
    InvalidPayload,
    InvalidImage,
    NotFound,
    VaultLocked,
    NoVault,
    WrongPin,
    PinDelayed,
    PinPolicy,
    InvalidEvent,
    ActivationEnded,
    AlreadyExists,
    PermissionDenied,
    Unsupported,
    Internal,
    /// A plugin failed or was disabled; `tessera plugins` says why.
    PluginFailed,
    /// Fleet policy does not allow it; the message names the policy key.
    Policy,
    /// The finger did not match: try again.
    NoMatch,
    /// Biometrics cannot be used now; the message says why (the PIN works).
    BiometricsUnavailable,
    /// A query matches several accounts; the message lists them (issuer,
    /// label, short id). Nothing was done.
    Ambiguous,
    /// The daemon already runs as much of this work as it allows (pending
    /// activations per client and in all); the message gives the limit.
    Busy,
    /// The password of a file the user gave (an import, a backup) is
    /// missing or does not open it; the message says which. Not a vault PIN
    /// and not counted.
    WrongPassword,
    /// The vault file cannot be used (its body is damaged); the message
    /// names the newest automatic backup and how to put it in its place.
    /// The file is left as it is.
    VaultUnusable,
    /// A signing request's validity ended before it was approved; nothing
    /// was signed.
    Expired,
    /// The TPM cannot seal or open the vault's TPM slot now (no TPM, PCRs
    /// changed, its lock-out, an owner password, another TPM's object); the
    /// message says which and the way back (the PIN slot, a backup).
    Tpm,
}

/// An error from the service layer: a code and a message for the user.
/// Messages never contain secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub code: ErrorCode,
    pub message: String,
}

impl ServiceError {
    pub fn new(code: ErrorCode, message: impl fmt::Display) -> Self {
        Self {
            code,
            message: message.to_string(),
        }
    }

    pub fn invalid_argument(message: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    pub fn not_found(message: impl fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// A call that needs a vault before the first activation made one.
    pub fn no_vault() -> Self {
        Self::new(
            ErrorCode::NoVault,
            "there is no vault yet; activate an account first",
        )
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// How many characters of a client's text an error message repeats.
pub const ECHO_CHARS: usize = 64;

/// `text` as an error message may repeat it: its first [`ECHO_CHARS`]
/// characters, then `…` when it was longer (an over-long id must not make
/// an over-long error).
pub fn truncate_for_echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_echoes_are_cut_at_a_character() {
        assert_eq!(truncate_for_echo("short"), "short");
        let exact = "é".repeat(ECHO_CHARS);
        assert_eq!(truncate_for_echo(&exact), exact);
        let long = "é".repeat(10_000);
        assert_eq!(truncate_for_echo(&long), format!("{exact}…"));
    }
}
