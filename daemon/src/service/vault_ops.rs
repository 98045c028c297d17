//! Vault operations: status, lock, unlock, change PIN, and the auto-lock;
//! opening a vault with a keyring slot from the login keyring.

use std::time::{Duration, SystemTime};

use tessera_core::SecretString;

use super::Service;
use crate::config::{PinConfigExt, VaultConfigExt};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::keyring::{KeyStore, KeyringError};
use crate::vault::{SlotKind, Vault, VaultError};

/// What `tessera status` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultStatus {
    pub exists: bool,
    pub locked: bool,
    pub protection: Option<super::Protection>,
    pub failed_attempts: u32,
    pub retry_after: Duration,
    /// Only while unlocked.
    pub account_count: Option<usize>,
    pub auto_lock_minutes: u32,
    /// The last PIN check could not write the wrong-PIN counter: why.
    pub pin_counter_warning: Option<String>,
    /// Only in `unlock`'s answer: the vault was unlocked before the call
    /// (a PIN given was checked all the same).
    pub already_unlocked: bool,
    /// The vault has a TPM slot.
    pub tpm_slot: bool,
    /// The last unlock could not use the TPM slot (the PIN slot answered).
    pub tpm_warning: Option<String>,
}

impl Service {
    /// Waits until the automatic backups of the changes so far are
    /// written (at shutdown; vault/backups.rs).
    pub async fn flush_backups(&self) {
        let vault = self.vault().clone();
        let _ = tokio::task::spawn_blocking(move || vault.blocking_lock().flush_backups()).await;
    }

    pub async fn vault_status(&self) -> VaultStatus {
        let vault = self.vault().lock().await;
        let pin = vault.pin_status(SystemTime::now());
        VaultStatus {
            exists: vault.exists(),
            locked: !vault.is_unlocked(),
            protection: vault.protection().map(Into::into),
            failed_attempts: pin.failed_attempts,
            retry_after: pin.retry_after,
            account_count: vault.accounts().ok().map(<[_]>::len),
            auto_lock_minutes: self.config().vault.auto_lock_minutes,
            pin_counter_warning: pin.counter_warning,
            already_unlocked: false,
            tpm_slot: vault.slots().contains(&SlotKind::Tpm),
            tpm_warning: vault.tpm_warning().map(str::to_owned),
        }
    }

    pub async fn lock(&self) -> VaultStatus {
        self.vault().lock().await.lock();
        self.locked_now();
        tracing::info!("vault locked on request");
        self.vault_status().await
    }

    /// Unlocks with the PIN (or the login keyring for a keyring vault).
    /// An unlocked vault is not taken at its word: the PIN is checked with
    /// the same counting (a wrong one is `WrongPin`), and the answer says it
    /// was already unlocked; a keyring vault has nothing to check.
    pub async fn unlock(&self, pin: SecretString) -> ServiceResult<VaultStatus> {
        let already_unlocked = self
            .with_vault(move |v| {
                if !v.exists() {
                    return Err(ServiceError::no_vault());
                }
                let was_unlocked = v.is_unlocked();
                // A keyring vault opens without a PIN; an empty PIN asks for
                // the keyring when the vault has both slots.
                let has_pin = v.has_pin();
                if v.slots().contains(&SlotKind::Keyring) && (pin.expose().is_empty() || !has_pin) {
                    return unlock_from_keyring(v).map(|()| was_unlocked);
                }
                let now = SystemTime::now();
                let checked = if was_unlocked {
                    v.verify_pin(&pin, now)
                } else {
                    v.unlock_with_pin(&pin, now)
                };
                checked.map_err(|e| pin_error(v, e)).map(|()| was_unlocked)
            })
            .await??;
        if already_unlocked {
            tracing::info!("unlock asked of an unlocked vault");
        } else {
            tracing::info!("vault unlocked");
        }
        Ok(VaultStatus {
            already_unlocked,
            ..self.vault_status().await
        })
    }

    /// Opens a locked vault that has a keyring slot with the key from the
    /// login keyring; does nothing otherwise (unlocked, no vault, PIN only).
    /// Every account operation calls this first, so a keyring vault opens
    /// on demand: after `lock`, after auto-lock, after a restart.
    pub(crate) async fn ensure_unlocked(&self) -> ServiceResult<()> {
        {
            let v = self.vault().lock().await;
            if v.is_unlocked() || !v.slots().contains(&SlotKind::Keyring) {
                return Ok(());
            }
        }
        self.with_vault(unlock_from_keyring).await?
    }

    /// Changes the PIN. The current PIN is checked first (with the usual
    /// counting: a wrong one is `WrongPin` whatever the new PIN is); then a
    /// new PIN that is the same as the current one, or that policy does not
    /// accept, is refused (`PinPolicy`). One Argon2 check in every case.
    /// Checks the PIN with the usual counting and changes nothing (locked
    /// stays locked): `change-pin` asks for the new PIN only after this.
    pub async fn check_pin(&self, pin: SecretString) -> ServiceResult<VaultStatus> {
        self.with_vault(move |v| {
            if !v.exists() {
                return Err(ServiceError::no_vault());
            }
            v.verify_pin(&pin, SystemTime::now())
                .map_err(|e| pin_error(v, e))
        })
        .await??;
        Ok(self.vault_status().await)
    }

