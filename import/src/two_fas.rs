//! 2FAS Authenticator's backup (`*.2fas`), plain or encrypted, as Aegis's
//! `TwoFASImporter` reads it (schema versions 1 to 4):
//!
//! - `{"services": [...], "schemaVersion": 4, ...}`; each service has
//!   `name` (the service), `secret` (base32) and `otp` {`account`,
//!   `issuer`, `digits`, `period`, `algorithm`, `counter`, `tokenType`:
//!   TOTP | HOTP | STEAM};
//! - encrypted: `services` is empty and `servicesEncrypted` is
//!   `base64(ciphertext ‖ tag):base64(salt):base64(iv)`, AES-256-GCM under
//!   PBKDF2-HMAC-SHA256(password, salt, 10,000 rounds); the plaintext is
//!   the `services` array. The file has no separate password check, so a
//!   damaged ciphertext reads as a wrong password.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use tessera_core::SecretString;

use crate::crypto::{aes_gcm_open, pbkdf2_sha256};
use crate::{
    AsRaw, ImportError, Imported, Importer, RawEntry, RawSecret, Skipped, collect, json_entry,
};

const NAME: &str = "2fas";
/// 2FAS's fixed PBKDF2 rounds.
const ROUNDS: u32 = 10_000;

pub struct TwoFas;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(default)]
    services: Vec<Value>,
    schema_version: u32,
    services_encrypted: Option<String>,
}

#[derive(Deserialize)]
struct Service {
    #[serde(default)]
    name: String,
    secret: String,
    #[serde(default)]
    otp: Otp,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Otp {
    account: Option<String>,
    label: Option<String>,
    issuer: Option<String>,
    digits: Option<u32>,
    period: Option<u32>,
    algorithm: Option<String>,
    counter: Option<u64>,
    token_type: Option<String>,
}

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

fn service(value: &Value) -> Result<Service, Skipped> {
    json_entry(value, "/name", "/otp/account", "a service")
}

impl AsRaw for Service {
    fn raw(&self) -> RawEntry<'_> {
        let o = &self.otp;
        let issuer = o
            .issuer
            .as_deref()
            .filter(|i| !i.is_empty())
            .or(Some(self.name.as_str()));
        RawEntry {
            issuer,
            name: o
                .account
                .as_deref()
                .or(o.label.as_deref())
                .unwrap_or_default(),
            kind: o.token_type.as_deref().unwrap_or("TOTP"),
            algorithm: o.algorithm.as_deref(),
            digits: o.digits,
            period: o.period,
            counter: o.counter,
            secret: RawSecret::Base32(&self.secret),
            pin: None,
        }
    }
}

/// The `services` array of an encrypted file.
fn decrypt(sealed: &str, password: &SecretString) -> Result<Vec<Value>, ImportError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let parts: Vec<&str> = sealed.split(':').collect();
    let [body, salt, iv] = parts[..] else {
        return Err(malformed(
            "servicesEncrypted is not three base64 parts (data:salt:iv)",
        ));
    };
    let decode = |what: &str, text: &str| {
        b64.decode(text)
            .map_err(|_| malformed(format!("servicesEncrypted's {what} is not base64")))
    };
    let (body, salt, iv) = (
        decode("data", body)?,
        decode("salt", salt)?,
        decode("iv", iv)?,
    );
    let iv: [u8; 12] = iv
        .try_into()
        .map_err(|_| malformed("servicesEncrypted's iv is not 12 bytes"))?;
    let key = pbkdf2_sha256(password.expose().as_bytes(), &salt, ROUNDS);
    let plain = aes_gcm_open(&key, &iv, &body, &[]).ok_or(ImportError::WrongPassword(NAME))?;
    serde_json::from_slice(&plain).map_err(|e| malformed(format!("the decrypted services: {e}")))
}

impl Importer for TwoFas {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        serde_json::from_slice::<Value>(bytes).is_ok_and(|v| {
            v.get("schemaVersion").is_some()
                && (v.get("services").is_some() || v.get("servicesEncrypted").is_some())
        })
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        if !(1..=4).contains(&file.schema_version) {
            return Err(malformed(format!(
                "schema version {} is not known (1 to 4 are)",
                file.schema_version
            )));
        }
        let services = match file.services_encrypted {
            Some(sealed) if file.services.is_empty() => {
                decrypt(&sealed, password.ok_or(ImportError::NeedsPassword(NAME))?)?
            }
            _ => file.services,
        };
        let services: Vec<Result<Service, Skipped>> = services.iter().map(service).collect();
        Ok(collect(&services))
    }
}
