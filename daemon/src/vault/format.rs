//! The vault file's layout:
//!
//! ```text
//! TESSERA-VAULT\n                     magic, 14 bytes
//! {"format":1,...}\n                  header: one line of JSON (at most 64 KiB)
//! ciphertext || tag                   body: the accounts (JSON), XChaCha20-Poly1305
//!                                     under the master key; associated data = every
//!                                     byte before it (magic + header line)
//! SHA-256                             32 bytes over everything before it
//! ```
//!
//! The header is public (`head -2 vault` shows it): format version, vault id,
//! cipher, the body's nonce and the key slots. It is authenticated as the
//! body's associated data, so a changed header fails to open. The trailing
//! checksum is not a security measure: it lets a damaged or cut-short file be
//! told apart from a wrong PIN before any key is tried.

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key as CipherKey, Tag, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::VaultError;
use super::slots::{
    ARGON2_VERSION, KEY_LEN, KdfParams, Key, NONCE_LEN, PinKdf, SALT_LEN, Slot, SlotKind, TAG_LEN,
    VAULT_ID_LEN, random_array,
};

pub(crate) const MAGIC: &[u8] = b"TESSERA-VAULT\n";
/// The format this code writes and the newest it reads. Version 2 added the
/// `tpm` slot kind (its `tpm` record); a version 1 file reads as it is and
/// is written as version 2 at its next save (nothing else changed).
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The oldest format this code reads.
pub(crate) const OLDEST_FORMAT: u32 = 1;
pub(crate) const CIPHER: &str = "xchacha20poly1305";
/// A vault larger than this is refused (10,000 accounts take about 3 MiB):
/// `tessera-files`' limit for a vault file, 64 MiB.
pub(crate) const MAX_FILE_LEN: u64 = tessera_files::Kind::Vault.limit();
pub(crate) const MAX_HEADER_LEN: usize = 64 << 10;
const CHECKSUM_LEN: usize = 32;

/// The parsed header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub vault_id: [u8; VAULT_ID_LEN],
    pub body_nonce: [u8; NONCE_LEN],
    /// At most one per kind, in the order written.
    pub slots: Vec<Slot>,
}

impl Header {
    pub fn slot(&self, kind: SlotKind) -> Option<&Slot> {
        self.slots.iter().find(|s| s.kind == kind)
    }

    pub fn kinds(&self) -> Vec<SlotKind> {
        self.slots.iter().map(|s| s.kind).collect()
    }

    /// The same vault and slots with `slot` added or replacing the one of
    /// its kind, and a fresh body nonce.
    pub fn with_slot(&self, slot: Slot) -> Header {
        let mut slots = self.slots.clone();
        match slots.iter_mut().find(|s| s.kind == slot.kind) {
            Some(old) => *old = slot,
            None => slots.push(slot),
        }
        slots.sort_by_key(|s| s.kind);
        Header {
            vault_id: self.vault_id,
            body_nonce: random_array(),
            slots,
        }
    }

    pub fn without_slot(&self, kind: SlotKind) -> Header {
        Header {
            vault_id: self.vault_id,
            body_nonce: random_array(),
            slots: self
                .slots
                .iter()
                .filter(|s| s.kind != kind)
                .cloned()
                .collect(),
        }
    }

    /// The same header with a fresh body nonce (every save uses a new one).
    pub fn renewed(&self) -> Header {
        Header {
            body_nonce: random_array(),
            ..self.clone()
        }
    }
}

/// A vault file's bytes and its parsed header.
#[derive(Clone)]
pub(crate) struct VaultFile {
    pub header: Header,
    bytes: Vec<u8>,
    /// Length of magic + header line: the body's associated data.
    prefix_len: usize,
}

