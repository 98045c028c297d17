//! The encrypted vault: one file per user, `<data dir>/vault`, holding the
//! accounts.
//!
//! - A random 256-bit master key encrypts the accounts with
//!   XChaCha20-Poly1305; the file's header (format, vault id, slots, KDF
//!   parameters, body nonce) is the body's associated data, so it is
//!   authenticated too. Layout: `format.rs`.
//! - Key slots wrap the master key (`slots.rs`): a PIN slot (Argon2id), a
//!   keyring slot (no protection) and a biometric slot; the KEKs of the last
//!   two come from the caller (the Secret Service), never from here.
//! - Saves are atomic (temp file, fsync, rename, fsync the folder) and a
//!   failed save changes nothing, on disk or in memory (`store.rs`).
//! - Wrong PINs are counted in `<data dir>/pin-attempts`, delays grow after
//!   five (`attempts.rs`, which documents the delays).
//! - One daemon per vault: `<data dir>/vault.lock` is held with `flock`.
//! - Files are 0600, the folder 0700. A damaged or foreign file is reported
//!   with its path and what is wrong, and never written over.
//!
//! The API is synchronous; Argon2 takes a noticeable time (64 MiB), so the
//! daemon calls it from `spawn_blocking`.

mod attempts;
pub mod backups;
mod body;
mod error;
mod format;
mod slots;
mod store;
mod tpm_slot;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tessera_core::SecretBytes;

use crate::account::Account;

pub use attempts::{PinDelayPolicy, PinStatus};
pub use backups::BackupPolicy;
use backups::Backups;
pub use error::VaultError;
pub use slots::{KdfParams, SlotKind, new_slot_key};
/// PINs are `tessera_core::SecretString`: zeroized on drop, `Debug` redacted.
pub use tessera_core::SecretString;
pub use tpm_slot::TpmBinding;

use attempts::Attempts;
use format::{Header, VaultFile};
use slots::{Key, PinKdf, Slot};

/// The vault file's name in the data folder.
pub const VAULT_FILE: &str = "vault";
/// The wrong-PIN counter's file name.
pub const PIN_ATTEMPTS_FILE: &str = "pin-attempts";
/// The lock file's name (holds the owning daemon's pid).
pub const LOCK_FILE: &str = "vault.lock";

/// What it takes to open the vault, from its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// A PIN (biometrics may be an extra way in).
    Pin,
    /// Nothing the user types: a keyring slot exists (protection is off).
    /// Reported whenever a keyring slot exists, even beside a PIN slot,
    /// since the weakest slot decides.
    Keyring,
}

/// The open vault: the master key and the accounts, wiped on lock and drop.
struct Unlocked {
    master: Key,
    accounts: Vec<Account>,
}

/// The user's vault. Owns the folder's lock for its whole life; holds the
/// master key and the accounts while unlocked.
pub struct Vault {
    dir: PathBuf,
    path: PathBuf,
    attempts_path: PathBuf,
    _lock: store::DirLock,
    file: Option<VaultFile>,
    unlocked: Option<Unlocked>,
    policy: PinDelayPolicy,
    attempts: Attempts,
    /// Why the last PIN check could not write the counter file, if so.
    counter_warning: Option<String>,
    /// The id a vault created by this value gets, known beforehand so that
    /// a slot key can be stored under it before the file is written.
    next_id: [u8; slots::VAULT_ID_LEN],
    /// Automatic backups: where, and the writer (started with the first).
    backup: Option<BackupPolicy>,
    backups: Option<Backups>,
    /// Where the automatic copies are, also while they are off (copies made
    /// before may be there): named when the vault turns out damaged.
    backup_folder: Option<PathBuf>,
    /// The TPM the TPM slot is sealed to (`tpm.tcti`); `None` until set.
    tpm: Option<tessera_tpm::Tpm>,
    /// Why the TPM slot did not open at the last PIN check that the PIN
    /// slot then answered (shown by `tessera status` until it opens again).
    tpm_warning: Option<String>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("exists", &self.exists())
            .field("slots", &self.slots())
            .field("unlocked", &self.is_unlocked())
            .field(
                "accounts",
                &self.unlocked.as_ref().map(|u| u.accounts.len()),
            )
            .field("failed_pin_attempts", &self.attempts.failed)
            .finish_non_exhaustive()
    }
}

