//! Backups as clients see them (docs/backup.md): the automatic copies in
//! the backup folder, and restoring one, merged into the vault or in place
//! of its accounts, shown before it is applied and applied in one save.

use std::path::PathBuf;

use tessera_core::SecretString;

use super::Service;
use crate::account::{Account, AccountInfo};
use crate::config::BackupConfigExt;
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::vault::{self, VaultError};

/// One automatic backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub bytes: u64,
    /// When it was written, Unix seconds.
    pub modified_unix: i64,
}

/// What a restore does with the vault's accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreMode {
    /// Adds the backup's accounts the vault lacks; keeps the rest as it is.
    Merge,
    /// The vault's accounts become the backup's.
    Replace,
}

/// What a restore changes (or changed, when `applied`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestorePlan {
    /// How many accounts the backup holds.
    pub in_backup: usize,
    /// Accounts the vault gains.
    pub added: Vec<AccountInfo>,
    /// Replace: accounts of the vault the backup lacks, which go.
    pub removed: Vec<AccountInfo>,
    /// Replace: accounts in both that differ (name, counter, settings): the
    /// backup's version wins. Merge: none (the vault's version stays).
    pub changed: Vec<AccountInfo>,
    /// Accounts in both, the same (or, merging, kept as the vault has them).
    pub unchanged: usize,
    pub applied: bool,
}

impl RestorePlan {
    fn changes_anything(&self) -> bool {
        !(self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty())
    }
}

/// The plan of restoring `copy` over `current`, and the accounts after it.
fn plan(current: &[Account], copy: Vec<Account>, mode: RestoreMode) -> (RestorePlan, Vec<Account>) {
    let find = |list: &[Account], id| list.iter().position(|a: &Account| a.id == id);
    let mut plan = RestorePlan {
        in_backup: copy.len(),
        ..RestorePlan::default()
    };
    for a in &copy {
        match find(current, a.id.clone()) {
            None => plan.added.push(a.into()),
            Some(i) if current[i] == *a => plan.unchanged += 1,
            Some(_) if mode == RestoreMode::Merge => plan.unchanged += 1,
            Some(_) => plan.changed.push(a.into()),
        }
    }
    let after = match mode {
        RestoreMode::Replace => {
            plan.removed = current
                .iter()
                .filter(|a| find(&copy, a.id.clone()).is_none())
                .map(AccountInfo::from)
                .collect();
            copy
        }
        RestoreMode::Merge => {
            let mut after = current.to_vec();
            after.extend(
                copy.into_iter()
                    .filter(|a| find(current, a.id.clone()).is_none()),
            );
            after
        }
    };
    (plan, after)
}

