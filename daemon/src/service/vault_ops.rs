//! Vault operations: status, lock, unlock, change PIN, and the auto-lock.

use std::time::{Duration, SystemTime};

use tessera_core::SecretString;

use super::Service;
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::vault::Protection;

/// What `tessera status` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultStatus {
    pub exists: bool,
    pub locked: bool,
    pub protection: Option<Protection>,
    pub failed_attempts: u32,
    pub retry_after: Duration,
    /// Only while unlocked.
    pub account_count: Option<usize>,
    pub auto_lock_minutes: u32,
}

impl Service {
    pub async fn vault_status(&self) -> VaultStatus {
        let vault = self.vault().lock().await;
        let pin = vault.pin_status(SystemTime::now());
        VaultStatus {
            exists: vault.exists(),
            locked: !vault.is_unlocked(),
            protection: vault.protection(),
            failed_attempts: pin.failed_attempts,
            retry_after: pin.retry_after,
            account_count: vault.accounts().ok().map(<[_]>::len),
            auto_lock_minutes: self.config().vault.auto_lock_minutes,
        }
    }

    pub async fn lock(&self) -> VaultStatus {
        self.vault().lock().await.lock();
        tracing::info!("vault locked on request");
        self.vault_status().await
    }

    pub async fn unlock(&self, pin: SecretString) -> ServiceResult<VaultStatus> {
        self.with_vault(move |v| {
            if !v.exists() {
                return Err(ServiceError::new(
                    ErrorCode::NoVault,
                    "there is no vault yet; activate an account first",
                ));
            }
            if v.is_unlocked() {
                return Ok(());
            }
            v.unlock_with_pin(&pin, SystemTime::now())
                .map_err(ServiceError::from)
        })
        .await??;
        tracing::info!("vault unlocked");
        Ok(self.vault_status().await)
    }

    pub async fn change_pin(
        &self,
        old: SecretString,
        new: SecretString,
    ) -> ServiceResult<VaultStatus> {
        self.config()
            .pin
            .rules()
            .check(new.expose())
            .map_err(|reason| ServiceError::new(ErrorCode::PinPolicy, reason))?;
        let kdf = self.config().vault.kdf();
        self.with_vault(move |v| {
            v.change_pin(&old, &new, kdf, SystemTime::now())
                .map_err(ServiceError::from)
        })
        .await??;
        tracing::info!("vault PIN changed");
        Ok(self.vault_status().await)
    }

    /// Locks the vault after the configured idle time. Runs until the
    /// service is dropped.
    pub async fn auto_lock_loop(self) {
        let minutes = self.config().vault.auto_lock_minutes;
        if minutes == 0 {
            return;
        }
        let limit = Duration::from_secs(u64::from(minutes) * 60);
        loop {
            let idle = self.idle_for();
            if idle >= limit {
                let mut vault = self.vault().lock().await;
                if vault.is_unlocked() && self.idle_for() >= limit {
                    vault.lock();
                    tracing::info!(minutes, "vault locked after inactivity");
                }
                drop(vault);
                tokio::time::sleep(limit).await;
            } else {
                tokio::time::sleep(limit - idle).await;
            }
        }
    }
}