/// A copy of a vault file (an automatic backup or one `tessera backup
/// create` wrote), opened.
pub struct OpenedCopy {
    file: VaultFile,
    master: Key,
    pub accounts: Vec<Account>,
}

/// Opens a copy of a vault file (`name` for messages) with `secret`: the
/// PIN it was made with, or the password it was made with. Touches no
/// vault and no PIN counter: whoever holds the file can try secrets
/// offline anyway. The header's KDF parameters are bounded when it is
/// parsed, so a file cannot ask for more Argon2 memory than this product
/// ever writes.
pub fn read_copy(
    name: &Path,
    bytes: Vec<u8>,
    secret: &SecretString,
) -> Result<OpenedCopy, VaultError> {
    let file = VaultFile::parse(name, bytes)?;
    let mut tried = false;
    let mut master = None;
    for kind in [SlotKind::Pin, SlotKind::Password] {
        let Some(slot) = file.header.slot(kind) else {
            continue;
        };
        tried = true;
        let kdf = slot.kdf.as_ref().expect("a PIN or password slot has a KDF");
        if let Some(m) = slot.unwrap(&file.header.vault_id, &kdf.derive(secret)?) {
            master = Some(m);
            break;
        }
    }
    if !tried {
        return Err(VaultError::CopyWithoutPin {
            path: name.to_owned(),
        });
    }
    let master = master.ok_or_else(|| VaultError::CopyWrongPin {
        path: name.to_owned(),
    })?;
    let plain = file.decrypt_body(name, &master)?;
    let accounts = body::decode(name, &plain)?;
    Ok(OpenedCopy {
        file,
        master,
        accounts,
    })
}

impl Vault {
    /// Opens the vault folder `dir` (creating it 0700 if missing), takes its
    /// lock, and reads the vault file's header if there is one. Decrypts
    /// nothing.
    ///
    /// Errors: `Busy` if another process holds the folder; `NotAVault`,
    /// `Corrupt`, `NewerVersion` for a file that cannot be used (left as it
    /// is); `Unsafe` for a folder or file owned by someone else; `Io`.
    pub fn open(dir: &Path) -> Result<Vault, VaultError> {
        store::ensure_dir(dir)?;
        let lock = store::DirLock::acquire(dir, &dir.join(LOCK_FILE))?;
        let path = dir.join(VAULT_FILE);
        let attempts_path = dir.join(PIN_ATTEMPTS_FILE);
        store::remove_stale_temp(&path);
        store::remove_stale_temp(&attempts_path);

        let file = match store::read_capped(&path, tessera_files::Kind::Vault)? {
            store::Contents::Missing => None,
            store::Contents::TooLarge(len) => {
                return Err(VaultError::Corrupt {
                    path,
                    reason: format!(
                        "it is {len} bytes, larger than a vault can be ({} bytes)",
                        format::MAX_FILE_LEN
                    ),
                });
            }
            store::Contents::Bytes(bytes) => Some(VaultFile::parse(&path, bytes)?),
        };
        let policy = PinDelayPolicy::default();
        let attempts = Attempts::load(&attempts_path, policy.free_attempts)?;
        tracing::debug!(path = %path.display(), exists = file.is_some(), "vault opened");
        Ok(Vault {
            dir: dir.to_owned(),
            path,
            attempts_path,
            _lock: lock,
            file,
            unlocked: None,
            policy,
            attempts,
            counter_warning: None,
            next_id: slots::random_array(),
            backup: None,
            backups: None,
            backup_folder: None,
            tpm: None,
            tpm_warning: None,
        })
    }

    /// The vault file's path (it may not exist yet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The vault's id (32 hex digits), as the Secret Service items of its
    /// keyring and biometric slots name it. `None` when there is no vault.
    pub fn id(&self) -> Option<String> {
        Some(hex::encode(self.file.as_ref()?.header.vault_id))
    }

    /// The id the vault will have once created with
    /// [`Vault::create_with_slot_key`] or [`Vault::create_with_pin`]: a slot
    /// key can be stored under it first.
    pub fn next_id(&self) -> String {
        hex::encode(self.next_id)
    }

    pub fn exists(&self) -> bool {
        self.file.is_some()
    }

    pub fn is_unlocked(&self) -> bool {
        self.unlocked.is_some()
    }