impl std::fmt::Debug for VaultFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultFile")
            .field("slots", &self.header.kinds())
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl VaultFile {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encrypts `plaintext` (the body) under `master` with `header` and lays
    /// out the whole file. The plaintext buffer is encrypted in place, so no
    /// unzeroized copy of it is made.
    pub fn build(
        header: Header,
        master: &Key,
        mut plaintext: Zeroizing<Vec<u8>>,
    ) -> Result<Self, VaultError> {
        let header_json =
            serde_json::to_vec(&HeaderRecord::from_header(&header)).expect("header serializes");
        let total = MAGIC.len() + header_json.len() + 1 + plaintext.len() + TAG_LEN + CHECKSUM_LEN;
        if total as u64 > MAX_FILE_LEN {
            return Err(VaultError::InvalidAccounts(format!(
                "the vault would be {total} bytes; at most {MAX_FILE_LEN} are allowed"
            )));
        }
        let mut bytes = Vec::with_capacity(total);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&header_json);
        bytes.push(b'\n');
        let prefix_len = bytes.len();
        let tag = XChaCha20Poly1305::new(CipherKey::from_slice(&master[..]))
            .encrypt_in_place_detached(
                XNonce::from_slice(&header.body_nonce),
                &bytes,
                &mut plaintext[..],
            )
            .map_err(|_| VaultError::InvalidAccounts("the accounts are too large".into()))?;
        bytes.extend_from_slice(&plaintext);
        bytes.extend_from_slice(&tag);
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        Ok(Self {
            header,
            bytes,
            prefix_len,
        })
    }

    /// Reads the layout and the header; checks the version and the checksum.
    /// Decrypts nothing.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self, VaultError> {
        let corrupt = |reason: String| VaultError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        if bytes.is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        if !bytes.starts_with(MAGIC) {
            if MAGIC.starts_with(&bytes) {
                return Err(corrupt(format!(
                    "it is cut short ({} bytes, inside the signature)",
                    bytes.len()
                )));
            }
            return Err(VaultError::NotAVault {
                path: path.to_owned(),
                reason: "it does not start with the signature \"TESSERA-VAULT\"".into(),
            });
        }
        let rest = &bytes[MAGIC.len()..];
        let window = &rest[..rest.len().min(MAX_HEADER_LEN + 1)];
        let Some(header_len) = window.iter().position(|&b| b == b'\n') else {
            return Err(corrupt(if rest.len() > MAX_HEADER_LEN {
                format!("its header is longer than {MAX_HEADER_LEN} bytes")
            } else {
                "its header line ends early: the file was cut short".into()
            }));
        };
        let header_json = &rest[..header_len];
        let prefix_len = MAGIC.len() + header_len + 1;

        // The version first: a newer format may lay out the rest differently.
        #[derive(Deserialize)]
        struct Probe {
            format: Option<u32>,
        }
        if let Ok(Probe {
            format: Some(found),
        }) = serde_json::from_slice(header_json)
            && found > FORMAT_VERSION
        {
            return Err(VaultError::NewerVersion {
                path: path.to_owned(),
                found,
                supported: FORMAT_VERSION,
            });
        }

        if bytes.len() < prefix_len + TAG_LEN + CHECKSUM_LEN {
            return Err(corrupt(format!(
                "it is cut short: its {} bytes end before the encrypted accounts",
                bytes.len()
            )));
        }
        let (content, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if Sha256::digest(content).as_slice() != sum {
            return Err(corrupt(
                "its checksum does not match: the file was changed or damaged on disk \
                 (for example cut short)"
                    .into(),
            ));
        }

        let record: HeaderRecord = serde_json::from_slice(header_json)
            .map_err(|e| corrupt(format!("its header is not valid: {e}")))?;
        let header = record
            .into_header()
            .map_err(|reason| corrupt(format!("its header is not valid: {reason}")))?;
        Ok(Self {
            header,
            bytes,
            prefix_len,
        })
    }

    /// The body's plaintext. `master` came from a slot that opened, so a
    /// failure here means the file's contents were changed.
    pub fn decrypt_body(
        &self,
        path: &Path,
        master: &Key,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let end = self.bytes.len() - CHECKSUM_LEN;
        let (ciphertext, tag) =
            self.bytes[self.prefix_len..end].split_at(end - self.prefix_len - TAG_LEN);
        let mut plain = Zeroizing::new(ciphertext.to_vec());
        XChaCha20Poly1305::new(CipherKey::from_slice(&master[..]))
            .decrypt_in_place_detached(
                XNonce::from_slice(&self.header.body_nonce),
                &self.bytes[..self.prefix_len],
                &mut plain[..],
                Tag::from_slice(tag),
            )
            .map_err(|_| VaultError::Corrupt {
                path: path.to_owned(),
                reason: "its contents fail authentication: the key slot opened, but the header \
                         or the encrypted accounts were changed"
                    .into(),
            })?;
        Ok(plain)
    }
}

