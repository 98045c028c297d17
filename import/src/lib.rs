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
//! reported as a damaged file (2FAS and andOTP files have no check apart
//! from the ciphertext's tag, so there a damaged file reads as a wrong
//! password).

mod aegis;
mod andotp;
mod bitwarden;
mod crypto;
mod ente;
mod freeotp;
mod freeotp_plus;
mod proton;
mod pskc;
mod raivo;
mod stratum;
mod two_fas;
mod uri_list;

use tessera_core::otp::{Algorithm, Encoding, OtpKind, OtpParams};
use tessera_core::payload::otpauth::decode_base32_secret;
use tessera_core::payload::{OtpAuthAccount, Payload};
use tessera_core::{SecretBytes, SecretString};
use zeroize::Zeroizing;

pub use aegis::Aegis;
pub use andotp::AndOtp;
pub use bitwarden::{BitwardenCsv, BitwardenJson};
pub use ente::Ente;
pub use freeotp::FreeOtp;
pub use freeotp_plus::FreeOtpPlus;
pub use proton::Proton;
pub use pskc::Pskc;
pub use raivo::Raivo;
pub use stratum::Stratum;
pub use two_fas::TwoFas;
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
    /// A file under a pre-shared key (PSKC): the password is that key.
    #[error(
        "{0}: the file is encrypted under a pre-shared key; give the key in hex \
         (32, 48 or 64 hex digits) as the password (--password-file)"
    )]
    NeedsKey(&'static str),
    #[error("{format}: {reason}; the file was not decrypted")]
    Unsafe {
        format: &'static str,
        reason: String,
    },
    /// A form of the format that is not read (yet); the reason says what
    /// to do instead.
    #[error("{format}: {reason}")]
    Unsupported {
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
pub static FORMATS: &[&dyn Importer] = &[
    &Aegis,
    &TwoFas,
    // Before andOTP: both are JSON arrays, Raivo's entries have `timer`.
    &Raivo,
    &AndOtp,
    &BitwardenJson,
    &BitwardenCsv,
    &Ente,
    &FreeOtp,
    &FreeOtpPlus,
    &Proton,
    &Pskc,
    &Stratum,
    &UriList,
];

fn names() -> Vec<&'static str> {
    FORMATS.iter().map(|f| f.name()).collect()
}

/// A format Tessera writes (`tessera export --format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Aegis's plain JSON: Aegis, GNOME Authenticator and Tessera read it.
    Aegis,
    /// Aegis's JSON encrypted under a password (scrypt + AES-256-GCM).
    AegisEncrypted,
    /// `otpauth://` links, one per line.
    UriList,
    /// PSKC (RFC 6030), plain.
    Pskc,
    /// PSKC with every value encrypted under a password (PBKDF2, AES-CBC,
    /// HMAC-SHA1).
    PskcEncrypted,
    /// Google Authenticator's export codes: `otpauth-migration://` links,
    /// one per line, a few accounts each (`tessera export --qr` shows them
    /// as QR codes).
    Migration,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 6] = [
        Self::Aegis,
        Self::AegisEncrypted,
        Self::UriList,
        Self::Pskc,
        Self::PskcEncrypted,
        Self::Migration,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Aegis => "aegis",
            Self::AegisEncrypted => "aegis-encrypted",
            Self::UriList => "uri-list",
            Self::Pskc => "pskc",
            Self::PskcEncrypted => "pskc-encrypted",
            Self::Migration => "otpauth-migration",
        }
    }

    /// Whether this format can carry `account`, or why not.
    pub fn carries(self, account: &OtpAuthAccount) -> Result<(), String> {
        match self {
            Self::Pskc | Self::PskcEncrypted => pskc::carries(account).map_err(str::to_owned),
            Self::Migration => uri_list::migration_carries(account),
            Self::UriList if account.params.needs_pin() => {
                Err("an otpauth:// link cannot carry the PIN its codes need".into())
            }
            Self::Aegis | Self::AegisEncrypted | Self::UriList => Ok(()),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the file is written under a password.
    pub fn encrypted(self) -> bool {
        matches!(self, Self::AegisEncrypted | Self::PskcEncrypted)
    }

    /// `accounts` in this format; `password` for an encrypted one (the
    /// caller checks its strength). The bytes are wiped when dropped.
    pub fn write(
        self,
        accounts: &[OtpAuthAccount],
        password: Option<&SecretString>,
    ) -> Result<Zeroizing<Vec<u8>>, ImportError> {
        match (self, password) {
            (Self::Aegis, _) => Ok(aegis::write(accounts, None)),
            (Self::AegisEncrypted, Some(p)) => Ok(aegis::write(accounts, Some(p))),
            (Self::AegisEncrypted, None) => Err(ImportError::NeedsPassword(self.name())),
            (Self::UriList, _) => Ok(uri_list::write(accounts)),
            (Self::Pskc, _) => Ok(pskc::write(accounts, None)),
            (Self::PskcEncrypted, Some(p)) => Ok(pskc::write(accounts, Some(p))),
            (Self::PskcEncrypted, None) => Err(ImportError::NeedsPassword(self.name())),
            (Self::Migration, _) => uri_list::write_migration(accounts),
        }
    }
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

/// One entry of a JSON format as `T`, or the entry skipped with why it is
/// not one, named by its fields at the JSON pointers `issuer` and `name`
/// (e.g. `/issuer`, `/otp/account`); `what` says what an entry is called.
pub(crate) fn json_entry<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    issuer: &str,
    name: &str,
    what: &str,
) -> Result<T, Skipped> {
    serde_json::from_value(value.clone()).map_err(|err| Skipped {
        name: entry_name(
            value.pointer(issuer).and_then(serde_json::Value::as_str),
            value
                .pointer(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("(no name)"),
        ),
        reason: format!("not {what}: {err}"),
    })
}

/// `issuer: name`, or the name, for [`Skipped::name`].
fn entry_name(issuer: Option<&str>, name: &str) -> String {
    match issuer.filter(|i| !i.is_empty()) {
        Some(issuer) => format!("{issuer}: {name}"),
        None => name.to_owned(),
    }
}

/// An entry's secret as a format stores it.
pub(crate) enum RawSecret<'a> {
    Base32(&'a str),
    Bytes(SecretBytes),
    /// Hex digits (Stratum's mOTP secrets).
    Hex(&'a str),
}

/// One entry as a format describes it, before it is checked: the one
/// place every importer turns its entries into accounts (or a reason).
pub(crate) struct RawEntry<'a> {
    pub issuer: Option<&'a str>,
    pub name: &'a str,
    /// The kind as the file names it, any case: `totp`, `hotp`, `steam`,
    /// `motp` and `yandex` (`yaotp`); the last three's algorithm, digits and
    /// period are the kind's whatever the file says.
    pub kind: &'a str,
    pub algorithm: Option<&'a str>,
    pub digits: Option<u32>,
    pub period: Option<u32>,
    pub counter: Option<u64>,
    pub secret: RawSecret<'a>,
    /// An mOTP or Yandex entry's PIN (required for them, ignored for the
    /// rest).
    pub pin: Option<&'a str>,
}

impl RawEntry<'_> {
    /// The entry's name for [`Skipped`].
    pub fn display_name(&self) -> String {
        let name = if self.name.trim().is_empty() {
            "(no name)"
        } else {
            self.name
        };
        entry_name(self.issuer, name)
    }

    /// The account, or why this entry cannot be one.
    pub fn account(self) -> Result<OtpAuthAccount, Skipped> {
        let named = |reason: String| Skipped {
            name: self.display_name(),
            reason,
        };
        let params = match self.kind.to_ascii_lowercase().as_str() {
            // Their algorithm, digits and period are the kind's, whatever
            // the file says (Aegis writes "MD5" for mOTP).
            "steam" => OtpParams::steam(),
            "motp" => OtpParams::motp(),
            kind @ ("totp" | "hotp") => {
                let kind = if kind == "totp" {
                    OtpKind::Totp {
                        period: self.period.unwrap_or(30),
                    }
                } else {
                    OtpKind::Hotp {
                        counter: self.counter.unwrap_or(0),
                    }
                };
                let algo = self.algorithm.unwrap_or("SHA1");
                let algorithm =
                    Algorithm::from_name(&algo.to_ascii_uppercase()).ok_or_else(|| {
                        named(format!(
                            "the algorithm {algo:?} is not SHA1, SHA256 or SHA512"
                        ))
                    })?;
                OtpParams::new(kind, algorithm, self.digits.unwrap_or(6))
                    .map_err(|err| named(err.to_string()))?
            }
            "yandex" | "yaotp" => OtpParams::yandex(),
            other => return Err(named(format!("the type {other:?} is not known"))),
        };
        let pin = match (params.needs_pin(), self.pin.map(str::trim)) {
            (true, Some(pin)) if !pin.is_empty() => Some(SecretString::from(pin)),
            (true, _) => return Err(named("its PIN is missing (its codes need it)".into())),
            (false, _) => None,
        };
        let secret = match &self.secret {
            RawSecret::Base32(text) => {
                decode_base32_secret(text).map_err(|e| named(e.to_string()))?
            }
            RawSecret::Bytes(bytes) => bytes.clone(),
            RawSecret::Hex(text) => hex::decode(text.trim())
                .map(SecretBytes::from)
                .map_err(|_| named("its secret is not hex".into()))?,
        };
        if secret.expose().is_empty() {
            return Err(named("its secret is empty".into()));
        }
        // A Yandex secret is its 16-byte key, often with 10 bytes of
        // checksum after it (26 in all), which the codes do not use.
        let secret = match (params.encoding(), secret.expose().len()) {
            (Encoding::Yandex, 16) => secret,
            (Encoding::Yandex, 26) => SecretBytes::from(&secret.expose()[..16]),
            (Encoding::Yandex, n) => {
                return Err(named(format!(
                    "its Yandex secret is {n} bytes, not 16 (or 26 with its checksum)"
                )));
            }
            _ => secret,
        };
        let issuer = self
            .issuer
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty());
        let name = self.name.trim();
        // Several apps allow an empty name; the issuer then names the account.
        let account = match (name.is_empty(), &issuer) {
            (false, _) => name.to_owned(),
            (true, Some(issuer)) => issuer.clone(),
            (true, None) => return Err(named("it has neither a name nor an issuer".into())),
        };
        Ok(OtpAuthAccount {
            issuer,
            account,
            secret,
            params,
            pin,
        })
    }
}