    pub async fn change_pin(
        &self,
        old: SecretString,
        new: SecretString,
    ) -> ServiceResult<VaultStatus> {
        let rules = self.config().pin.rules();
        let kdf = self.config().vault.kdf();
        self.with_vault(move |v| {
            let now = SystemTime::now();
            if let Err(refused) = check_new_pin(&rules, &old, &new) {
                // A wrong current PIN is said first (and counted).
                v.verify_pin(&old, now).map_err(|e| pin_error(v, e))?;
                return Err(refused);
            }
            v.change_pin(&old, &new, kdf, now)
                .map_err(|e| pin_error(v, e))
        })
        .await??;
        tracing::info!("vault PIN changed");
        Ok(self.vault_status().await)
    }

    /// Locks the vault after the configured idle time. Runs until the
    /// service is dropped; reads `vault.auto_lock_minutes` again at least
    /// every minute, so a reload takes effect.
    pub async fn auto_lock_loop(self) {
        const RECHECK: Duration = Duration::from_secs(60);
        loop {
            let minutes = self.config().vault.auto_lock_minutes;
            if minutes == 0 {
                tokio::time::sleep(RECHECK).await;
                continue;
            }
            let limit = Duration::from_secs(u64::from(minutes) * 60);
            let idle = self.idle_for();
            if idle >= limit {
                let mut vault = self.vault().lock().await;
                if vault.is_unlocked() && self.idle_for() >= limit {
                    vault.lock();
                    self.locked_now();
                    tracing::info!(minutes, "vault locked after inactivity");
                }
                drop(vault);
                tokio::time::sleep(limit.min(RECHECK)).await;
            } else {
                tokio::time::sleep((limit - idle).min(RECHECK)).await;
            }
        }
    }
}

/// Whether `new` may replace `old`: not the same PIN, and within policy.
/// The current PIN is checked before this (a wrong one says so first).
pub(crate) fn check_new_pin(
    rules: &crate::activation::PinRules,
    old: &SecretString,
    new: &SecretString,
) -> ServiceResult<()> {
    if old.expose() == new.expose() {
        return Err(ServiceError::new(
            ErrorCode::PinPolicy,
            "the new PIN is the same as the current one; choose a different PIN",
        ));
    }
    rules
        .check(new.expose())
        .map_err(|reason| ServiceError::new(ErrorCode::PinPolicy, reason))
}

/// A PIN check's error as clients see it: a wrong PIN says how many tries
/// are left before delays start; the counter file's trouble (a full disk)
/// is added when the check could not write it.
pub(crate) fn pin_error(v: &Vault, e: VaultError) -> ServiceError {
    let status = v.pin_status(SystemTime::now());
    let free = matches!(e, VaultError::WrongPin { retry_after, .. }
        | VaultError::WrongPinTpm { retry_after, .. } if retry_after.is_zero());
    let mut error = ServiceError::from(e);
    if free && status.attempts_before_delay > 0 {
        let left = status.attempts_before_delay;
        error.message = format!(
            "{}; {left} more {} before a delay",
            error.message,
            if left == 1 { "try" } else { "tries" }
        );
    }
    if let Some(warning) = status.counter_warning {
        error.message = format!("{}. Also, {warning}", error.message.trim_end_matches('.'));
    }
    error
}

/// Unlocks `v` through its keyring slot with the key kept in the login
/// keyring. Does nothing if it is unlocked or has no keyring slot. Runs on a
/// blocking thread (inside `with_vault`): the keyring calls are awaited with
/// the runtime's handle. The vault file is never changed here.
pub(crate) fn unlock_from_keyring(v: &mut Vault) -> ServiceResult<()> {
    if v.is_unlocked() || !v.slots().contains(&SlotKind::Keyring) {
        return Ok(());
    }
    let id = v.id().expect("a vault with slots has an id");
    let locked = |message: String| ServiceError::new(ErrorCode::VaultLocked, message);
    let key = block_on(KeyStore::new().load(&id, SlotKind::Keyring))
        .map_err(|e| locked(format!("the vault is locked and cannot be opened: {e}")))?
        .ok_or_else(|| {
            locked(format!(
                "the vault's key is missing from the login keyring (Secret Service item with \
                 application=tessera, tessera-vault={id}): the vault stays locked. Nothing was \
                 changed: restore the keyring from a backup, or move the vault file {} away to \
                 start a new vault",
                v.path().display()
            ))
        })?;
    match v.unlock_with_slot_key(SlotKind::Keyring, &key) {
        Ok(()) => {
            tracing::info!("vault unlocked from the login keyring");
            Ok(())
        }
        Err(VaultError::WrongKey(_) | VaultError::InvalidSlot { .. }) => Err(locked(format!(
            "the key in the login keyring does not open this vault (item tessera-vault={id}); \
             the vault stays locked and was left as it is"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Errors storing or deleting a slot key: the keyring is needed and cannot
/// be used, so the operation is not possible here.
impl From<KeyringError> for ServiceError {
    fn from(e: KeyringError) -> Self {
        ServiceError::new(ErrorCode::Unsupported, e)
    }
}

/// Awaits a keyring call from a blocking thread (`spawn_blocking`).
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(f)
}