    /// The slot kinds the vault has (empty when there is no vault).
    pub fn slots(&self) -> Vec<SlotKind> {
        self.file
            .as_ref()
            .map(|f| f.header.kinds())
            .unwrap_or_default()
    }

    /// Whether a PIN opens the vault: a PIN slot, or a TPM slot (the PIN
    /// through the TPM).
    pub fn has_pin(&self) -> bool {
        let slots = self.slots();
        slots.contains(&SlotKind::Pin) || slots.contains(&SlotKind::Tpm)
    }

    /// `None` when there is no vault.
    pub fn protection(&self) -> Option<Protection> {
        let header = &self.file.as_ref()?.header;
        if header.slot(SlotKind::Keyring).is_some() {
            Some(Protection::Keyring)
        } else {
            Some(Protection::Pin)
        }
    }

    pub fn set_pin_delay_policy(&mut self, policy: PinDelayPolicy) {
        self.policy = policy;
    }

    /// Where automatic copies are looked for when the vault turns out
    /// damaged at unlock ([`VaultError::BodyDamaged`]).
    pub fn set_backup_folder(&mut self, folder: Option<PathBuf>) {
        self.backup_folder = folder;
    }

    /// Turns automatic backups on (after every save, a copy of the file to
    /// `policy.folder`: vault/backups.rs) or off.
    pub fn set_backup_policy(&mut self, policy: Option<BackupPolicy>) {
        if policy.is_some() && self.backups.is_none() {
            self.backups = Some(Backups::start());
        }
        self.backup = policy;
    }

    /// Waits until the automatic backups queued so far are written.
    pub fn flush_backups(&self) {
        if let Some(backups) = &self.backups {
            backups.flush();
        }
    }

    /// The TPM a TPM slot is sealed to and opened by.
    pub fn set_tpm(&mut self, tpm: Option<tessera_tpm::Tpm>) {
        self.tpm = tpm;
    }

    pub fn tpm(&self) -> Option<&tessera_tpm::Tpm> {
        self.tpm.as_ref()
    }

    /// What the TPM sealed for this vault's TPM slot, if it has one.
    pub fn tpm_sealed(&self) -> Option<&tessera_tpm::Sealed> {
        self.file.as_ref()?.header.slot(SlotKind::Tpm)?.tpm.as_ref()
    }

    /// Why the TPM slot did not open the last time the PIN slot did instead.
    pub fn tpm_warning(&self) -> Option<&str> {
        self.tpm_warning.as_deref()
    }

    pub fn pin_delay_policy(&self) -> PinDelayPolicy {
        self.policy
    }

    pub fn pin_status(&self, now: SystemTime) -> PinStatus {
        PinStatus {
            counter_warning: self.counter_warning.clone(),
            ..self.attempts.status(&self.policy, now)
        }
    }

    /// Creates the vault with a PIN slot and leaves it unlocked. Resets the
    /// wrong-PIN counter.
    pub fn create_with_pin(
        &mut self,
        pin: &SecretString,
        kdf: KdfParams,
        accounts: Vec<Account>,
    ) -> Result<(), VaultError> {
        self.refuse_if_exists()?;
        kdf.validate().map_err(VaultError::InvalidKdf)?;
        let master = slots::random_key();
        let vault_id = self.next_id;
        let pin_kdf = PinKdf::new_random(kdf);
        let kek = pin_kdf.derive(pin)?;
        let slot = Slot::wrap(&vault_id, SlotKind::Pin, Some(pin_kdf), &kek, &master);
        self.create(vault_id, slot, master, accounts)
    }

    /// Creates the vault with a TPM slot for the PIN (and the PIN slot
    /// beside it when `binding.keep_pin_slot`) and leaves it unlocked.
    /// Nothing is written when the TPM cannot seal.
    pub fn create_with_tpm(
        &mut self,
        pin: &SecretString,
        kdf: KdfParams,
        binding: &TpmBinding,
        accounts: Vec<Account>,
    ) -> Result<(), VaultError> {
        self.refuse_if_exists()?;
        kdf.validate().map_err(VaultError::InvalidKdf)?;
        let tpm = self.tpm_or_error()?;
        let master = slots::random_key();
        let vault_id = self.next_id;
        let mut slots = vec![tpm_slot::seal(
            &tpm,
            &vault_id,
            pin,
            kdf,
            &binding.pcrs,
            &master,
        )?];
        if binding.keep_pin_slot {
            let pin_kdf = PinKdf::new_random(kdf);
            let kek = pin_kdf.derive(pin)?;
            slots.insert(
                0,
                Slot::wrap(&vault_id, SlotKind::Pin, Some(pin_kdf), &kek, &master),
            );
        }
        self.create_slots(vault_id, slots, master, accounts)
    }

