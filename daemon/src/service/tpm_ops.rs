//! The vault's TPM slot as the clients reach it: its status (the TPM, its
//! lock-out, the slot, its PCRs and which of them changed), enrolling (the
//! PIN checked, the vault key sealed under `tpm.pcrs`) and removal
//! (docs/security.md, "The TPM slot").

use std::time::SystemTime;

use tessera_core::SecretString;

use super::Service;
use super::vault_ops::pin_error;
use crate::config::{ProtectionConfig, TpmConfigExt, VaultConfigExt};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::vault::{SlotKind, Vault};
use tessera_tpm::{Sealed, Tpm};

/// What `tessera tpm status` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TpmStatus {
    /// This tesserad was built with TPM support.
    pub built: bool,
    pub tcti: String,
    /// A TPM answers at `tcti`.
    pub present: bool,
    /// Why not, when not.
    pub unavailable_reason: Option<String>,
    pub manufacturer: String,
    pub failed_tries: u32,
    pub max_tries: u32,
    pub recovery_seconds: u32,
    pub in_lockout: bool,
    pub owner_password: bool,
    /// The vault has a TPM slot.
    pub enrolled: bool,
    /// The PCRs it is bound to.
    pub pcrs: Vec<u32>,
    /// Bound PCRs whose values differ now from when it was sealed.
    pub changed_pcrs: Vec<u32>,
    /// The PIN slot is beside it.
    pub pin_slot: bool,
    /// The last unlock's trouble with the TPM slot (the PIN slot answered).
    pub warning: Option<String>,
    /// `vault.protection` in force.
    pub protection: String,
}

impl Service {
    pub async fn tpm_status(&self) -> TpmStatus {
        let protection = self.config().vault.protection.as_str().to_owned();
        match self.with_vault(move |v| SlotView::of(v, protection)).await {
            Ok(view) => view.asked().await,
            Err(_) => TpmStatus::default(),
        }
    }

    /// Seals the vault key to the TPM under `pin` (checked and counted as
    /// an unlock is) and the policy's PCRs; under `vault.protection =
    /// "tpm"` the PIN slot is removed, else kept as the way back.
    pub async fn enroll_tpm(&self, pin: SecretString) -> ServiceResult<TpmStatus> {
        let config = self.config();
        if config.vault.protection == ProtectionConfig::Keyring {
            return Err(ServiceError::new(
                ErrorCode::Policy,
                "vault.protection = \"keyring\": the vault has no PIN to seal to the TPM",
            ));
        }
        let kdf = config.vault.kdf();
        let binding = config.tpm_binding();
        let protection = config.vault.protection.as_str().to_owned();
        Ok(self
            .with_vault(move |v| {
                if !v.exists() {
                    return Err(ServiceError::no_vault());
                }
                if !v.has_pin() {
                    return Err(ServiceError::new(
                        ErrorCode::Unsupported,
                        "this vault has no PIN (it opens from the login keyring), so there is \
                     nothing to seal to the TPM",
                    ));
                }
                v.enroll_tpm(&pin, kdf, &binding, SystemTime::now())
                    .map_err(|e| pin_error(v, e))?;
                Ok(SlotView::of(v, protection))
            })
            .await??
            .asked()
            .await)
    }

    /// Removes the TPM slot. A vault without a PIN slot gets one under the
    /// same PIN first, so it still opens. Refused while policy asks for the
    /// TPM (`vault.protection = "tpm"` or `"tpm+pin"`).
    pub async fn remove_tpm(&self, pin: SecretString) -> ServiceResult<TpmStatus> {
        let config = self.config();
        if config.wants_tpm() {
            return Err(ServiceError::new(
                ErrorCode::Policy,
                format!(
                    "vault.protection = \"{}\" keeps the vault sealed to the TPM; an \
                     administrator changes that policy",
                    config.vault.protection.as_str()
                ),
            ));
        }
        let kdf = config.vault.kdf();
        let protection = config.vault.protection.as_str().to_owned();
        Ok(self
            .with_vault(move |v| {
                if !v.exists() {
                    return Err(ServiceError::no_vault());
                }
                if !v.slots().contains(&SlotKind::Tpm) {
                    return Err(ServiceError::new(
                        ErrorCode::NotFound,
                        "the vault has no TPM slot",
                    ));
                }
                let was_unlocked = v.is_unlocked();
                if !was_unlocked {
                    v.unlock_with_pin(&pin, SystemTime::now())
                        .map_err(|e| pin_error(v, e))?;
                } else {
                    v.verify_pin(&pin, SystemTime::now())
                        .map_err(|e| pin_error(v, e))?;
                }
                let result = (|| {
                    if !v.slots().contains(&SlotKind::Pin) {
                        v.set_pin(&pin, kdf)?;
                    }
                    v.remove_slot(SlotKind::Tpm)
                })();
                if !was_unlocked {
                    v.lock();
                }
                result.map_err(ServiceError::from)?;
                Ok(SlotView::of(v, protection))
            })
            .await??
            .asked()
            .await)
    }
}

/// The vault's side of the status, taken under its lock; the TPM is asked
/// after the lock is given back ([`SlotView::asked`]), so its round trips
/// never hold up a code request.
struct SlotView {
    status: TpmStatus,
    tpm: Option<Tpm>,
    sealed: Option<Sealed>,
}

impl SlotView {
    fn of(v: &Vault, protection: String) -> SlotView {
        let sealed = v.tpm_sealed().cloned();
        SlotView {
            status: TpmStatus {
                built: tessera_tpm::BUILT,
                protection,
                enrolled: v.slots().contains(&SlotKind::Tpm),
                pin_slot: v.slots().contains(&SlotKind::Pin),
                warning: v.tpm_warning().map(str::to_owned),
                pcrs: sealed.as_ref().map_or_else(Vec::new, |s| {
                    s.pcrs.numbers().iter().map(|&n| u32::from(n)).collect()
                }),
                ..TpmStatus::default()
            },
            tpm: v.tpm().cloned(),
            sealed,
        }
    }

    /// The TPM's answers (they block: a thread of their own).
    async fn asked(self) -> TpmStatus {
        let fallback = self.status.clone();
        tokio::task::spawn_blocking(move || self.ask())
            .await
            .unwrap_or(fallback)
    }

    fn ask(self) -> TpmStatus {
        let SlotView {
            status: mut out,
            tpm,
            sealed,
        } = self;
        let Some(tpm) = tpm else {
            out.unavailable_reason = Some("no TPM is configured".into());
            return out;
        };
        out.tcti = tpm.tcti().to_owned();
        match tpm.status() {
            Ok(s) => {
                out.present = true;
                out.manufacturer = s.manufacturer;
                out.failed_tries = s.failed_tries;
                out.max_tries = s.max_tries;
                out.recovery_seconds = s.recovery_seconds;
                out.in_lockout = s.in_lockout;
                out.owner_password = s.owner_password;
            }
            Err(e) => out.unavailable_reason = Some(e.to_string()),
        }
        if out.present
            && let Some(sealed) = sealed.filter(|s| !s.pcrs.is_empty())
        {
            match tpm.changed_pcrs(&sealed) {
                Ok(changed) => out.changed_pcrs = changed.into_iter().map(u32::from).collect(),
                Err(e) => tracing::warn!(error = %e, "cannot read the bound PCRs"),
            }
        }
        out
    }
}
