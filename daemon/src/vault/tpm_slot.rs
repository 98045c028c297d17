//! The TPM slot (docs/security.md, "The TPM slot"): the PIN goes through
//! Argon2id into two halves; the second is the authValue of a 32-byte
//! secret the TPM seals (`tessera-tpm`), the first is mixed with that
//! secret into the key that wraps the master key:
//!
//! ```text
//! mix ‖ auth = Argon2id(PIN, salt), 64 bytes
//! S          = TPM2_Unseal(object, PolicyPCR(pcrs) + PolicyAuthValue(auth))
//! KEK        = HKDF-SHA256(ikm = S ‖ mix, salt = vault id, info = "tessera/tpm-slot/v1")
//! ```
//!
//! So the TPM alone (without the PIN) cannot open the vault, nor the PIN
//! alone (without this TPM, its PCRs and its dictionary-attack counter).

use hkdf::Hkdf;
use sha2::Sha256;
use tessera_tpm::{Pcrs, Secret, Tpm, TpmError};
use zeroize::Zeroizing;

use super::slots::{KEY_LEN, KdfParams, Key, PinKdf, Slot, SlotKind, VAULT_ID_LEN, random_key};
use super::{SecretString, VaultError};

const KEK_INFO: &[u8] = b"tessera/tpm-slot/v1";

/// How a vault is bound to the TPM: the PCRs of its policy, and whether the
/// PIN slot stays beside the TPM slot (`vault.protection = "tpm+pin"`: the
/// way back when the PCRs change or the TPM is gone; without it, `"tpm"`, a
/// copied vault file cannot be attacked offline at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpmBinding {
    pub pcrs: Pcrs,
    pub keep_pin_slot: bool,
}

/// A new TPM slot wrapping `master`: a fresh secret sealed under the PIN's
/// authValue and `pcrs`.
pub(crate) fn seal(
    tpm: &Tpm,
    vault_id: &[u8; VAULT_ID_LEN],
    pin: &SecretString,
    kdf: KdfParams,
    pcrs: &Pcrs,
    master: &Key,
) -> Result<Slot, VaultError> {
    kdf.validate().map_err(VaultError::InvalidKdf)?;
    let pin_kdf = PinKdf::new_random(kdf);
    let (mix, auth) = pin_kdf.derive_split(pin)?;
    let secret: Secret = Zeroizing::new(*random_key());
    let sealed = tpm
        .seal(&secret, &Zeroizing::new(*auth), pcrs)
        .map_err(|error| VaultError::TpmSeal { error })?;
    let kek = kek(vault_id, &secret, &mix);
    Ok(Slot::wrap_sealed(
        vault_id,
        SlotKind::Tpm,
        Some(pin_kdf),
        Some(sealed),
        &kek,
        master,
    ))
}

/// Why the TPM slot did not give the master key.
pub(crate) enum OpenError {
    /// The TPM refused the authValue: the PIN is wrong (and the TPM counted it).
    WrongPin(TpmError),
    /// The TPM cannot answer for another reason: not the PIN's fault.
    Tpm(TpmError),
    /// The slot's key did not open it though the TPM unsealed: damaged.
    Slot(VaultError),
}

/// The master key from the TPM slot with `pin`.
pub(crate) fn open(
    tpm: &Tpm,
    vault_id: &[u8; VAULT_ID_LEN],
    slot: &Slot,
    pin: &SecretString,
) -> Result<Key, OpenError> {
    let kdf = slot.kdf.as_ref().expect("a TPM slot has a KDF");
    let sealed = slot.tpm.as_ref().expect("a TPM slot has a sealed object");
    let (mix, auth) = kdf.derive_split(pin).map_err(OpenError::Slot)?;
    let secret = tpm
        .unseal(sealed, &Zeroizing::new(*auth))
        .map_err(|e| match e {
            TpmError::WrongAuth { .. } => OpenError::WrongPin(e),
            other => OpenError::Tpm(other),
        })?;
    let kek = kek(vault_id, &secret, &mix);
    slot.unwrap(vault_id, &kek)
        .ok_or(OpenError::Slot(VaultError::InvalidSlot {
            kind: SlotKind::Tpm,
            reason: "the TPM unsealed its secret but the TPM slot does not open with it: the \
                     slot was altered",
        }))
}

fn kek(vault_id: &[u8; VAULT_ID_LEN], secret: &Secret, mix: &Key) -> Key {
    let mut ikm = Zeroizing::new([0u8; 2 * KEY_LEN]);
    ikm[..KEY_LEN].copy_from_slice(&secret[..]);
    ikm[KEY_LEN..].copy_from_slice(&mix[..]);
    let mut out = Key::default();
    Hkdf::<Sha256>::new(Some(vault_id), &ikm[..])
        .expand(KEK_INFO, &mut out[..])
        .expect("32 bytes is a valid HKDF length");
    out
}

/// The way back a TPM failure's message names: the PIN slot when there is
/// one, else a backup made with a password.
pub(crate) fn way_back(error: &TpmError, has_pin_slot: bool) -> String {
    let fix = if matches!(error, TpmError::PcrChanged { .. }) {
        "If the change was yours (a firmware or Secure Boot update), seal the slot again \
         after opening the vault: `tessera tpm enroll`. "
    } else {
        ""
    };
    if has_pin_slot {
        format!("{fix}The vault's PIN slot still opens it with the same PIN.")
    } else {
        format!(
            "{fix}This vault has no PIN slot (vault.protection = \"tpm\"): restore a backup made \
             with a password (`tessera backup restore FILE`) if the TPM cannot open it again."
        )
    }
}
