//! Proton Authenticator's export, plain or encrypted, as its open source
//! (`proton-authenticator`, `password_exporter.rs` and `crypto.rs`)
//! describes it:
//!
//! - plain: `{"version": 1, "entries": [{"id", "content": {"uri",
//!   "entry_type": Totp | Steam, "name"}, "note"}]}`, each `uri` an
//!   `otpauth://` link;
//! - encrypted: `{"version": 1, "salt": base64 (16 bytes), "content":
//!   base64(nonce (12) ‖ ciphertext ‖ tag)}`, AES-256-GCM with the
//!   associated data `proton.authenticator.export.v1` under Argon2id
//!   (v1.3, 19,456 KiB, 2 passes, 1 lane) of the password; the plaintext
//!   is the plain form. Its cost is fixed, so there is nothing to bound.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use tessera_core::SecretString;
use zeroize::Zeroizing;

use crate::crypto::aes_gcm_open;
use crate::{ImportError, Imported, Importer, uri_accounts};

const NAME: &str = "proton";
const AAD: &[u8] = b"proton.authenticator.export.v1";

pub struct Proton;

#[derive(Deserialize)]
struct Plain {
    version: u32,
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    content: Content,
}

#[derive(Deserialize)]
struct Content {
    uri: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Encrypted {
    salt: String,
    content: String,
}

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

fn decrypt(file: &Encrypted, password: &SecretString) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let salt = b64
        .decode(&file.salt)
        .map_err(|_| malformed("salt is not base64"))?;
    let content = b64
        .decode(&file.content)
        .map_err(|_| malformed("content is not base64"))?;
    if content.len() < 12 + 16 {
        return Err(malformed("content is too short to be encrypted data"));
    }
    let params =
        argon2::Params::new(19_456, 2, 1, Some(32)).expect("Proton's parameters are valid");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.expose().as_bytes(), &salt, &mut key[..])
        .map_err(|e| malformed(format!("the salt: {e}")))?;
    let nonce: [u8; 12] = content[..12].try_into().expect("12 bytes");
    aes_gcm_open(&key, &nonce, &content[12..], AAD).ok_or(ImportError::WrongPassword(NAME))
}

impl Importer for Proton {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        serde_json::from_slice::<Value>(bytes).is_ok_and(|v| {
            v.get("version").is_some()
                && (v.pointer("/entries/0/content/uri").is_some()
                    || v.get("entries")
                        .is_some_and(|e| e.as_array().is_some_and(Vec::is_empty))
                    || (v.get("salt").is_some() && v.get("content").is_some()))
        })
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let plain: Plain = if value.get("salt").is_some() {
            let file: Encrypted =
                serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
            let text = decrypt(&file, password.ok_or(ImportError::NeedsPassword(NAME))?)?;
            serde_json::from_slice(&text)
                .map_err(|e| malformed(format!("the decrypted export: {e}")))?
        } else {
            serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?
        };
        if plain.version != 1 {
            return Err(malformed(format!(
                "version {} is not known (1 is)",
                plain.version
            )));
        }
        let mut out = Imported::default();
        for (i, e) in plain.entries.iter().enumerate() {
            let name = || {
                if e.content.name.trim().is_empty() {
                    format!("entry {}", i + 1)
                } else {
                    e.content.name.clone()
                }
            };
            match uri_accounts(&name, &e.content.uri) {
                Ok(accounts) => out.accounts.extend(accounts),
                Err(skipped) => out.skipped.push(skipped),
            }
        }
        Ok(out)
    }
}