// ---- the header as JSON ----

#[derive(Serialize, Deserialize)]
struct HeaderRecord {
    format: u32,
    /// 16 bytes, hex.
    vault_id: String,
    cipher: String,
    /// 24 bytes, base64.
    body_nonce: String,
    slots: Vec<SlotRecord>,
}

#[derive(Serialize, Deserialize)]
struct SlotRecord {
    /// `pin`, `keyring` or `biometric`.
    kind: String,
    /// For `pin`, `password` and `tpm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<KdfRecord>,
    /// For `tpm` only (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tpm: Option<TpmRecord>,
    /// 24 bytes, base64.
    nonce: String,
    /// The master key under the slot's KEK, with the tag: 48 bytes, base64.
    wrapped_key: String,
}

#[derive(Serialize, Deserialize)]
struct KdfRecord {
    /// `argon2id`.
    algorithm: String,
    /// 19 (0x13).
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    /// 16 bytes, base64.
    salt: String,
}

/// What the TPM sealed: safe to store (the private part is encrypted by
/// the TPM's storage key).
#[derive(Serialize, Deserialize)]
struct TpmRecord {
    /// `TPMT_PUBLIC`, base64.
    public: String,
    /// `TPM2B_PRIVATE`'s contents, base64.
    private: String,
    /// The SHA-256 PCRs the policy binds (may be empty).
    pcrs: Vec<u32>,
    /// Their values when sealed, hex, in the order of `pcrs`.
    pcr_values: Vec<String>,
    /// The object's policy digest, hex.
    policy: String,
}

/// Larger than any TPM2B_PUBLIC or TPM2B_PRIVATE a TPM makes.
const MAX_TPM_BLOB: usize = 2048;

impl TpmRecord {
    fn from_sealed(s: &tessera_tpm::Sealed) -> Self {
        Self {
            public: B64.encode(&s.public),
            private: B64.encode(&s.private),
            pcrs: s.pcrs.numbers().iter().map(|&n| u32::from(n)).collect(),
            pcr_values: s.pcr_values.iter().map(hex::encode).collect(),
            policy: hex::encode(s.policy),
        }
    }

    fn into_sealed(self) -> Result<tessera_tpm::Sealed, String> {
        let blob = |what: &str, b64: &str| {
            B64.decode(b64)
                .ok()
                .filter(|v| !v.is_empty() && v.len() <= MAX_TPM_BLOB)
                .ok_or_else(|| {
                    format!("the TPM slot's {what} part is not base64 of 1 to {MAX_TPM_BLOB} bytes")
                })
        };
        let hash = |what: &str, h: &str| {
            hex::decode(h)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| format!("the TPM slot's {what} is not 64 hex digits"))
        };
        let pcrs = tessera_tpm::Pcrs::new(&self.pcrs)
            .map_err(|e| format!("the TPM slot's PCRs are not valid: {e}"))?;
        if self.pcr_values.len() != pcrs.numbers().len() {
            return Err("the TPM slot has not one value per PCR".into());
        }
        Ok(tessera_tpm::Sealed {
            public: blob("public", &self.public)?,
            private: blob("private", &self.private)?,
            pcr_values: self
                .pcr_values
                .iter()
                .map(|v| hash("PCR value", v))
                .collect::<Result<_, _>>()?,
            pcrs,
            policy: hash("policy digest", &self.policy)?,
        })
    }
}

