//! Stratum's (formerly Authenticator Pro's) backup, as Aegis's
//! `StratumImporter` and Stratum's open source `Backup` classes describe
//! it:
//!
//! - plain: `{"Authenticators": [{"Type", "Issuer", "Username", "Secret"
//!   (base32), "Algorithm": 0 SHA1 | 1 SHA256 | 2 SHA512, "Digits",
//!   "Period", "Counter", …}], "Categories": […], …}`; `Type` 1 HOTP,
//!   2 TOTP, 3 mOTP, 4 Steam, 5 Yandex;
//! - encrypted: the 16 bytes `AUTHENTICATORPRO`, a 16-byte salt, a 12-byte
//!   nonce, then AES-256-GCM (ciphertext ‖ tag) under Argon2id (v1.3,
//!   64 MiB, 3 passes, 4 lanes) of the password;
//! - the older encrypted form: `AuthenticatorPro`, a 20-byte salt, a
//!   16-byte IV, then AES-256-CBC under PBKDF2-HMAC-SHA1 (64,000 rounds).
//!
//! The costs are Stratum's own, fixed. The GCM tag cannot tell a wrong
//! password from a damaged file, so both read as a wrong password; the
//! older form's padding, likewise.

use serde::Deserialize;
use serde_json::Value;
use tessera_core::SecretString;
use zeroize::Zeroizing;

use crate::crypto::{aes_gcm_open, cbc_decrypt, pbkdf2_sha1};
use crate::{
    AsRaw, ImportError, Imported, Importer, RawEntry, RawSecret, Skipped, collect, json_entry,
};

const NAME: &str = "stratum";
const HEADER: &[u8; 16] = b"AUTHENTICATORPRO";
const HEADER_LEGACY: &[u8; 16] = b"AuthenticatorPro";
const LEGACY_ROUNDS: u32 = 64_000;

pub struct Stratum;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct File {
    authenticators: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Authenticator {
    #[serde(rename = "Type")]
    kind: u32,
    issuer: Option<String>,
    username: Option<String>,
    secret: String,
    #[serde(default)]
    algorithm: u32,
    digits: Option<u32>,
    period: Option<u32>,
    counter: Option<u64>,
    /// An mOTP entry's PIN.
    pin: Option<String>,
}

impl AsRaw for Authenticator {
    fn raw(&self) -> RawEntry<'_> {
        RawEntry {
            issuer: self.issuer.as_deref(),
            name: self.username.as_deref().unwrap_or(""),
            kind: match self.kind {
                1 => "hotp",
                2 => "totp",
                3 => "motp",
                4 => "steam",
                5 => "yandex",
                _ => "unknown",
            },
            algorithm: Some(match self.algorithm {
                0 => "SHA1",
                1 => "SHA256",
                2 => "SHA512",
                _ => "unknown",
            }),
            digits: self.digits,
            period: self.period,
            counter: self.counter,
            // Stratum keeps an mOTP secret as the hex it was typed in.
            secret: if self.kind == 3 {
                RawSecret::Hex(&self.secret)
            } else {
                RawSecret::Base32(&self.secret)
            },
            pin: self.pin.as_deref(),
        }
    }
}

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

fn authenticator(value: &Value) -> Result<Authenticator, Skipped> {
    json_entry(value, "/Issuer", "/Username", "an authenticator")
}

fn read_plain(bytes: &[u8]) -> Result<Imported, ImportError> {
    let file: File = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    let entries: Vec<_> = file.authenticators.iter().map(authenticator).collect();
    Ok(collect(&entries))
}

/// Stratum's Argon2id: 64 MiB, 3 passes, 4 lanes, a 32-byte key.
fn argon2_key(password: &SecretString, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, ImportError> {
    let params = argon2::Params::new(64 * 1024, 3, 4, Some(32)).expect("valid constants");
    let mut key = Zeroizing::new([0u8; 32]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password.expose().as_bytes(), salt, &mut key[..])
        .map_err(|e| malformed(format!("Argon2id failed: {e}")))?;
    Ok(key)
}

fn decrypt(bytes: &[u8], password: &SecretString) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let short = || malformed("the file is shorter than its header");
    if let Some(rest) = bytes.strip_prefix(HEADER) {
        if rest.len() < 16 + 12 + 16 {
            return Err(short());
        }
        let (salt, rest) = rest.split_at(16);
        let (nonce, sealed) = rest.split_at(12);
        let key = argon2_key(password, salt)?;
        let nonce: &[u8; 12] = nonce.try_into().expect("12 bytes");
        return aes_gcm_open(&key, nonce, sealed, &[]).ok_or(ImportError::WrongPassword(NAME));
    }
    let rest = bytes
        .strip_prefix(HEADER_LEGACY)
        .ok_or_else(|| malformed("no header"))?;
    if rest.len() < 20 + 16 + 16 {
        return Err(short());
    }
    let (salt, data) = rest.split_at(20);
    let key = pbkdf2_sha1(password.expose().as_bytes(), salt, LEGACY_ROUNDS);
    cbc_decrypt(&key[..], data).ok_or(ImportError::WrongPassword(NAME))
}

impl Importer for Stratum {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(HEADER)
            || bytes.starts_with(HEADER_LEGACY)
            || serde_json::from_slice::<Value>(bytes)
                .is_ok_and(|v| v.get("Authenticators").is_some())
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        if !(bytes.starts_with(HEADER) || bytes.starts_with(HEADER_LEGACY)) {
            return read_plain(bytes);
        }
        let password = password.ok_or(ImportError::NeedsPassword(NAME))?;
        let plain = decrypt(bytes, password)?;
        read_plain(&plain).map_err(|e| match e {
            ImportError::Malformed { reason, .. } => malformed(format!(
                "the decrypted backup is not Stratum's JSON: {reason}"
            )),
            other => other,
        })
    }
}
