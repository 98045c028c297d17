//! Envelope encryption of the key material at rest.
//!
//! - The **master key** (key-encryption key, KEK): 32 random bytes that
//!   never enter the database. It comes from a file
//!   (`--master-key-file`, `TESSERA_ISSUER_MASTER_KEY_FILE`) or the
//!   environment (`TESSERA_ISSUER_MASTER_KEY`), as base64 or 64 hex digits;
//!   `tessera-issuer master-key --out FILE` makes one.
//! - **Data keys** (DEKs): random 32-byte keys kept in the database's
//!   `data_keys` table, each wrapped by the master key (AES-256-GCM), with
//!   the master key's id beside it so a wrong master key is named as such.
//!   The newest data key seals new secrets.
//! - Each **secret** (an activation key, an instance key) is sealed under a
//!   data key with AES-256-GCM; the associated data binds it to its column,
//!   its serial and the data key, so a sealed value copied to another row
//!   or column does not open.
//!
//! Rotating the master key rewraps the data keys only (one small write);
//! a new data key re-seals every secret (both in one transaction:
//! `tessera-issuer rotate-master-key`).
//!
//! Sealed layout: `01 ‖ data key id (u32, big-endian) ‖ nonce (12) ‖
//! ciphertext ‖ tag (16)`. Wrapped data key: `01 ‖ nonce (12) ‖ ciphertext
//! ‖ tag`. Nonces are random: a data key seals a few values per activation,
//! far below the 2^32 random-nonce bound of AES-GCM.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The environment variable holding the master key itself.
pub const MASTER_KEY_ENV: &str = "TESSERA_ISSUER_MASTER_KEY";
/// The environment variable naming the master key's file.
pub const MASTER_KEY_FILE_ENV: &str = "TESSERA_ISSUER_MASTER_KEY_FILE";

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// How a database keeps its key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As bytes (a SQLite file made without a master key; mode 0600).
    Plain,
    /// Sealed under data keys wrapped by a master key.
    Envelope,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Envelope => "envelope",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Mode::Plain, Mode::Envelope]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// Which secret a sealed value is: part of its associated data.
#[derive(Clone, Copy, Debug)]
pub enum Column {
    ActivationKey,
    InstanceKey,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::ActivationKey => "activation_key",
            Column::InstanceKey => "instance_key",
        }
    }
}

/// The master key. Zeroized on drop; never printed.
pub struct Kek {
    key: Zeroizing<[u8; 32]>,
    id: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({})", self.id)
    }
}

impl Kek {
    /// A new random master key.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut key[..]);
        Self::from_bytes(key)
    }

    fn from_bytes(key: Zeroizing<[u8; 32]>) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"tessera-issuer/master-key-id\0");
        hash.update(&key[..]);
        let id = hex::encode(&hash.finalize()[..8]);
        Self { key, id }
    }

    /// Reads the key's text form: base64 of 32 bytes, or 64 hex digits.
    /// `source` names where it came from, for the error.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let text = text.trim();
        let mut key = Zeroizing::new([0u8; 32]);
        let ok = if text.len() == 64 {
            hex::decode_to_slice(text, &mut key[..]).is_ok()
        } else {
            let decoded = Zeroizing::new(STANDARD.decode(text).unwrap_or_default());
            if decoded.len() == 32 {
                key.copy_from_slice(&decoded);
                true
            } else {
                false
            }
        };
        if !ok {
            return Err(Error::input(format!(
                "{source}: a master key is 32 bytes in base64 (44 characters) or 64 hex digits \
                 (`tessera-issuer master-key --out FILE` makes one)"
            )));
        }
        Ok(Self::from_bytes(key))
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?);
        Self::parse(&text, &path.display().to_string())
    }

    /// The master key from `file`, else from the environment; `None` when
    /// neither gives one.
    pub fn from_file_or_env(file: Option<&Path>) -> Result<Option<Self>> {
        if let Some(path) = file {
            return Self::from_file(path).map(Some);
        }
        if let Some(path) = std::env::var_os(MASTER_KEY_FILE_ENV) {
            return Self::from_file(Path::new(&path)).map(Some);
        }
        match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => Self::parse(&Zeroizing::new(text), MASTER_KEY_ENV).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The key's text form (base64), for `master-key --out`.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(&self.key[..]))
    }

    /// A short public id: a hash of the key, stored beside what it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&self.key[..]).expect("32-byte key")
    }

    /// Wraps data key `id`.
    pub fn wrap(&self, id: u32, dek: &[u8; 32]) -> Vec<u8> {
        seal_with(&self.cipher(), &wrap_aad(id), dek, &[VERSION])
    }

    fn unwrap(&self, id: u32, wrapped: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let body = wrapped.strip_prefix(&[VERSION])?;
        let plain = open_with(&self.cipher(), &wrap_aad(id), body)?;
        let mut key = Zeroizing::new([0u8; 32]);
        (plain.len() == 32).then(|| key.copy_from_slice(&plain))?;
        Some(key)
    }
}