    /// Seals the vault key to the TPM under `pin` (checked first, with the
    /// usual counting) and `binding.pcrs`, replacing a TPM slot there was;
    /// removes the PIN slot unless `binding.keep_pin_slot`. Works locked or
    /// unlocked and leaves that state as it was.
    pub fn enroll_tpm(
        &mut self,
        pin: &SecretString,
        kdf: KdfParams,
        binding: &TpmBinding,
        now: SystemTime,
    ) -> Result<(), VaultError> {
        let tpm = self.tpm_or_error()?;
        let master = self.open_with_pin(pin, now)?;
        let accounts = match &self.unlocked {
            Some(u) => u.accounts.clone(),
            None => self.decrypt(&master)?,
        };
        let header = self.header()?;
        let slot = tpm_slot::seal(&tpm, &header.vault_id, pin, kdf, &binding.pcrs, &master)?;
        let mut header = header.with_slot(slot);
        if !binding.keep_pin_slot {
            header = header.without_slot(SlotKind::Pin);
        }
        let file = self.save(header, &master, &accounts)?;
        self.file = Some(file);
        self.tpm_warning = None;
        tracing::info!(pcrs = %binding.pcrs, pin_slot = binding.keep_pin_slot, "vault key sealed to the TPM");
        Ok(())
    }

    fn tpm_or_error(&self) -> Result<tessera_tpm::Tpm, VaultError> {
        self.tpm.clone().ok_or(VaultError::TpmSeal {
            error: tessera_tpm::TpmError::Unavailable {
                tcti: tessera_tpm::DEFAULT_TCTI.into(),
                reason: "no TPM is configured for this vault".into(),
            },
        })
    }

    /// Creates the vault with a keyring slot (`kind` must be `Keyring`; a
    /// biometric slot is only ever added beside a PIN) and leaves it
    /// unlocked. `kek`: 32 bytes, see [`new_slot_key`].
    pub fn create_with_slot_key(
        &mut self,
        kind: SlotKind,
        kek: &SecretBytes,
        accounts: Vec<Account>,
    ) -> Result<(), VaultError> {
        self.refuse_if_exists()?;
        if kind != SlotKind::Keyring {
            return Err(VaultError::InvalidSlot {
                kind,
                reason: "a new vault is opened by a PIN or a keyring key; add a biometric slot \
                         after creating it with a PIN",
            });
        }
        let kek = slots::kek_from_bytes(kind, kek)?;
        let master = slots::random_key();
        let vault_id = self.next_id;
        let slot = Slot::wrap(&vault_id, kind, None, &kek, &master);
        self.create(vault_id, slot, master, accounts)
    }

    fn refuse_if_exists(&self) -> Result<(), VaultError> {
        if self.exists() {
            return Err(VaultError::AlreadyExists);
        }
        Ok(())
    }

    fn create(
        &mut self,
        vault_id: [u8; slots::VAULT_ID_LEN],
        slot: Slot,
        master: Key,
        accounts: Vec<Account>,
    ) -> Result<(), VaultError> {
        self.create_slots(vault_id, vec![slot], master, accounts)
    }

    fn create_slots(
        &mut self,
        vault_id: [u8; slots::VAULT_ID_LEN],
        slots: Vec<Slot>,
        master: Key,
        accounts: Vec<Account>,
    ) -> Result<(), VaultError> {
        let header = Header {
            vault_id,
            body_nonce: slots::random_array(),
            slots,
        };
        let file = self.save(header, &master, &accounts)?;
        self.file = Some(file);
        self.unlocked = Some(Unlocked { master, accounts });
        // A counter left from an earlier vault does not apply to this one.
        if let Err(e) = self.reset_attempts() {
            tracing::warn!(error = %e, "cannot reset the wrong-PIN counter");
        }
        tracing::info!(path = %self.path.display(), "vault created");
        Ok(())
    }

