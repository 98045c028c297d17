//! Ente Auth's encrypted export, as Ente's migration guide and its open
//! source client describe it (Ente's plain export is a list of
//! `otpauth://` links, read by `uri_list`):
//!
//! - `{"version": 1, "kdfParams": {"memLimit": bytes, "opsLimit": n,
//!   "salt": base64}, "encryptedData": base64, "encryptionNonce":
//!   base64}`;
//! - the key is libsodium's `crypto_pwhash` (Argon2id v1.3, one lane) of
//!   the password with those limits; `encryptedData` is one libsodium
//!   secretstream (XChaCha20-Poly1305) message, `encryptionNonce` its
//!   header; the plaintext is the plain export.
//!
//! The limits come from the file, so they are bounded before they are
//! obeyed. Ente's own strongest setting is 1 GiB and 4 passes. A wrong
//! password and a damaged file both fail the message's tag; the file has
//! no other check, so both read as a wrong password.

use base64::Engine;
use dryoc::classic::crypto_pwhash::{PasswordHashAlgorithm, crypto_pwhash};
use dryoc::classic::crypto_secretstream_xchacha20poly1305::{
    Header, Key, State, crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_pull,
};
use serde::Deserialize;
use tessera_core::SecretString;
use zeroize::Zeroizing;

use crate::{ImportError, Imported, Importer, UriList};

const NAME: &str = "ente";
/// The most Argon2id memory obeyed: Ente's "sensitive" limit.
const MAX_MEMORY: u64 = 1 << 30;
/// The most Argon2id passes run.
const MAX_OPS: u64 = 20;
/// Secretstream's tag and its encrypted tag byte.
const STREAM_OVERHEAD: usize = 17;

pub struct Ente;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    kdf_params: KdfParams,
    encrypted_data: String,
    encryption_nonce: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KdfParams {
    mem_limit: u64,
    ops_limit: u64,
    salt: String,
}

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

fn decrypt(file: &File, password: &SecretString) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let k = &file.kdf_params;
    if k.mem_limit > MAX_MEMORY || k.ops_limit > MAX_OPS {
        return Err(ImportError::Unsafe {
            format: NAME,
            reason: format!(
                "its Argon2id asks for {} MiB and {} passes; at most {} MiB and {MAX_OPS} passes \
                 are run",
                k.mem_limit >> 20,
                k.ops_limit,
                MAX_MEMORY >> 20
            ),
        });
    }
    let salt = b64
        .decode(&k.salt)
        .map_err(|_| malformed("its salt is not base64"))?;
    let header: Header = b64
        .decode(&file.encryption_nonce)
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| malformed("its encryptionNonce is not 24 bytes of base64"))?;
    let sealed = b64
        .decode(&file.encrypted_data)
        .map_err(|_| malformed("its encryptedData is not base64"))?;
    if sealed.len() < STREAM_OVERHEAD {
        return Err(malformed("its encryptedData is too short to be a message"));
    }
    let mut key: Zeroizing<Key> = Zeroizing::new([0u8; 32]);
    crypto_pwhash(
        &mut key[..],
        password.expose().as_bytes(),
        &salt,
        k.ops_limit,
        k.mem_limit as usize,
        PasswordHashAlgorithm::Argon2id13,
    )
    .map_err(|e| malformed(format!("its Argon2id limits are not valid: {e}")))?;
    let mut state = State::new();
    crypto_secretstream_xchacha20poly1305_init_pull(&mut state, &header, &key);
    let mut plain = Zeroizing::new(vec![0u8; sealed.len() - STREAM_OVERHEAD]);
    let mut tag = 0u8;
    crypto_secretstream_xchacha20poly1305_pull(&mut state, &mut plain, &mut tag, &sealed, None)
        .map_err(|_| ImportError::WrongPassword(NAME))?;
    Ok(plain)
}

impl Importer for Ente {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .is_ok_and(|v| v.get("kdfParams").is_some() && v.get("encryptedData").is_some())
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let password = password.ok_or(ImportError::NeedsPassword(NAME))?;
        let plain = decrypt(&file, password)?;
        UriList.read(&plain, None).map_err(|e| match e {
            ImportError::Malformed { reason, .. } => malformed(format!(
                "the decrypted export is not a list of links: {reason}"
            )),
            other => other,
        })
    }
}
