//! The daemon's typed errors. Every failure a user can cause has an
//! [`ErrorCode`] (the same set as `tessera.v1.ErrorCode`) and a message that
//! says what to do. The gRPC and D-Bus adapters translate these; nothing
//! else decides how an error looks to a client.

use std::fmt;

/// What went wrong, as a client can act on it.
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
}

impl ErrorCode {
    /// The name used on the wire and in JSON output (`VAULT_LOCKED`, …).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::InvalidPayload => "INVALID_PAYLOAD",
            ErrorCode::InvalidImage => "INVALID_IMAGE",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::VaultLocked => "VAULT_LOCKED",
            ErrorCode::NoVault => "NO_VAULT",
            ErrorCode::WrongPin => "WRONG_PIN",
            ErrorCode::PinDelayed => "PIN_DELAYED",
            ErrorCode::PinPolicy => "PIN_POLICY",
            ErrorCode::InvalidEvent => "INVALID_EVENT",
            ErrorCode::ActivationEnded => "ACTIVATION_ENDED",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::PluginFailed => "PLUGIN_FAILED",
        }
    }
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
}

pub type ServiceResult<T> = Result<T, ServiceError>;