    /// Unlocks with the PIN. Refused without running Argon2 while a delay
    /// runs (`PinDelayed`) or after a lock-out (`LockedOut`); a wrong PIN is
    /// counted (`WrongPin`); a right one resets the counter.
    pub fn unlock_with_pin(
        &mut self,
        pin: &SecretString,
        now: SystemTime,
    ) -> Result<(), VaultError> {
        let master = self.open_with_pin(pin, now)?;
        self.unlock_with_master(master)
    }

    /// Unlocks with a keyring or biometric slot's key. `WrongKey` if it does
    /// not open the slot. Does not touch the PIN counter.
    pub fn unlock_with_slot_key(
        &mut self,
        kind: SlotKind,
        kek: &SecretBytes,
    ) -> Result<(), VaultError> {
        let master = self.open_key_slot(kind, kek)?;
        self.unlock_with_master(master)
    }

    /// Makes `copy` this vault when there is none yet: a restore onto a
    /// fresh machine. The copy's backup-password slot is left out (a live
    /// vault opens by its PIN or keyring only); a copy with no PIN or
    /// keyring slot cannot become a vault. `AlreadyExists` when there is one.
    pub fn install_copy(&mut self, name: &Path, copy: OpenedCopy) -> Result<(), VaultError> {
        self.refuse_if_exists()?;
        let header = copy.file.header.without_slot(SlotKind::Password).renewed();
        if !SlotKind::OPENERS.iter().any(|&k| header.slot(k).is_some()) {
            return Err(VaultError::CopyPasswordOnly {
                path: name.to_owned(),
            });
        }
        let file = self.save(header, &copy.master, &copy.accounts)?;
        self.file = Some(file);
        tracing::info!("vault restored from a backup");
        Ok(())
    }

    /// A backup of this vault (unlocked) as a file's bytes: the accounts
    /// under a master key that a backup-password slot (Argon2id with `kdf`
    /// over `password`) and, with `with_pin`, this vault's own PIN slot
    /// wrap. Without the PIN slot the copy gets a master key and vault id
    /// of its own, so it shares no key with the vault.
    pub fn export_copy(
        &self,
        password: Option<&SecretString>,
        kdf: KdfParams,
        with_pin: bool,
    ) -> Result<Vec<u8>, VaultError> {
        let state = self.open_state()?;
        let header = self.header()?;
        let (vault_id, master, mut slots) = if with_pin {
            let pin = header
                .slot(SlotKind::Pin)
                .cloned()
                .ok_or(VaultError::SlotMissing(SlotKind::Pin))?;
            (header.vault_id, state.master.clone(), vec![pin])
        } else {
            (slots::random_array(), slots::random_key(), Vec::new())
        };
        if let Some(password) = password {
            kdf.validate().map_err(VaultError::InvalidKdf)?;
            let password_kdf = PinKdf::new_random(kdf);
            let kek = password_kdf.derive(password)?;
            slots.push(Slot::wrap(
                &vault_id,
                SlotKind::Password,
                Some(password_kdf),
                &kek,
                &master,
            ));
        }
        if slots.is_empty() {
            return Err(VaultError::InvalidSlot {
                kind: SlotKind::Password,
                reason: "a backup needs a password, the vault's PIN slot, or both",
            });
        }
        let header = Header {
            vault_id,
            body_nonce: slots::random_array(),
            slots,
        };
        let plain = body::encode(&state.accounts)?;
        Ok(VaultFile::build(header, &master, plain)?.bytes().to_vec())
    }

    /// Checks the PIN with the same counting as unlocking, locked or not
    /// (e.g. to confirm an operation). Leaves the lock state as it was.
    pub fn verify_pin(&mut self, pin: &SecretString, now: SystemTime) -> Result<(), VaultError> {
        self.open_with_pin(pin, now).map(drop)
    }

    /// Drops the master key and the accounts (their secrets are zeroized).
    pub fn lock(&mut self) {
        if self.unlocked.take().is_some() {
            tracing::info!("vault locked");
        }
    }

    pub fn accounts(&self) -> Result<&[Account], VaultError> {
        Ok(&self.open_state()?.accounts)
    }