impl Service {
    /// The backup folder and the automatic backups in it, oldest first.
    pub async fn list_backups(&self) -> ServiceResult<(PathBuf, Vec<BackupInfo>)> {
        let folder = self.backup_folder().await?;
        let dir = folder.clone();
        let list = tokio::task::spawn_blocking(move || {
            vault::backups::list(&dir)
                .into_iter()
                .filter_map(|path| {
                    let meta = std::fs::metadata(&path).ok()?;
                    let modified_unix = meta
                        .modified()
                        .ok()?
                        .duration_since(std::time::UNIX_EPOCH)
                        .ok()?
                        .as_secs() as i64;
                    Some(BackupInfo {
                        path,
                        bytes: meta.len(),
                        modified_unix,
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| ServiceError::internal(format!("listing the backups failed: {e}")))?;
        Ok((folder, list))
    }

    async fn backup_folder(&self) -> ServiceResult<PathBuf> {
        let dir = self.vault().lock().await.dir().to_owned();
        self.config()
            .backup
            .folder_in(&dir)
            .map_err(|e| ServiceError::new(ErrorCode::InvalidArgument, e))
    }

    /// Opens `bytes`, a backup (a copy of a vault file; `name` for
    /// messages), with `pin`, the PIN it was made with, and says what
    /// restoring it in `mode` changes; with `apply`, changes it, in one
    /// save (all or nothing). On a machine with no vault yet the backup
    /// becomes the vault. The vault must be unlocked otherwise.
    pub async fn restore_backup(
        &self,
        name: &str,
        bytes: Vec<u8>,
        pin: SecretString,
        mode: RestoreMode,
        apply: bool,
    ) -> ServiceResult<RestorePlan> {
        let limit = tessera_files::Kind::Vault.limit();
        if bytes.len() as u64 > limit {
            return Err(ServiceError::invalid_argument(format!(
                "the backup is {} bytes, larger than a vault can be ({limit} bytes)",
                bytes.len()
            )));
        }
        let name = PathBuf::from(if name.is_empty() { "the backup" } else { name });
        let copy = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || vault::read_copy(&name, bytes, &pin))
                .await
                .map_err(|e| ServiceError::internal(format!("reading the backup failed: {e}")))?
                .map_err(copy_error)?
        };
        self.ensure_unlocked().await?;
        let max = self.config().accounts.max as usize;
        let result = self
            .with_vault(move |vault| -> ServiceResult<RestorePlan> {
                if !vault.exists() {
                    let (mut plan, after) = plan(&[], copy.accounts.clone(), mode);
                    check_most(max, after.len())?;
                    if apply {
                        vault.install_copy(&name, copy).map_err(copy_error)?;
                        plan.applied = true;
                    }
                    return Ok(plan);
                }
                let current = vault.accounts()?.to_vec();
                let (mut plan, after) = plan(&current, copy.accounts, mode);
                check_most(max, after.len())?;
                if apply && plan.changes_anything() {
                    vault.update(move |accounts| {
                        *accounts = after;
                        Ok(())
                    })?;
                    plan.applied = true;
                }
                Ok(plan)
            })
            .await??;
        if result.applied {
            tracing::info!(
                added = result.added.len(),
                removed = result.removed.len(),
                changed = result.changed.len(),
                "vault restored from a backup"
            );
        }
        Ok(result)
    }
}

/// The shortest backup password taken: it guards every account wherever
/// the file goes, and Argon2id only slows guessing down.
pub const MIN_PASSWORD_CHARS: usize = 10;

impl Service {
    /// A backup of the vault (unlocked) as a file's bytes
    /// ([`vault::Vault::export_copy`]): under `password` (at least
    /// [`MIN_PASSWORD_CHARS`] characters), with `with_pin` also openable by
    /// the vault's PIN. Argon2id costs as the vault's own PIN slot.
    pub async fn create_backup(
        &self,
        password: Option<SecretString>,
        with_pin: bool,
    ) -> ServiceResult<(Vec<u8>, usize)> {
        if let Some(p) = &password
            && p.expose().chars().count() < MIN_PASSWORD_CHARS
        {
            return Err(ServiceError::invalid_argument(format!(
                "the backup password is too short: use at least {MIN_PASSWORD_CHARS} characters \
                 (a passphrase of a few words is best)"
            )));
        }
        if password.is_none() && !with_pin {
            return Err(ServiceError::invalid_argument(
                "a backup needs a password, the vault's PIN (with_pin), or both",
            ));
        }
        self.ensure_unlocked().await?;
        let kdf = crate::config::VaultConfigExt::kdf(&self.config().vault);
        self.with_vault(move |vault| {
            let count = vault.accounts()?.len();
            let bytes = vault.export_copy(password.as_ref(), kdf, with_pin)?;
            Ok((bytes, count))
        })
        .await?
    }
}

/// Fleet policy's `accounts.max` (0: no limit) over the accounts after.
fn check_most(max: usize, after: usize) -> ServiceResult<()> {
    if max > 0 && after > max {
        return Err(ServiceError::new(
            ErrorCode::Policy,
            format!(
                "the vault would hold {after} accounts; policy allows at most {max} \
                 (accounts.max); nothing was restored"
            ),
        ));
    }
    Ok(())
}

/// A backup that cannot be read is the caller's file at fault, not the vault.
fn copy_error(e: VaultError) -> ServiceError {
    match e {
        VaultError::Corrupt { .. }
        | VaultError::NotAVault { .. }
        | VaultError::NewerVersion { .. }
        | VaultError::CopyPasswordOnly { .. } => ServiceError::new(ErrorCode::InvalidArgument, e),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, label: &str) -> Account {
        Account {
            id: crate::account::AccountId::from_stored(id.into()),
            label: label.into(),
            issuer: Some("Example".into()),
            kind: crate::account::AccountKind::OtpAuth,
            secret: tessera_core::SecretBytes::from(&b"12345678901234567890"[..]),
            params: tessera_core::otp::OtpParams::default_totp(),
            ocra_suite: String::new(),
            created_unix: 1_700_000_000,
            extra: Vec::new(),
            notifications: false,
            pin: None,
        }
    }

    #[test]
    fn merging_adds_what_is_missing_and_replacing_makes_it_the_backups() {
        let current = vec![
            account("00000000000000a1", "mail"),
            account("00000000000000a2", "bank"),
        ];
        let renamed = account("00000000000000a2", "bank (old name)");
        let copy = vec![
            account("00000000000000a1", "mail"),
            renamed,
            account("00000000000000a3", "work"),
        ];
        let (merge, after) = plan(&current, copy.clone(), RestoreMode::Merge);
        assert_eq!(merge.added.len(), 1);
        assert_eq!(merge.added[0].label, "work");
        assert!(merge.changed.is_empty() && merge.removed.is_empty());
        assert_eq!(merge.unchanged, 2);
        let labels: Vec<_> = after.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["mail", "bank", "work"], "the vault's bank stays");

        let (replace, after) = plan(&current[..1], copy, RestoreMode::Replace);
        assert_eq!(replace.added.len(), 2);
        assert_eq!(replace.unchanged, 1);
        let labels: Vec<_> = after.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["mail", "bank (old name)", "work"]);

        let (replace, after) = plan(&current, vec![], RestoreMode::Replace);
        assert_eq!(replace.removed.len(), 2);
        assert!(after.is_empty());
        assert!(check_most(2, 3).is_err());
        assert!(check_most(0, 3).is_ok());
    }
}