impl HeaderRecord {
    fn from_header(h: &Header) -> Self {
        Self {
            format: FORMAT_VERSION,
            vault_id: hex::encode(h.vault_id),
            cipher: CIPHER.into(),
            body_nonce: B64.encode(h.body_nonce),
            slots: h
                .slots
                .iter()
                .map(|s| SlotRecord {
                    kind: s.kind.as_str().into(),
                    kdf: s.kdf.as_ref().map(|k| KdfRecord {
                        algorithm: "argon2id".into(),
                        version: ARGON2_VERSION,
                        memory_kib: k.params.memory_kib,
                        iterations: k.params.iterations,
                        parallelism: k.params.parallelism,
                        salt: B64.encode(k.salt),
                    }),
                    tpm: s.tpm.as_ref().map(TpmRecord::from_sealed),
                    nonce: B64.encode(s.nonce),
                    wrapped_key: B64.encode(s.wrapped),
                })
                .collect(),
        }
    }

    fn into_header(self) -> Result<Header, String> {
        if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&self.format) {
            return Err(format!("unknown format {}", self.format));
        }
        if self.cipher != CIPHER {
            return Err(format!("unknown cipher {:?}", self.cipher));
        }
        let vault_id = hex::decode(&self.vault_id)
            .ok()
            .and_then(|v| <[u8; VAULT_ID_LEN]>::try_from(v).ok())
            .ok_or("the vault id is not 32 hex digits")?;
        let body_nonce = fixed::<NONCE_LEN>("the body nonce", &self.body_nonce)?;
        let format = self.format;
        let mut seen = BTreeSet::new();
        let mut slots = Vec::with_capacity(self.slots.len());
        for (i, s) in self.slots.into_iter().enumerate() {
            let kind = SlotKind::from_name(&s.kind)
                .ok_or_else(|| format!("slot {i} has an unknown kind {:?}", s.kind))?;
            if !seen.insert(kind) {
                return Err(format!("there are two {kind} slots"));
            }
            let kdf = match (kind.uses_kdf(), s.kdf) {
                (true, Some(k)) => Some(k.into_kdf(kind)?),
                (true, None) => return Err(format!("the {kind} slot has no KDF parameters")),
                (false, None) => None,
                (false, Some(_)) => return Err(format!("the {kind} slot has KDF parameters")),
            };
            let tpm = match (kind == SlotKind::Tpm, s.tpm) {
                (true, _) if format < 2 => {
                    return Err("a TPM slot needs vault format 2, the file says 1".into());
                }
                (true, Some(t)) => Some(t.into_sealed()?),
                (true, None) => return Err("the TPM slot has no sealed object".into()),
                (false, None) => None,
                (false, Some(_)) => return Err(format!("the {kind} slot has a TPM object")),
            };
            slots.push(Slot {
                kind,
                kdf,
                tpm,
                nonce: fixed::<NONCE_LEN>("a slot nonce", &s.nonce)?,
                wrapped: fixed::<{ KEY_LEN + TAG_LEN }>("a wrapped key", &s.wrapped_key)?,
            });
        }
        // A backup made with a password alone has only that slot.
        if !SlotKind::OPENERS
            .iter()
            .chain(&[SlotKind::Password])
            .any(|k| seen.contains(k))
        {
            return Err("it has no PIN, TPM or keyring slot".into());
        }
        Ok(Header {
            vault_id,
            body_nonce,
            slots,
        })
    }
}

impl KdfRecord {
    fn into_kdf(self, kind: SlotKind) -> Result<PinKdf, String> {
        if self.algorithm != "argon2id" || self.version != ARGON2_VERSION {
            return Err(format!(
                "the {kind} slot uses {} version {}; only argon2id version {ARGON2_VERSION} is known",
                self.algorithm, self.version
            ));
        }
        let params = KdfParams {
            memory_kib: self.memory_kib,
            iterations: self.iterations,
            parallelism: self.parallelism,
        };
        params.validate().map_err(|e| {
            format!(
                "the {kind} slot's Argon2 parameters are out of range ({e}): the header was \
                     damaged or tampered with"
            )
        })?;
        Ok(PinKdf {
            params,
            salt: fixed::<SALT_LEN>(&format!("the {kind} slot's salt"), &self.salt)?,
        })
    }
}

fn fixed<const N: usize>(what: &str, b64: &str) -> Result<[u8; N], String> {
    B64.decode(b64)
        .ok()
        .and_then(|v| <[u8; N]>::try_from(v).ok())
        .ok_or_else(|| format!("{what} is not {N} bytes of base64"))
}