    /// Applies `f` to a copy of the accounts, saves the result atomically and
    /// then makes it current. If `f`, the checks (ids are 32 lower-case hex
    /// digits, unique) or the save fail, nothing changes in memory or on
    /// disk.
    ///
    /// A save is one JSON encoding and one AEAD pass over all accounts: no
    /// per-account crypto.
    pub fn update<R>(
        &mut self,
        f: impl FnOnce(&mut Vec<Account>) -> Result<R, VaultError>,
    ) -> Result<R, VaultError> {
        let state = self.open_state()?;
        let mut accounts = state.accounts.clone();
        let result = f(&mut accounts)?;
        let header = self.header()?.renewed();
        let file = self.save(header, &self.open_state()?.master, &accounts)?;
        self.file = Some(file);
        self.unlocked.as_mut().expect("checked above").accounts = accounts;
        Ok(result)
    }

    /// Replaces the PIN: checks `old` with the usual counting, then wraps the
    /// same master key under `new` with a fresh salt and `kdf`. Works locked
    /// or unlocked and leaves that state as it was.
    pub fn change_pin(
        &mut self,
        old: &SecretString,
        new: &SecretString,
        kdf: KdfParams,
        now: SystemTime,
    ) -> Result<(), VaultError> {
        kdf.validate().map_err(VaultError::InvalidKdf)?;
        let master = self.open_with_pin(old, now)?;
        let accounts = match &self.unlocked {
            Some(u) => u.accounts.clone(),
            None => self.decrypt(&master)?,
        };
        let mut header = self.header()?.clone();
        if header.slot(SlotKind::Pin).is_some() {
            let pin_kdf = PinKdf::new_random(kdf);
            let kek = pin_kdf.derive(new)?;
            let slot = Slot::wrap(
                &header.vault_id,
                SlotKind::Pin,
                Some(pin_kdf),
                &kek,
                &master,
            );
            header = header.with_slot(slot);
        }
        // The TPM slot is sealed again under the new PIN's authValue, with
        // the same PCRs; if the TPM cannot, nothing changes.
        if let Some(pcrs) = header
            .slot(SlotKind::Tpm)
            .and_then(|s| s.tpm.as_ref())
            .map(|t| t.pcrs.clone())
        {
            let tpm = self.tpm_or_error()?;
            let slot = tpm_slot::seal(&tpm, &header.vault_id, new, kdf, &pcrs, &master)?;
            header = header.with_slot(slot);
        }
        let file = self.save(header.renewed(), &master, &accounts)?;
        self.file = Some(file);
        tracing::info!("vault PIN changed");
        Ok(())
    }

    /// Adds a PIN slot to a vault that has none (turning protection on; then
    /// remove the keyring slot). Needs the vault unlocked. A vault that has a
    /// PIN changes it with [`Vault::change_pin`].
    pub fn set_pin(&mut self, pin: &SecretString, kdf: KdfParams) -> Result<(), VaultError> {
        kdf.validate().map_err(VaultError::InvalidKdf)?;
        self.open_state()?;
        if self.header()?.slot(SlotKind::Pin).is_some() {
            return Err(VaultError::InvalidSlot {
                kind: SlotKind::Pin,
                reason: "the vault already has a PIN; change it with the old PIN",
            });
        }
        let pin_kdf = PinKdf::new_random(kdf);
        let kek = pin_kdf.derive(pin)?;
        self.put_slot(SlotKind::Pin, Some(pin_kdf), &kek)?;
        // A stale counter must not greet the new PIN.
        self.reset_attempts()
    }

    /// Adds a keyring or biometric slot, or replaces the one of that kind
    /// (e.g. a re-enrolled biometric key). Needs the vault unlocked.
    pub fn add_slot(&mut self, kind: SlotKind, kek: &SecretBytes) -> Result<(), VaultError> {
        let kek = slots::kek_from_bytes(kind, kek)?;
        self.open_state()?;
        self.put_slot(kind, None, &kek)
    }

    /// Removes a slot. Needs the vault unlocked; refuses to leave the vault
    /// without a PIN, TPM or keyring slot (`LastSlot`).
    pub fn remove_slot(&mut self, kind: SlotKind) -> Result<(), VaultError> {
        let state = self.open_state()?;
        let header = self.header()?;
        if header.slot(kind).is_none() {
            return Err(VaultError::SlotMissing(kind));
        }
        let rest = header.without_slot(kind);
        if !SlotKind::OPENERS.iter().any(|&k| rest.slot(k).is_some()) {
            return Err(VaultError::LastSlot(kind));
        }
        let file = self.save(rest, &state.master, &state.accounts)?;
        self.file = Some(file);
        if kind == SlotKind::Tpm {
            self.tpm_warning = None;
        }
        tracing::info!(slot = kind.as_str(), "vault slot removed");
        Ok(())
    }

