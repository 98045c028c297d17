//! The one error type of the binary and the exit code each kind maps to.
//!
//! | exit | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | a code was checked and does not verify (finalize code, one-time code, replay) |
//! | 2 | bad usage or bad input: malformed values, unknown serial, wrong state, a device code whose check digits do not fit, files that cannot be read or written, a file that is not an issuer database |
//!
//! A device code carries check digits (PROTOCOL.md §3), not a proof: a
//! mismatch means a typo or another activation's code, so it is bad input
//! (2). The finalize code and the one-time codes are proofs of the key: a
//! mismatch is exit 1.

use std::fmt::Display;
use std::io;
use std::path::{Path, PathBuf};

/// Everything a command can fail with. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A code was checked against the key and does not match (exit 1).
    #[error("{0}")]
    Rejected(String),
    /// A value, a serial or a state that does not allow the command (exit 2).
    #[error("{0}")]
    Input(String),
    /// A file could not be read or written (exit 2).
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: io::Error },
    /// The database could not be read or written (exit 2).
    #[error("database {}: {source}", path.display())]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(message: impl Display) -> Self {
        Self::Input(message.to_string())
    }

    pub fn rejected(message: impl Display) -> Self {
        Self::Rejected(message.to_string())
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
            Error::Rejected(_) => 1,
            Error::Input(_) | Error::File { .. } | Error::Database { .. } => 2,
        }
    }
}
