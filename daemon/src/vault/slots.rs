//! Key slots: each wraps the vault's master key under a key-encryption key
//! (KEK) with XChaCha20-Poly1305. The PIN slot derives its KEK from the PIN
//! with Argon2id; the TPM slot's KEK needs both the PIN (Argon2id, split in
//! two halves) and a secret the TPM unseals (`tpm.rs`); the other kinds get
//! a 32-byte KEK from the caller (the Secret Service for `Keyring` and
//! `Biometric`: the vault never talks to it).

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key as CipherKey, Tag, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use tessera_core::SecretBytes;
use zeroize::Zeroizing;

use super::{SecretString, VaultError};

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const SALT_LEN: usize = 16;
pub(crate) const VAULT_ID_LEN: usize = 16;
/// Argon2 version 0x13 (1.3), the only one written or read.
pub(crate) const ARGON2_VERSION: u32 = 0x13;

/// A 256-bit key that is wiped when dropped.
pub(crate) type Key = Zeroizing<[u8; KEY_LEN]>;

/// The kind of a key slot. A vault has at most one slot of each kind, and
/// always a `Pin` or a `Keyring` slot; `Biometric` is an extra way in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlotKind {
    /// KEK = Argon2id(PIN, salt), parameters stored in the slot.
    Pin,
    /// KEK kept in the Secret Service; used when protection is off.
    Keyring,
    /// KEK kept in the Secret Service, released after a biometric check.
    Biometric,
    /// KEK = Argon2id(backup password, salt): only in a backup made by
    /// `tessera backup create` (docs/backup.md), never in a live vault.
    Password,
    /// KEK = HKDF(secret the TPM unseals ‖ first half of Argon2id(PIN)); the
    /// second half is the sealed object's authValue (`tpm.rs`).
    Tpm,
}

impl SlotKind {
    pub const ALL: [SlotKind; 5] = [
        SlotKind::Pin,
        SlotKind::Keyring,
        SlotKind::Biometric,
        SlotKind::Password,
        SlotKind::Tpm,
    ];

    /// The kinds a live vault opens by without another slot: every vault has
    /// one of them (a biometric slot is only an extra way in).
    pub const OPENERS: [SlotKind; 3] = [SlotKind::Pin, SlotKind::Keyring, SlotKind::Tpm];

    /// Whether the KEK comes from a typed secret through Argon2id (the slot
    /// stores the KDF parameters), rather than from a 32-byte key.
    pub fn uses_kdf(self) -> bool {
        matches!(self, SlotKind::Pin | SlotKind::Password | SlotKind::Tpm)
    }

    /// The name in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Pin => "pin",
            SlotKind::Keyring => "keyring",
            SlotKind::Biometric => "biometric",
            SlotKind::Password => "password",
            SlotKind::Tpm => "tpm",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for SlotKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlotKind::Pin => "PIN",
            SlotKind::Keyring => "keyring",
            SlotKind::Biometric => "biometric",
            SlotKind::Password => "backup password",
            SlotKind::Tpm => "TPM",
        })
    }
}

/// Argon2id cost parameters for the PIN slot (from policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory in KiB (default 65536 = 64 MiB).
    pub memory_kib: u32,
    /// Passes over the memory (default 3).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// The settings' bounds (1 GiB, 100 passes, 64 lanes), so a vault made
    /// with any allowed setting opens, and a header changed to ask for more
    /// is refused as damaged before Argon2 runs: a crafted file can cost at
    /// most 1 GiB and 100 passes per try, never 4 GiB.
    pub const MAX_MEMORY_KIB: u32 = tessera_config::ARGON2_MAX_MEMORY_KIB;
    pub const MAX_ITERATIONS: u32 = tessera_config::ARGON2_MAX_ITERATIONS;
    pub const MAX_PARALLELISM: u32 = tessera_config::ARGON2_MAX_PARALLELISM;

    /// Checks the ranges this vault accepts, both for new slots and for slots
    /// read from a file.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=Self::MAX_PARALLELISM).contains(&self.parallelism) {
            return Err(format!(
                "parallelism must be 1 to {}, got {}",
                Self::MAX_PARALLELISM,
                self.parallelism
            ));
        }
        let min_memory = 8 * self.parallelism;
        if !(min_memory..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib) {
            return Err(format!(
                "memory must be {min_memory} to {} KiB, got {}",
                Self::MAX_MEMORY_KIB,
                self.memory_kib
            ));
        }
        if !(1..=Self::MAX_ITERATIONS).contains(&self.iterations) {
            return Err(format!(
                "iterations must be 1 to {}, got {}",
                Self::MAX_ITERATIONS,
                self.iterations
            ));
        }
        Ok(())
    }
}

