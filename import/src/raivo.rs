//! Raivo OTP's export, as Raivo's own documentation and Aegis's
//! `RaivoImporter` describe it: a ZIP under the user's master password
//! (WinZip AES; ZipCrypto read too) holding `raivo-otp-export.json`, an
//! array of `{"issuer", "account", "secret" (base32), "algorithm",
//! "digits", "kind": TOTP | HOTP, "timer", "counter", "pinned", "iconType",
//! "iconValue"}` whose numbers Raivo writes as strings. The JSON alone (the
//! ZIP already opened) is read too.
//!
//! The decompressed JSON is read up to [`crate::MAX_FILE_BYTES`], so a
//! ZIP bomb stops there. AES-ZIP's password check tells a wrong password
//! apart; ZipCrypto's passes one wrong password in 256, which then fails
//! as a damaged entry.

use std::io::Read;

use serde::Deserialize;
use serde_json::Value;
use tessera_core::SecretString;

use crate::{
    AsRaw, ImportError, Imported, Importer, RawEntry, RawSecret, Skipped, collect, json_entry,
};

const NAME: &str = "raivo";
/// The JSON's name inside the export.
const ENTRY: &str = "raivo-otp-export.json";

pub struct Raivo;

/// A number Raivo may write as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Text(String),
    Int(u64),
}

impl Number {
    fn value<T: TryFrom<u64>>(&self) -> Option<T> {
        match self {
            Number::Text(t) => t.trim().parse::<u64>().ok(),
            Number::Int(n) => Some(*n),
        }
        .and_then(|n| T::try_from(n).ok())
    }
}

#[derive(Deserialize)]
struct Item {
    issuer: Option<String>,
    #[serde(default)]
    account: String,
    secret: String,
    algorithm: Option<String>,
    digits: Option<Number>,
    kind: Option<String>,
    timer: Option<Number>,
    counter: Option<Number>,
}

impl AsRaw for Item {
    fn raw(&self) -> RawEntry<'_> {
        RawEntry {
            issuer: self.issuer.as_deref(),
            name: &self.account,
            kind: self.kind.as_deref().unwrap_or("TOTP"),
            algorithm: self.algorithm.as_deref(),
            digits: self.digits.as_ref().and_then(Number::value),
            period: self.timer.as_ref().and_then(Number::value),
            counter: self.counter.as_ref().and_then(Number::value),
            secret: RawSecret::Base32(&self.secret),
            pin: None,
        }
    }
}

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

fn item(value: &Value) -> Result<Item, Skipped> {
    json_entry(value, "/issuer", "/account", "an entry")
}

fn read_json(bytes: &[u8]) -> Result<Imported, ImportError> {
    let items: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    let entries: Vec<_> = items.iter().map(item).collect();
    Ok(collect(&entries))
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Whether `bytes` is a JSON array of Raivo's entries.
fn is_raivo_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|v| {
        v.as_array().is_some_and(|a| {
            a.first()
                .is_some_and(|e| e.get("timer").is_some() && e.get("kind").is_some())
        })
    })
}

/// The export's JSON from the ZIP, at most [`crate::MAX_FILE_BYTES`].
fn unzip(
    bytes: &[u8],
    password: Option<&SecretString>,
) -> Result<zeroize::Zeroizing<Vec<u8>>, ImportError> {
    use zip::result::ZipError;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| malformed(format!("not a readable ZIP: {e}")))?;
    let entry = match password {
        Some(p) => archive.by_name_decrypt(ENTRY, p.expose().as_bytes()),
        None => archive.by_name(ENTRY),
    };
    let entry = match entry {
        Ok(e) => e,
        Err(ZipError::FileNotFound) => {
            return Err(malformed(format!("the ZIP holds no {ENTRY}")));
        }
        Err(ZipError::InvalidPassword) => return Err(ImportError::WrongPassword(NAME)),
        Err(ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED)) => {
            return Err(ImportError::NeedsPassword(NAME));
        }
        Err(e) => return Err(malformed(format!("{ENTRY} cannot be read: {e}"))),
    };
    let mut out = zeroize::Zeroizing::new(Vec::new());
    entry
        .take(crate::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            malformed(format!(
                "{ENTRY} cannot be read (damaged, or a wrong password): {e}"
            ))
        })?;
    if out.len() > crate::MAX_FILE_BYTES {
        return Err(malformed(format!(
            "{ENTRY} unpacks to more than {} bytes",
            crate::MAX_FILE_BYTES
        )));
    }
    Ok(out)
}

impl Importer for Raivo {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        if is_zip(bytes) {
            return zip::ZipArchive::new(std::io::Cursor::new(bytes))
                .is_ok_and(|a| a.file_names().any(|n| n.is_ok_and(|n| n == ENTRY)));
        }
        is_raivo_json(bytes)
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        if !is_zip(bytes) {
            return read_json(bytes);
        }
        let json = unzip(bytes, password)?;
        read_json(&json)
    }
}
