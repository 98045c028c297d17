//! The CLI's one error type: a code (the daemon's `ErrorCode` name, or one of
//! the CLI's own codes below), a message that says what to do, and the exit
//! code it maps to.

use std::fmt;

use tessera_proto::v1::ERROR_CODE_METADATA;

/// Exit codes, as documented in `tessera --help`.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The daemon (or the user) refused the operation: wrong PIN, vault
    /// locked, activation failed or cancelled, …
    pub const REFUSED: u8 = 1;
    /// Usage or bad input: a missing flag in scripted mode, an unreadable
    /// file, an invalid activation image, an unknown account.
    pub const USAGE: u8 = 2;
    /// tesserad is not running or could not be reached.
    pub const UNREACHABLE: u8 = 3;
    /// What answers at the socket is not the user's own tesserad: the
    /// socket or its folder belongs to another user or can be written by
    /// others, or the process serving it runs as another user. Nothing was
    /// sent.
    pub const UNTRUSTED: u8 = 4;
}

/// The CLI's own error codes (the daemon's are `ERROR_CODE_*`).
pub mod code {
    pub const USAGE: &str = "USAGE";
    pub const DAEMON_NOT_RUNNING: &str = "DAEMON_NOT_RUNNING";
    pub const CANCELLED: &str = "CANCELLED";
    pub const CLIPBOARD: &str = "CLIPBOARD";
    pub const IO: &str = "IO";
    pub const UNTRUSTED_DAEMON: &str = "UNTRUSTED_DAEMON";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: String,
    pub message: String,
    pub exit: u8,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn new(code: impl Into<String>, message: impl Into<String>, exit: u8) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            exit,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(code::USAGE, message, exit::USAGE)
    }

    /// A scripted run reached a question that no flag answers.
    pub fn missing_flag(flag: &str, what: &str) -> Self {
        Self::usage(format!(
            "{what}: no terminal to ask on, so pass {flag} (or run interactively)"
        ))
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(code::CANCELLED, message, exit::REFUSED)
    }

    pub fn refused(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(code, message, exit::REFUSED)
    }

    pub fn not_running() -> Self {
        Self::new(
            code::DAEMON_NOT_RUNNING,
            "tesserad is not running; start it with `systemctl --user start tesserad` or `tesserad`",
            exit::UNREACHABLE,
        )
    }

    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(code::IO, format!("{what}: {err}"), exit::REFUSED)
    }

    /// A failed call: the `tessera-error` metadata names the code; the
    /// message is the daemon's.
    pub fn from_status(status: &tonic::Status) -> Self {
        let named = status
            .metadata()
            .get(ERROR_CODE_METADATA)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match named {
            Some(code) => {
                let exit = exit_for_error_code(&code);
                Self::new(code, status.message(), exit)
            }
            None => match status.code() {
                // The connection went away under the call, or never came up.
                tonic::Code::Unavailable => Self::new(
                    code::DAEMON_NOT_RUNNING,
                    format!(
                        "lost the connection to tesserad ({}); is it running? \
                         start it with `systemctl --user start tesserad` or `tesserad`",
                        status.message()
                    ),
                    exit::UNREACHABLE,
                ),
                tonic::Code::InvalidArgument => {
                    Self::new("ERROR_CODE_INVALID_ARGUMENT", status.message(), exit::USAGE)
                }
                tonic::Code::NotFound => {
                    Self::new("ERROR_CODE_NOT_FOUND", status.message(), exit::USAGE)
                }
                tonic::Code::Unimplemented => Self::new(
                    "ERROR_CODE_UNSUPPORTED",
                    format!(
                        "this tesserad does not support the call ({}); update it",
                        status.message()
                    ),
                    exit::REFUSED,
                ),
                other => Self::new(
                    "ERROR_CODE_INTERNAL",
                    if status.message().is_empty() {
                        format!("tesserad failed: {other:?}")
                    } else {
                        status.message().to_owned()
                    },
                    exit::REFUSED,
                ),
            },
        }
    }

    /// The JSON form printed on stdout with `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(&status)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// An error code in the `ERROR_CODE_*` form of the metadata, also when given
/// short (`INVALID_IMAGE`, as in some `Failed` states) or empty.
pub fn normalize_code(code: &str) -> String {
    let code = code.trim();
    if code.is_empty() {
        "ERROR_CODE_UNSPECIFIED".to_owned()
    } else if code.starts_with("ERROR_CODE_") {
        code.to_owned()
    } else {
        format!("ERROR_CODE_{}", code.to_ascii_uppercase())
    }
}

/// Bad input is exit 2; anything else the daemon refuses is exit 1.
pub fn exit_for_error_code(code: &str) -> u8 {
    match normalize_code(code).as_str() {
        "ERROR_CODE_INVALID_ARGUMENT"
        | "ERROR_CODE_INVALID_PAYLOAD"
        | "ERROR_CODE_INVALID_IMAGE"
        | "ERROR_CODE_NOT_FOUND"
        | "ERROR_CODE_AMBIGUOUS" => exit::USAGE,
        _ => exit::REFUSED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with(code: tonic::Code, name: &str, message: &str) -> tonic::Status {
        let mut s = tonic::Status::new(code, message);
        s.metadata_mut()
            .insert(ERROR_CODE_METADATA, name.parse().unwrap());
        s
    }

    #[test]
    fn status_metadata_names_the_code() {
        let e = CliError::from_status(&status_with(
            tonic::Code::PermissionDenied,
            "ERROR_CODE_WRONG_PIN",
            "The PIN was wrong; 4 tries left.",
        ));
        assert_eq!(e.code, "ERROR_CODE_WRONG_PIN");
        assert_eq!(e.message, "The PIN was wrong; 4 tries left.");
        assert_eq!(e.exit, exit::REFUSED);

        let e = CliError::from_status(&status_with(
            tonic::Code::InvalidArgument,
            "ERROR_CODE_INVALID_IMAGE",
            "no QR code found",
        ));
        assert_eq!(e.exit, exit::USAGE);
    }

    #[test]
    fn unavailable_without_metadata_is_unreachable() {
        let e = CliError::from_status(&tonic::Status::unavailable("connection reset"));
        assert_eq!(e.exit, exit::UNREACHABLE);
        assert_eq!(e.code, code::DAEMON_NOT_RUNNING);
    }

    #[test]
    fn short_codes_are_normalized() {
        assert_eq!(normalize_code("INVALID_IMAGE"), "ERROR_CODE_INVALID_IMAGE");
        assert_eq!(
            normalize_code("ERROR_CODE_WRONG_PIN"),
            "ERROR_CODE_WRONG_PIN"
        );
        assert_eq!(normalize_code(""), "ERROR_CODE_UNSPECIFIED");
        assert_eq!(exit_for_error_code("INVALID_PAYLOAD"), exit::USAGE);
        assert_eq!(exit_for_error_code("ACTIVATION_ENDED"), exit::REFUSED);
    }

    #[test]
    fn json_shape() {
        let e = CliError::refused("ERROR_CODE_VAULT_LOCKED", "Unlock first: tessera unlock");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": {"code": "ERROR_CODE_VAULT_LOCKED", "message": "Unlock first: tessera unlock"}})
        );
    }
}