    // ---- internals ----

    fn header(&self) -> Result<&Header, VaultError> {
        Ok(&self.file.as_ref().ok_or(VaultError::NoVault)?.header)
    }

    fn open_state(&self) -> Result<&Unlocked, VaultError> {
        self.header()?;
        self.unlocked.as_ref().ok_or(VaultError::Locked)
    }

    fn put_slot(
        &mut self,
        kind: SlotKind,
        kdf: Option<PinKdf>,
        kek: &Key,
    ) -> Result<(), VaultError> {
        let state = self.open_state()?;
        let header = self.header()?;
        let slot = Slot::wrap(&header.vault_id, kind, kdf, kek, &state.master);
        let file = self.save(header.with_slot(slot), &state.master, &state.accounts)?;
        self.file = Some(file);
        tracing::info!(slot = kind.as_str(), "vault slot added");
        Ok(())
    }

    /// Encrypts and writes a new vault file; the caller installs the result.
    fn save(
        &self,
        header: Header,
        master: &Key,
        accounts: &[Account],
    ) -> Result<VaultFile, VaultError> {
        let plain = body::encode(accounts)?;
        let file = VaultFile::build(header, master, plain)?;
        store::write_atomic(&self.path, file.bytes())?;
        if let (Some(policy), Some(backups)) = (&self.backup, &self.backups) {
            backups.queue(file.bytes().to_vec(), policy.clone());
        }
        Ok(file)
    }

    /// The accounts under `master`. A body that fails here read at start-up,
    /// so every unlock (PIN, keyring, finger) says it is damaged the same
    /// way, with the newest backup.
    fn decrypt(&self, master: &Key) -> Result<Vec<Account>, VaultError> {
        let file = self.file.as_ref().ok_or(VaultError::NoVault)?;
        file.decrypt_body(&self.path, master)
            .and_then(|plain| body::decode(&self.path, &plain))
            .map_err(|e| match e {
                VaultError::Corrupt { path, reason } => {
                    let newest = self.backup_folder.as_deref().and_then(backups::newest);
                    let hint = backups::restore_hint(&path, newest.as_deref());
                    tracing::error!(path = %path.display(), "vault damaged: {reason}. {hint}");
                    VaultError::BodyDamaged { path, reason, hint }
                }
                other => other,
            })
    }

    fn unlock_with_master(&mut self, master: Key) -> Result<(), VaultError> {
        let accounts = self.decrypt(&master)?;
        self.unlocked = Some(Unlocked { master, accounts });
        tracing::info!("vault unlocked");
        Ok(())
    }

    /// The master key for a typed PIN: through the TPM slot when the vault
    /// has one (falling back to the PIN slot, when there is one, if the TPM
    /// cannot answer for a reason other than the PIN), else the PIN slot.
    /// The wrong-PIN rules apply either way; the TPM counts its own.
    fn open_with_pin(&mut self, pin: &SecretString, now: SystemTime) -> Result<Key, VaultError> {
        let header = self.header()?;
        let vault_id = header.vault_id;
        let has_pin_slot = header.slot(SlotKind::Pin).is_some();
        let Some(slot) = header.slot(SlotKind::Tpm).cloned() else {
            return self.open_pin_slot(pin, now);
        };
        let failure = match self.tpm.clone() {
            None => tessera_tpm::TpmError::Unavailable {
                tcti: tessera_tpm::DEFAULT_TCTI.into(),
                reason: "no TPM is configured".into(),
            },
            Some(tpm) => {
                self.attempts.gate(&self.policy, now)?;
                let before = self.attempts;
                let counted = self.count_try(now);
                match tpm_slot::open(&tpm, &vault_id, &slot, pin) {
                    Ok(master) => {
                        self.settle_right_pin();
                        self.tpm_warning = None;
                        return Ok(master);
                    }
                    Err(tpm_slot::OpenError::WrongPin(tpm)) => {
                        tracing::info!(failed_attempts = counted.failed, "wrong PIN (TPM slot)");
                        return Err(match counted.wrong_pin_error(&self.policy) {
                            VaultError::WrongPin {
                                failed_attempts,
                                retry_after,
                            } => VaultError::WrongPinTpm {
                                failed_attempts,
                                retry_after,
                                tpm,
                            },
                            other => other,
                        });
                    }
                    Err(tpm_slot::OpenError::Slot(e)) => {
                        self.uncount_try(before);
                        return Err(e);
                    }
                    Err(tpm_slot::OpenError::Tpm(e)) => {
                        // Not the PIN's fault: the try is given back.
                        self.uncount_try(before);
                        e
                    }
                }
            }
        };
        let hint = tpm_slot::way_back(&failure, has_pin_slot);
        tracing::warn!(error = %failure, "the TPM slot does not open");
        if !has_pin_slot {
            return Err(VaultError::Tpm {
                error: failure,
                hint,
            });
        }
        let master = self.open_pin_slot(pin, now)?;
        self.tpm_warning = Some(format!(
            "the TPM slot did not open ({failure}); the PIN slot did. Seal it again with \
             `tessera tpm enroll`, or remove it with `tessera tpm remove`"
        ));
        Ok(master)
    }