fn wrap_aad(id: u32) -> Vec<u8> {
    let mut aad = b"tessera-issuer/data-key/v1\0".to_vec();
    aad.extend_from_slice(&id.to_be_bytes());
    aad
}

fn secret_aad(column: Column, serial: &str, dek_id: u32) -> Vec<u8> {
    let mut aad = b"tessera-issuer/secret/v1\0".to_vec();
    aad.extend_from_slice(column.name().as_bytes());
    aad.push(0);
    aad.extend_from_slice(serial.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&dek_id.to_be_bytes());
    aad
}

/// `prefix ‖ nonce ‖ AES-256-GCM(plain)`.
fn seal_with(cipher: &Aes256Gcm, aad: &[u8], plain: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .expect("AES-GCM encryption of a short value cannot fail");
    let mut out = Vec::with_capacity(prefix.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open_with(cipher: &Aes256Gcm, aad: &[u8], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if body.len() < NONCE_LEN + 16 {
        return None;
    }
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
        .ok()
        .map(Zeroizing::new)
}

/// A database's keys for its key material, as loaded when it is opened.
#[derive(Clone)]
pub struct Keys {
    mode: Mode,
    /// Data keys by id; the last is the newest.
    deks: Vec<(u32, DataKey)>,
    place: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u32> = self.deks.iter().map(|(id, _)| *id).collect();
        write!(f, "Keys({}, data keys {ids:?})", self.mode.as_str())
    }
}

/// One data key: its bytes (to wrap again at a rotation) and its cipher.
#[derive(Clone)]
struct DataKey {
    bytes: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
}

impl DataKey {
    fn new(bytes: Zeroizing<[u8; 32]>) -> Self {
        let cipher = Aes256Gcm::new_from_slice(&bytes[..]).expect("32-byte key");
        Self { bytes, cipher }
    }
}

impl Keys {
    /// No encryption: secrets are stored as bytes.
    pub fn plain(place: &str) -> Self {
        Self {
            mode: Mode::Plain,
            deks: Vec::new(),
            place: place.to_owned(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Unwraps the stored data keys with the master key.
    pub fn load(place: &str, kek: &Kek, wrapped: &[(u32, String, Vec<u8>)]) -> Result<Self> {
        let mut deks = Vec::with_capacity(wrapped.len());
        for (id, kek_id, bytes) in wrapped {
            if kek_id != kek.id() {
                return Err(Error::input(format!(
                    "database {place}: its data key {id} is wrapped by master key {kek_id}, \
                     not by the one given ({}); give that master key \
                     (`tessera-issuer rotate-master-key` changes it)",
                    kek.id()
                )));
            }
            let key = kek.unwrap(*id, bytes).ok_or_else(|| {
                Error::store_data(format!(
                    "database {place}: data key {id} does not open under master key {kek_id}: \
                     the stored data key is damaged"
                ))
            })?;
            deks.push((*id, DataKey::new(key)));
        }
        deks.sort_by_key(|(id, _)| *id);
        if deks.is_empty() {
            return Err(Error::store_data(format!(
                "database {place}: it keeps sealed keys but has no data key"
            )));
        }
        Ok(Self {
            mode: Mode::Envelope,
            deks,
            place: place.to_owned(),
        })
    }

    /// A new data key with the next id: its wrapped form to store, and
    /// `self` now sealing with it.
    pub fn add_data_key(&mut self, kek: &Kek) -> (u32, Vec<u8>) {
        let id = self.deks.last().map_or(1, |(id, _)| id + 1);
        let mut dek = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut dek[..]);
        let wrapped = kek.wrap(id, &dek);
        self.deks.push((id, DataKey::new(dek)));
        self.mode = Mode::Envelope;
        (id, wrapped)
    }

    /// Every data key wrapped by `kek` (a master key rotation).
    pub fn rewrap(&self, kek: &Kek) -> Vec<(u32, Vec<u8>)> {
        self.deks
            .iter()
            .map(|(id, key)| (*id, kek.wrap(*id, &key.bytes)))
            .collect()
    }

    pub fn data_key_count(&self) -> usize {
        self.deks.len()
    }

    /// The form of a secret to store.
    pub fn seal(&self, column: Column, serial: &str, plain: &[u8]) -> Vec<u8> {
        match (self.mode, self.deks.last()) {
            (Mode::Envelope, Some((id, key))) => {
                let mut prefix = vec![VERSION];
                prefix.extend_from_slice(&id.to_be_bytes());
                seal_with(
                    &key.cipher,
                    &secret_aad(column, serial, *id),
                    plain,
                    &prefix,
                )
            }
            _ => plain.to_vec(),
        }
    }

    /// A stored secret, opened.
    pub fn open(&self, column: Column, serial: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if self.mode == Mode::Plain {
            return Ok(Zeroizing::new(stored.to_vec()));
        }
        let damaged = || {
            Error::store_data(format!(
                "database {}: the sealed {} of {serial:?} does not open (damaged, or moved \
                 from another row)",
                self.place,
                column.name()
            ))
        };
        let [VERSION, a, b, c, d, body @ ..] = stored else {
            return Err(damaged());
        };
        let id = u32::from_be_bytes([*a, *b, *c, *d]);
        let (_, key) = self
            .deks
            .iter()
            .find(|(k, _)| *k == id)
            .ok_or_else(damaged)?;
        open_with(&key.cipher, &secret_aad(column, serial, id), body).ok_or_else(damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> (Kek, Keys) {
        let kek = Kek::generate();
        let mut keys = Keys::plain("test");
        keys.add_data_key(&kek);
        (kek, keys)
    }

    #[test]
    fn a_sealed_secret_opens_only_in_its_own_row_and_column() {
        let (_, keys) = envelope();
        let sealed = keys.seal(Column::InstanceKey, "ABCDEFGHJK", b"twenty bytes of key!");
        assert_ne!(&sealed[..], b"twenty bytes of key!");
        assert_eq!(
            &keys
                .open(Column::InstanceKey, "ABCDEFGHJK", &sealed)
                .unwrap()[..],
            b"twenty bytes of key!"
        );
        let moved = keys
            .open(Column::InstanceKey, "ZZZZZZZZZZ", &sealed)
            .unwrap_err();
        assert!(moved.to_string().contains("does not open"), "{moved}");
        assert!(
            keys.open(Column::ActivationKey, "ABCDEFGHJK", &sealed)
                .is_err()
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(
            keys.open(Column::InstanceKey, "ABCDEFGHJK", &flipped)
                .is_err()
        );
    }

    #[test]
    fn data_keys_unwrap_only_under_their_master_key() {
        let kek = Kek::generate();
        let mut keys = Keys::plain("test");
        let (id, wrapped) = keys.add_data_key(&kek);
        let sealed = keys.seal(Column::ActivationKey, "ABCDEFGHJK", &[7; 16]);
        let stored = vec![(id, kek.id().to_owned(), wrapped.clone())];
        let again = Keys::load("test", &kek, &stored).unwrap();
        assert_eq!(
            &again
                .open(Column::ActivationKey, "ABCDEFGHJK", &sealed)
                .unwrap()[..],
            &[7; 16]
        );
        let other = Kek::generate();
        let err = Keys::load("test", &other, &stored).unwrap_err().to_string();
        assert!(err.contains("wrapped by master key"), "{err}");
        // The right id but damaged bytes: named as damage, not a wrong key.
        let mut damaged = wrapped;
        damaged[5] ^= 1;
        let err = Keys::load("test", &kek, &[(id, kek.id().to_owned(), damaged)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn master_keys_read_as_base64_or_hex_and_never_print() {
        let kek = Kek::generate();
        let again = Kek::parse(&kek.to_text(), "test").unwrap();
        assert_eq!(kek.id(), again.id());
        let hex_form = hex::encode(&kek.key[..]);
        assert_eq!(Kek::parse(&hex_form, "test").unwrap().id(), kek.id());
        assert!(!format!("{kek:?}").contains(&*kek.to_text()));
        let err = Kek::parse("c2hvcnQ=", "KEYFILE").unwrap_err().to_string();
        assert!(
            err.starts_with("KEYFILE: a master key is 32 bytes"),
            "{err}"
        );
    }
}
