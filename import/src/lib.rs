//! Readers of other authenticators' backup files (issue 12, item 2): one
//! parser per format, each in a file of its own behind [`Importer`], with
//! the format detected when the user does not name it. Pure: bytes and a
//! password in, accounts out; the daemon previews, deduplicates, applies
//! policy and stores (`daemon/src/service/import_ops.rs`).
//!
//! Every importer returns what it could read and, for each entry it could
//! not use (a Steam token, an unknown type, a bad secret), the entry's name
//! and why, so that one bad entry never stops the rest. A file that cannot
//! be read at all, a wrong password and parameters out of bounds are
//! [`ImportError`]s, each with its own message: a wrong password is never
//! reported as a damaged file.

mod aegis;
mod uri_list;

use tessera_core::SecretString;
use tessera_core::payload::OtpAuthAccount;

pub use aegis::Aegis;
pub use uri_list::UriList;

/// The largest file an importer reads.
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// What a file gave.
#[derive(Debug, Default)]
pub struct Imported {
    /// The accounts read, in the file's order.
    pub accounts: Vec<OtpAuthAccount>,
    /// The entries that could not be used, with the reason.
    pub skipped: Vec<Skipped>,
}

/// An entry that could not be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The entry as the file names it (issuer and name), or its position.
    pub name: String,
    pub reason: String,
}

/// Why a file could not be imported at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is {0} bytes; at most {MAX_FILE_BYTES} are read")]
    TooLarge(usize),
    #[error("{format}: the file is not a valid {format} backup: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("{0}: the file is encrypted; give its password (--password-file)")]
    NeedsPassword(&'static str),
    #[error("{0}: the password does not open this file")]
    WrongPassword(&'static str),
    #[error("{format}: {reason}; the file was not decrypted")]
    Unsafe {
        format: &'static str,
        reason: String,
    },
    #[error(
        "the file's format was not recognised; name it with --format (one of: {})",
        names().join(", ")
    )]
    Unknown,
    #[error("there is no format {name:?}; the formats are: {}", names().join(", "))]
    NoSuchFormat { name: String },
}

/// One backup format.
pub trait Importer: Sync {
    /// The name users give with `--format`.
    fn name(&self) -> &'static str;
    /// Whether `bytes` look like this format (checked on structure, cheaply;
    /// no password needed).
    fn detect(&self, bytes: &[u8]) -> bool;
    /// Reads the file; `password` for an encrypted one.
    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError>;
}

/// Every format, in the order detection tries them.
pub static FORMATS: &[&dyn Importer] = &[&Aegis, &UriList];

fn names() -> Vec<&'static str> {
    FORMATS.iter().map(|f| f.name()).collect()
}

/// The format named `name`, or the one `bytes` look like.
pub fn format_for(name: Option<&str>, bytes: &[u8]) -> Result<&'static dyn Importer, ImportError> {
    match name {
        Some(name) => FORMATS
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .ok_or_else(|| ImportError::NoSuchFormat {
                name: name.to_owned(),
            }),
        None => FORMATS
            .iter()
            .copied()
            .find(|f| f.detect(bytes))
            .ok_or(ImportError::Unknown),
    }
}

/// Reads `bytes` in the format named (or detected).
pub fn import(
    format: Option<&str>,
    bytes: &[u8],
    password: Option<&SecretString>,
) -> Result<(&'static str, Imported), ImportError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge(bytes.len()));
    }
    let importer = format_for(format, bytes)?;
    Ok((importer.name(), importer.read(bytes, password)?))
}

/// `issuer: name`, or the name, for [`Skipped::name`].
fn entry_name(issuer: Option<&str>, name: &str) -> String {
    match issuer.filter(|i| !i.is_empty()) {
        Some(issuer) => format!("{issuer}: {name}"),
        None => name.to_owned(),
    }
}