/// The accounts of an `otpauth://` (or `otpauth-migration://`) link an
/// entry holds, through the one payload parser; `name` names the entry
/// when it cannot be used.
pub(crate) fn uri_accounts(
    name: &dyn Fn() -> String,
    uri: &str,
) -> Result<Vec<OtpAuthAccount>, Skipped> {
    let skip = |reason: String| Skipped {
        name: name(),
        reason,
    };
    let uri = uri.trim();
    match tessera_core::payload::parse(uri) {
        Ok(Payload::OtpAuth(account)) => Ok(vec![account]),
        Ok(Payload::Migration(batch)) => Ok(batch.accounts),
        Ok(_) => Err(skip("not an otpauth:// link".into())),
        Err(e) => Err(skip(e.to_string())),
    }
}

/// A format's entry, read from the file, as the common description.
pub(crate) trait AsRaw {
    fn raw(&self) -> RawEntry<'_>;
}

/// Every entry read, each as an account or a skipped entry.
pub(crate) fn collect<T: AsRaw>(entries: &[Result<T, Skipped>]) -> Imported {
    let mut out = Imported::default();
    for entry in entries {
        match entry
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|e| e.raw().account())
        {
            Ok(a) => out.accounts.push(a),
            Err(s) => out.skipped.push(s),
        }
    }
    out
}