/// The PIN slot's KDF: parameters and salt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PinKdf {
    pub params: KdfParams,
    pub salt: [u8; SALT_LEN],
}

impl PinKdf {
    pub fn new_random(params: KdfParams) -> Self {
        Self {
            params,
            salt: random_array(),
        }
    }

    pub fn derive(&self, pin: &SecretString) -> Result<Key, VaultError> {
        self.params.validate().map_err(VaultError::InvalidKdf)?;
        let p = &self.params;
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, Some(KEY_LEN))
            .map_err(|e| VaultError::InvalidKdf(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut kek = Key::default();
        let hashed = argon
            .hash_password_into(pin.expose().as_bytes(), &self.salt, &mut kek[..])
            .map_err(|e| VaultError::InvalidKdf(e.to_string()));
        // The KDF's memory is freed by now; keep the daemon near its idle size.
        crate::memory::give_back_freed();
        hashed?;
        Ok(kek)
    }

    /// Argon2id with 64 bytes out, in two halves: the first is mixed into
    /// the TPM slot's KEK, the second is the sealed object's authValue.
    pub fn derive_split(&self, pin: &SecretString) -> Result<(Key, Key), VaultError> {
        self.params.validate().map_err(VaultError::InvalidKdf)?;
        let p = &self.params;
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, Some(2 * KEY_LEN))
            .map_err(|e| VaultError::InvalidKdf(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut both = Zeroizing::new([0u8; 2 * KEY_LEN]);
        let hashed = argon
            .hash_password_into(pin.expose().as_bytes(), &self.salt, &mut both[..])
            .map_err(|e| VaultError::InvalidKdf(e.to_string()));
        crate::memory::give_back_freed();
        hashed?;
        let (mut mix, mut auth) = (Key::default(), Key::default());
        mix.copy_from_slice(&both[..KEY_LEN]);
        auth.copy_from_slice(&both[KEY_LEN..]);
        Ok((mix, auth))
    }
}

/// One key slot as stored (all of it is public; the wrapped key is
/// ciphertext).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub kind: SlotKind,
    /// `Some` exactly for the kinds that [`SlotKind::uses_kdf`].
    pub kdf: Option<PinKdf>,
    /// `Some` exactly for the TPM slot: what the TPM sealed.
    pub tpm: Option<tessera_tpm::Sealed>,
    pub nonce: [u8; NONCE_LEN],
    /// The master key encrypted under the KEK, with its tag (48 bytes).
    pub wrapped: [u8; KEY_LEN + TAG_LEN],
}

impl Slot {
    /// Wraps `master` under `kek` with a fresh nonce.
    pub fn wrap(
        vault_id: &[u8; VAULT_ID_LEN],
        kind: SlotKind,
        kdf: Option<PinKdf>,
        kek: &Key,
        master: &Key,
    ) -> Self {
        Self::wrap_sealed(vault_id, kind, kdf, None, kek, master)
    }

    /// [`Slot::wrap`] with what the TPM sealed (the TPM slot).
    pub fn wrap_sealed(
        vault_id: &[u8; VAULT_ID_LEN],
        kind: SlotKind,
        kdf: Option<PinKdf>,
        tpm: Option<tessera_tpm::Sealed>,
        kek: &Key,
        master: &Key,
    ) -> Self {
        let nonce: [u8; NONCE_LEN] = random_array();
        let aad = slot_aad(vault_id, kind, kdf.as_ref(), tpm.as_ref());
        let mut wrapped = [0u8; KEY_LEN + TAG_LEN];
        wrapped[..KEY_LEN].copy_from_slice(&master[..]);
        let tag = XChaCha20Poly1305::new(CipherKey::from_slice(&kek[..]))
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut wrapped[..KEY_LEN])
            // Only fails for messages longer than 256 GiB.
            .expect("32 bytes always encrypt");
        wrapped[KEY_LEN..].copy_from_slice(&tag);
        Self {
            kind,
            kdf,
            tpm,
            nonce,
            wrapped,
        }
    }

    /// The master key, or `None` if `kek` is not this slot's key (or the slot
    /// was altered).
    pub fn unwrap(&self, vault_id: &[u8; VAULT_ID_LEN], kek: &Key) -> Option<Key> {
        let aad = slot_aad(vault_id, self.kind, self.kdf.as_ref(), self.tpm.as_ref());
        let mut master = Key::default();
        master.copy_from_slice(&self.wrapped[..KEY_LEN]);
        XChaCha20Poly1305::new(CipherKey::from_slice(&kek[..]))
            .decrypt_in_place_detached(
                XNonce::from_slice(&self.nonce),
                &aad,
                &mut master[..],
                Tag::from_slice(&self.wrapped[KEY_LEN..]),
            )
            .ok()?;
        Some(master)
    }
}

