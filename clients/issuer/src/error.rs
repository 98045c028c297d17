//! The one error type of the issuer (command line and service), the exit
//! code each kind maps to, and its code for the HTTP API.
//!
//! | exit | HTTP | code | meaning |
//! | --- | --- | --- | --- |
//! | 1 | 422 | `code_rejected` | a code was checked and does not verify (finalize code, one-time code, response) |
//! | 1 | 422 | `code_replayed` | the code was right but is already used (or superseded) |
//! | 1 | 423 | `locked` | too many failed codes: none is checked until the lock ends |
//! | 2 | 400 | `bad_request` | malformed values, a device code whose check digits do not fit |
//! | 2 | 404 | `not_found` | no activation with this serial |
//! | 2 | 409 | `wrong_state` | the activation's state does not allow it (not bound, already active, revoked, an idempotency key reused) |
//! | 2 | 401 | `unauthorized` | no bearer token, or one that is not a client's (API only) |
//! | 2 | 429 | `rate_limited` | too many requests from this client or for this serial (API only) |
//! | 2 | 500 | `file`, `store_data` | a file that cannot be read or written; data in the database that does not decode |
//! | 2 | 503 | `store_unavailable` | the database cannot be reached or refused the transaction |
//!
//! A device code carries check digits (PROTOCOL.md §3), not a proof: a
//! mismatch means a typo or another activation's code, so it is bad input
//! (2). The finalize code and the one-time codes are proofs of the key: a
//! mismatch is exit 1. Messages never contain key material.

use std::fmt::Display;
use std::io;
use std::path::{Path, PathBuf};

/// Everything a command or a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A code was checked against the key and does not match.
    #[error("{0}")]
    Rejected(String),
    /// The code matched an already accepted (or superseded) step or counter.
    #[error("{0}")]
    Replayed(String),
    /// Too many failures: the serial is locked until the time named.
    #[error("{0}")]
    Locked(String),
    /// A value that does not allow the command.
    #[error("{0}")]
    Input(String),
    /// No such activation.
    #[error("{0}")]
    NotFound(String),
    /// The activation's state does not allow the command.
    #[error("{0}")]
    Conflict(String),
    /// No or an unknown bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// Over a rate limit.
    #[error("{0}")]
    RateLimited(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: io::Error },
    /// The database could not be reached or refused the transaction.
    #[error("database {place}: {message}")]
    Store { place: String, message: String },
    /// The database holds something that does not decode.
    #[error("{0}")]
    StoreData(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(message: impl Display) -> Self {
        Self::Input(message.to_string())
    }

    pub fn rejected(message: impl Display) -> Self {
        Self::Rejected(message.to_string())
    }

    pub fn conflict(message: impl Display) -> Self {
        Self::Conflict(message.to_string())
    }

    pub fn store_data(message: impl Display) -> Self {
        Self::StoreData(message.to_string())
    }

    pub fn store(place: &str, source: impl Display) -> Self {
        Self::Store {
            place: place.to_owned(),
            message: source.to_string(),
        }
    }

    pub fn file(path: &Path, source: io::Error) -> Self {
        Self::File {
            path: path.to_owned(),
            source,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Rejected(_) | Error::Replayed(_) | Error::Locked(_) => 1,
            _ => 2,
        }
    }

    /// The API's error code (docs/issuer-api.yaml, `Error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Rejected(_) => "code_rejected",
            Error::Replayed(_) => "code_replayed",
            Error::Locked(_) => "locked",
            Error::Input(_) => "bad_request",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "wrong_state",
            Error::Unauthorized(_) => "unauthorized",
            Error::RateLimited(_) => "rate_limited",
            Error::File { .. } => "file",
            Error::Store { .. } => "store_unavailable",
            Error::StoreData(_) => "store_data",
        }
    }

    /// The API's HTTP status for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Rejected(_) | Error::Replayed(_) => 422,
            Error::Locked(_) => 423,
            Error::Input(_) => 400,
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::Unauthorized(_) => 401,
            Error::RateLimited(_) => 429,
            Error::File { .. } | Error::StoreData(_) => 500,
            Error::Store { .. } => 503,
        }
    }
}
