//! andOTP's backup, plain (`otp_accounts.json`) or encrypted
//! (`otp_accounts.json.aes`), as Aegis's `AndOtpImporter` reads it:
//!
//! - plain: a JSON array of `{"secret" (base32), "issuer", "label",
//!   "digits", "type": TOTP | HOTP | STEAM, "algorithm", "period" |
//!   "counter", ...}`;
//! - encrypted: `[iterations: u32 big-endian][salt: 12][nonce: 12]
//!   [ciphertext][tag: 16]`, AES-256-GCM under PBKDF2-HMAC-SHA1(password,
//!   salt, iterations) (andOTP picks 140,000–160,000);
//! - the old encrypted form: `[nonce: 12][ciphertext][tag: 16]` under
//!   SHA-256(password), tried when the new one does not open.
//!
//! The iteration count is bounded before PBKDF2 runs. Neither form has a
//! separate password check, so a damaged file reads as a wrong password.

use serde::Deserialize;
use serde_json::Value;
use sha2::Digest;
use tessera_core::SecretString;
use zeroize::Zeroizing;

use crate::crypto::{aes_gcm_open, pbkdf2_sha1};
use crate::{
    AsRaw, ImportError, Imported, Importer, RawEntry, RawSecret, Skipped, collect, json_entry,
};

const NAME: &str = "andotp";
/// The most PBKDF2 rounds taken (ten times what andOTP writes).
const MAX_ROUNDS: u32 = 2_000_000;
const HEADER: usize = 4 + 12 + 12;
const TAG: usize = 16;

pub struct AndOtp;

#[derive(Deserialize)]
struct Entry {
    secret: String,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    label: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    digits: Option<u32>,
    period: Option<u32>,
    counter: Option<u64>,
    algorithm: Option<String>,
}

impl AsRaw for Entry {
    fn raw(&self) -> RawEntry<'_> {
        RawEntry {
            issuer: self.issuer.as_deref(),
            name: &self.label,
            kind: self.kind.as_deref().unwrap_or("TOTP"),
            algorithm: self.algorithm.as_deref(),
            digits: self.digits,
            period: self.period,
            counter: self.counter,
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

fn entry(value: &Value) -> Result<Entry, Skipped> {
    json_entry(value, "/issuer", "/label", "an entry")
}

/// The plaintext of an encrypted file, new form first, then the old one.
/// A header asking for more rounds than [`MAX_ROUNDS`] is not run; the old
/// form (whose first bytes are a random nonce) is still tried.
fn decrypt(bytes: &[u8], password: &SecretString) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    if bytes.len() < 12 + TAG {
        return Err(malformed(format!(
            "an encrypted backup is at least {} bytes; this one is {}",
            12 + TAG,
            bytes.len()
        )));
    }
    let pw = password.expose().as_bytes();
    let rounds = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"));
    if bytes.len() >= HEADER + TAG && (1..=MAX_ROUNDS).contains(&rounds) {
        let salt = &bytes[4..16];
        let nonce: [u8; 12] = bytes[16..28].try_into().expect("12 bytes");
        let key = pbkdf2_sha1(pw, salt, rounds);
        if let Some(plain) = aes_gcm_open(&key, &nonce, &bytes[HEADER..], &[]) {
            return Ok(plain);
        }
    }
    let key = Zeroizing::new(<[u8; 32]>::from(sha2::Sha256::digest(pw)));
    let nonce: [u8; 12] = bytes[..12].try_into().expect("12 bytes");
    if let Some(plain) = aes_gcm_open(&key, &nonce, &bytes[12..], &[]) {
        return Ok(plain);
    }
    if rounds > MAX_ROUNDS {
        return Err(ImportError::Unsafe {
            format: NAME,
            reason: format!(
                "it asks for {rounds} PBKDF2 rounds, more than the {MAX_ROUNDS} run (or it is \
                 an old-form backup this password does not open)"
            ),
        });
    }
    Err(ImportError::WrongPassword(NAME))
}

/// Whether `bytes` is a JSON array of objects with a `secret`.
fn is_plain(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Vec<Value>>(bytes)
        .is_ok_and(|l| l.first().is_some_and(|e| e.get("secret").is_some()))
}

impl Importer for AndOtp {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The plain form only: an encrypted backup is random bytes, which
    /// `--format andotp` names.
    fn detect(&self, bytes: &[u8]) -> bool {
        is_plain(bytes)
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let text = match serde_json::from_slice::<Vec<Value>>(bytes) {
            Ok(list) => list,
            Err(_) if bytes.first() == Some(&b'[') => {
                return Err(malformed("the file is not a JSON array of entries"));
            }
            Err(_) => {
                let plain = decrypt(bytes, password.ok_or(ImportError::NeedsPassword(NAME))?)?;
                serde_json::from_slice(&plain)
                    .map_err(|e| malformed(format!("the decrypted entries: {e}")))?
            }
        };
        let entries: Vec<Result<Entry, Skipped>> = text.iter().map(entry).collect();
        Ok(collect(&entries))
    }
}