/// Binds a wrapped key to its vault, its slot kind, (for the PIN, password
/// and TPM slots) its KDF parameters and salt, and (for the TPM slot) the
/// sealed object and its PCRs, so a slot cannot be moved between vaults or
/// kinds, nor weakened.
fn slot_aad(
    vault_id: &[u8; VAULT_ID_LEN],
    kind: SlotKind,
    kdf: Option<&PinKdf>,
    tpm: Option<&tessera_tpm::Sealed>,
) -> Vec<u8> {
    let mut aad = b"tessera-vault slot v1\0".to_vec();
    aad.extend_from_slice(vault_id);
    aad.extend_from_slice(kind.as_str().as_bytes());
    if let Some(kdf) = kdf {
        let p = &kdf.params;
        aad.extend_from_slice(
            format!(
                "\0argon2id v={ARGON2_VERSION} m={} t={} p={}\0",
                p.memory_kib, p.iterations, p.parallelism
            )
            .as_bytes(),
        );
        aad.extend_from_slice(&kdf.salt);
    }
    if let Some(sealed) = tpm {
        use sha2::{Digest, Sha256};
        aad.extend_from_slice(b"\0tpm\0");
        aad.extend_from_slice(&Sha256::digest(&sealed.public));
        aad.extend_from_slice(&Sha256::digest(&sealed.private));
        aad.extend_from_slice(sealed.pcrs.numbers());
        aad.extend_from_slice(&sealed.policy);
    }
    aad
}

/// A caller's slot key as a KEK: exactly 32 bytes.
pub(crate) fn kek_from_bytes(kind: SlotKind, key: &SecretBytes) -> Result<Key, VaultError> {
    if kind.uses_kdf() {
        return Err(VaultError::InvalidSlot {
            kind,
            reason: "the PIN slot is opened with a PIN, not a key",
        });
    }
    if key.len() != KEY_LEN {
        return Err(VaultError::InvalidSlot {
            kind,
            reason: "a slot key must be 32 bytes (make one with vault::new_slot_key)",
        });
    }
    let mut kek = Key::default();
    kek.copy_from_slice(key.expose());
    Ok(kek)
}

/// A fresh random 32-byte key for a keyring or biometric slot, for the
/// caller to keep in the Secret Service.
pub fn new_slot_key() -> SecretBytes {
    let key = random_key();
    SecretBytes::from(&key[..])
}

pub(crate) fn random_key() -> Key {
    let mut key = Key::default();
    OsRng.fill_bytes(&mut key[..]);
    key
}

pub(crate) fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng.fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn pin_slot_opens_only_with_its_pin_and_vault() {
        let id = random_array();
        let master = random_key();
        let kdf = PinKdf::new_random(small());
        let kek = kdf.derive(&SecretString::from("1234")).unwrap();
        let slot = Slot::wrap(&id, SlotKind::Pin, Some(kdf.clone()), &kek, &master);
        assert_eq!(*slot.unwrap(&id, &kek).unwrap(), *master);

        let wrong = kdf.derive(&SecretString::from("1235")).unwrap();
        assert!(slot.unwrap(&id, &wrong).is_none());
        assert!(
            slot.unwrap(&random_array(), &kek).is_none(),
            "bound to the vault id"
        );

        let mut moved = slot.clone();
        moved.kind = SlotKind::Keyring;
        moved.kdf = None;
        assert!(moved.unwrap(&id, &kek).is_none(), "bound to the slot kind");

        let mut weakened = slot.clone();
        weakened.kdf.as_mut().unwrap().params.iterations = 2;
        assert!(
            weakened.unwrap(&id, &kek).is_none(),
            "bound to the KDF parameters"
        );
    }

    #[test]
    fn kdf_ranges() {
        assert!(KdfParams::default().validate().is_ok());
        assert!(small().validate().is_ok());
        let bad = KdfParams {
            memory_kib: 4,
            ..small()
        };
        assert!(bad.validate().unwrap_err().contains("memory"));
        let bad = KdfParams {
            iterations: 0,
            ..small()
        };
        assert!(bad.validate().unwrap_err().contains("iterations"));
        let bad = KdfParams {
            parallelism: 0,
            ..small()
        };
        assert!(bad.validate().unwrap_err().contains("parallelism"));
    }

    #[test]
    fn slot_keys_must_be_32_bytes() {
        let short = SecretBytes::from(&[1u8; 16][..]);
        assert!(matches!(
            kek_from_bytes(SlotKind::Keyring, &short),
            Err(VaultError::InvalidSlot { .. })
        ));
        assert!(kek_from_bytes(SlotKind::Keyring, &new_slot_key()).is_ok());
        assert!(kek_from_bytes(SlotKind::Pin, &new_slot_key()).is_err());
    }
}