    /// Counts a try before checking it (so killing the daemon mid-check
    /// gives no free try): in memory always, in the file when it can.
    fn count_try(&mut self, now: SystemTime) -> Attempts {
        let counted = self.attempts.failed_at(now);
        self.attempts = counted;
        self.counter_warning = counted
            .save(&self.attempts_path)
            .err()
            .map(|e| attempts::counter_warning("the new count", &e));
        counted
    }

    /// Takes back a try counted by [`Vault::count_try`] that did not test the PIN.
    fn uncount_try(&mut self, before: Attempts) {
        self.attempts = before;
        let saved = if before == Attempts::default() {
            store::remove_durable(&self.attempts_path)
        } else {
            before.save(&self.attempts_path)
        };
        if let Err(e) = saved {
            tracing::warn!(error = %e, "cannot take back the counted try");
        }
    }

    /// A right PIN: the counter starts again.
    fn settle_right_pin(&mut self) {
        if let Err(e) = self.reset_attempts() {
            // Right PIN: nothing is owed in memory; the file keeps
            // its older count, which errs on the safe side.
            self.attempts = Attempts::default();
            self.counter_warning
                .get_or_insert_with(|| attempts::counter_warning("its reset", &e));
        }
    }

    /// The master key from the PIN slot, with the wrong-PIN rules applied.
    fn open_pin_slot(&mut self, pin: &SecretString, now: SystemTime) -> Result<Key, VaultError> {
        let header = self.header()?;
        let vault_id = header.vault_id;
        let slot = header
            .slot(SlotKind::Pin)
            .cloned()
            .ok_or(VaultError::SlotMissing(SlotKind::Pin))?;
        let kdf = slot.kdf.as_ref().expect("a PIN slot has a KDF");
        self.attempts.gate(&self.policy, now)?;

        // Counted before checking, taken back if right: killing the daemon
        // during Argon2 does not give a free try. Counted in memory even when
        // the file cannot be written (a full disk): the check goes on, and
        // the failure is reported (attempts.rs, docs/security.md).
        let counted = self.count_try(now);

        let kek = kdf.derive(pin)?;
        match slot.unwrap(&vault_id, &kek) {
            Some(master) => {
                self.settle_right_pin();
                Ok(master)
            }
            None => {
                tracing::info!(failed_attempts = counted.failed, "wrong PIN");
                Err(counted.wrong_pin_error(&self.policy))
            }
        }
    }

    fn open_key_slot(&self, kind: SlotKind, kek: &SecretBytes) -> Result<Key, VaultError> {
        let kek = slots::kek_from_bytes(kind, kek)?;
        let header = self.header()?;
        let slot = header.slot(kind).ok_or(VaultError::SlotMissing(kind))?;
        slot.unwrap(&header.vault_id, &kek)
            .ok_or(VaultError::WrongKey(kind))
    }

    fn reset_attempts(&mut self) -> Result<(), VaultError> {
        store::remove_durable(&self.attempts_path)?;
        self.attempts = Attempts::default();
        Ok(())
    }
}
