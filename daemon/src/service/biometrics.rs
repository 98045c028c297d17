//! Biometric protection: the vault's biometric slot, whose key-encryption
//! key is a random 32-byte key kept in the login keyring (Secret Service,
//! `tessera-slot=biometric`) and used only after the biometric plugin
//! reports a match.
//!
//! - [`Service::biometric_status`]: policy, plugin, device, keyring, slot;
//! - [`Service::enable_biometrics`] / [`Service::disable_biometrics`];
//! - [`Service::unlock_with`]: `auto | pin | biometric`, with the count of
//!   no-matches in a row against `biometrics.max_failures` (then the PIN is
//!   the way in until a PIN unlock resets it);
//! - the activation's `StartEnroll` effect ([`Service::activation_enroll`])
//!   and the slot written with the accounts ([`Service::add_biometric_slot`]).
//!
//! Plugins are called through `tessera-plugin-host` off the runtime with
//! `biometrics.timeout_seconds`. The vault lock is never held while the user
//! is asked for a finger.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use tessera_core::SecretString;
use tessera_plugin_host::{BiometricAvailability, BiometricProgress, PluginError, ProgressKind};
use tokio::sync::mpsc;

use super::Service;
use super::vault_ops::{VaultStatus, block_on};
use crate::activation::Event;
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::keyring::KeyStore;
use crate::vault::{SlotKind, Vault, VaultError, new_slot_key};

/// How `Unlock` opens the vault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnlockMethod {
    /// The PIN when one is given; else biometrics when enabled (and not
    /// over the no-match limit); else the login keyring.
    #[default]
    Auto,
    /// The PIN only.
    Pin,
    /// Biometrics only.
    Biometric,
}

/// What `tessera biometrics status` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BiometricStatus {
    /// Policy (`biometrics.allowed`).
    pub allowed: bool,
    /// The vault has a biometric slot.
    pub enabled: bool,
    /// Biometrics can be used now: policy, a plugin with a device, the
    /// Secret Service.
    pub available: bool,
    /// Why not, when not available.
    pub reason: Option<String>,
    /// The biometric plugin used.
    pub plugin: Option<String>,
    /// The device, as the plugin names it.
    pub device: Option<String>,
    /// Samples (fingers) enrolled for this user.
    pub enrolled: u32,
    /// No-matches in a row since the last unlock.
    pub failures: u32,
    pub max_failures: u32,
}

/// The daemon's biometric state: the no-match counter (kept in memory: a
/// restart resets it), the running activation enrollments, the last reason
/// biometrics were unavailable.
#[derive(Default)]
pub struct BiometricState {
    failures: AtomicU32,
    enrolls: std::sync::Mutex<HashMap<String, tokio::task::AbortHandle>>,
    last_reason: std::sync::Mutex<Option<String>>,
}

/// Biometrics can be offered: the plugin to use and what it said.
struct Ready {
    plugin: String,
    availability: BiometricAvailability,
}

/// Biometrics cannot be used now: the message says why and to use the
/// PIN. (A no-match is `NoMatch`: try again.)
fn unavailable(message: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(ErrorCode::BiometricsUnavailable, message)
}

/// The answer of one biometric verify ([`Service::verify_finger`]).
pub(crate) enum Verify {
    Match,
    /// The plugin's words for it.
    NoMatch(String),
}

impl Service {
    fn bio(&self) -> &BiometricState {
        &self.inner.biometrics
    }

    fn biometric_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.config().biometrics.timeout_seconds))
    }

    /// Whether biometrics can be used now; `Err` says why not.
    async fn biometrics_ready(&self) -> Result<Ready, String> {
        let result = self.check_biometrics().await;
        *self.bio().last_reason.lock().expect("poisoned") = result.as_ref().err().cloned();
        result
    }

    /// The biometric plugin to use: the first one loaded.
    fn biometric_plugin(&self) -> Option<String> {
        self.inner
            .plugins
            .biometrics()
            .into_iter()
            .next()
            .map(|p| p.name)
    }

    /// One verify with the biometric plugin, when policy allows biometrics.
    /// `BiometricsUnavailable` when they cannot be used (the message says
    /// why), `PluginFailed` when the plugin misbehaved.
    pub(crate) async fn verify_finger(&self) -> ServiceResult<Verify> {
        if !self.config().biometrics.allowed {
            return Err(unavailable(
                "biometrics are turned off by policy (biometrics.allowed = false)",
            ));
        }
        let plugin = self
            .biometric_plugin()
            .ok_or_else(|| unavailable("no biometric plugin is loaded (`tessera plugins`)"))?;
        let (tx, _rx) = mpsc::unbounded_channel();
        match self
            .inner
            .plugins
            .biometric_verify(&plugin, self.biometric_timeout(), tx)
            .await
        {
            Ok(()) => Ok(Verify::Match),
            Err(PluginError::NoMatch { message, .. }) => Ok(Verify::NoMatch(message)),
            Err(e) => Err(biometric_error(&plugin, e)),
        }
    }

    async fn check_biometrics(&self) -> Result<Ready, String> {
        if !self.config().biometrics.allowed {
            return Err("biometrics are turned off by policy (biometrics.allowed = false)".into());
        }
        let plugin = self.biometric_plugin().ok_or_else(|| {
            "no biometric plugin is loaded (install biometric-fprintd for a fingerprint \
                 reader; `tessera plugins` lists what was found)"
                .to_owned()
        })?;
        let availability = self
            .inner
            .plugins
            .biometric_availability(&plugin, self.biometric_timeout())
            .await
            .map_err(|e| match e {
                PluginError::SourceUnavailable { message, .. } => message,
                other => other.to_string(),
            })?;
        if !availability.device_present {
            return Err(format!(
                "{plugin}: no biometric device is present ({})",
                availability.message
            ));
        }
        KeyStore::new().check().await.map_err(|e| match e {
            crate::keyring::KeyringError::Unavailable(reason) => format!(
                "the login keyring (Secret Service), which keeps the biometric key, is not \
                 available: {reason}"
            ),
            other => other.to_string(),
        })?;
        Ok(Ready {
            plugin,
            availability,
        })
    }

    /// Why biometrics were unavailable at the last check, if they were.
    pub(crate) fn biometric_unavailable_reason(&self) -> Option<String> {
        self.bio().last_reason.lock().expect("poisoned").clone()
    }

    /// Whether an activation may offer biometrics (see `Setup::biometrics`);
    /// the reason is kept for the view when not.
    pub(crate) async fn offer_biometrics(&self, pin_vault: bool) -> bool {
        if !pin_vault {
            *self.bio().last_reason.lock().expect("poisoned") = Some(
                "biometrics are an extra way into a PIN vault, and this vault has no PIN \
                 (vault.protection = \"keyring\")"
                    .into(),
            );
            return false;
        }
        match self.biometrics_ready().await {
            Ok(_) => true,
            Err(reason) => {
                tracing::info!(%reason, "biometrics not offered");
                false
            }
        }
    }

    pub async fn biometric_status(&self) -> BiometricStatus {
        let enabled = self
            .vault()
            .lock()
            .await
            .slots()
            .contains(&SlotKind::Biometric);
        let config = self.config();
        let ready = self.biometrics_ready().await;
        let (available, reason, plugin, device, enrolled) = match ready {
            Ok(r) => (
                true,
                None,
                Some(r.plugin),
                Some(r.availability.message),
                r.availability.enrolled,
            ),
            Err(reason) => (
                false,
                Some(reason),
                self.inner
                    .plugins
                    .biometrics()
                    .first()
                    .map(|p| p.name.clone()),
                None,
                0,
            ),
        };
        BiometricStatus {
            allowed: config.biometrics.allowed,
            enabled,
            available,
            reason,
            plugin,
            device,
            enrolled,
            failures: self.bio().failures.load(Ordering::Relaxed),
            max_failures: config.biometrics.max_failures,
        }
    }

    /// Opens the vault with the PIN when it is locked (for enable and
    /// disable); an unlocked vault needs none.
    async fn unlocked_for_change(&self, pin: Option<SecretString>) -> ServiceResult<()> {
        self.with_vault(move |v| {
            if !v.exists() {
                return Err(ServiceError::no_vault());
            }
            if v.is_unlocked() {
                return Ok(());
            }
            match pin {
                Some(pin) if !pin.expose().is_empty() => v
                    .unlock_with_pin(&pin, SystemTime::now())
                    .map_err(ServiceError::from),
                _ => Err(ServiceError::new(
                    ErrorCode::VaultLocked,
                    "the vault is locked: unlock it first, or give the PIN",
                )),
            }
        })
        .await?
    }

    /// Turns biometrics on: checks the PIN (or an unlocked vault), enrolls a
    /// finger when none is enrolled or else verifies one, then stores a new
    /// key in the login keyring and adds the biometric slot.
    pub async fn enable_biometrics(
        &self,
        pin: Option<SecretString>,
    ) -> ServiceResult<BiometricStatus> {
        if !self.config().biometrics.allowed {
            return Err(ServiceError::new(
                ErrorCode::Policy,
                "biometrics are turned off by policy (biometrics.allowed = false)",
            ));
        }
        {
            let v = self.vault().lock().await;
            if v.exists() && !v.has_pin() {
                return Err(ServiceError::new(
                    ErrorCode::Unsupported,
                    "biometrics are an extra way into a PIN vault, and this vault has no PIN \
                     (it opens from the login keyring)",
                ));
            }
        }
        self.unlocked_for_change(pin).await?;
        let ready = self.biometrics_ready().await.map_err(unavailable)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<BiometricProgress>();
        let plugins = self.inner.plugins.clone();
        let timeout = self.biometric_timeout();
        let enroll = ready.availability.enrolled == 0;
        let logger = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                tracing::info!(stage = p.stage, stages = p.stages, message = %p.message, "biometric progress");
            }
        });
        let result = if enroll {
            plugins.biometric_enroll(&ready.plugin, timeout, tx).await
        } else {
            plugins.biometric_verify(&ready.plugin, timeout, tx).await
        };
        logger.abort();
        result.map_err(|e| biometric_error(&ready.plugin, e))?;
        self.with_vault(add_biometric_slot).await??;
        self.bio().failures.store(0, Ordering::Relaxed);
        tracing::info!(plugin = %ready.plugin, enrolled = enroll, "biometrics enabled");
        Ok(self.biometric_status().await)
    }

    /// Turns biometrics off: removes the vault's biometric slot and deletes
    /// its key from the login keyring.
    pub async fn disable_biometrics(
        &self,
        pin: Option<SecretString>,
    ) -> ServiceResult<BiometricStatus> {
        let has_slot = self
            .vault()
            .lock()
            .await
            .slots()
            .contains(&SlotKind::Biometric);
        if has_slot {
            self.unlocked_for_change(pin).await?;
        }
        let id = self.with_vault(move |v| {
            if has_slot {
                v.remove_slot(SlotKind::Biometric)?;
            }
            Ok::<_, VaultError>(v.id())
        });
        let id = id.await??;
        if let Some(id) = id {
            KeyStore::new()
                .delete(&id, SlotKind::Biometric)
                .await
                .map_err(|e| {
                    ServiceError::new(
                        ErrorCode::Unsupported,
                        format!(
                            "biometrics are off (the vault no longer has a biometric slot), but \
                             the key could not be deleted from the login keyring: {e}; delete \
                             it with `secret-tool clear application tessera tessera-vault {id} \
                             tessera-slot biometric`"
                        ),
                    )
                })?;
        }
        self.bio().failures.store(0, Ordering::Relaxed);
        tracing::info!("biometrics disabled");
        Ok(self.biometric_status().await)
    }

    /// Unlocks by `method` (see [`UnlockMethod`]).
    pub async fn unlock_with(
        &self,
        method: UnlockMethod,
        pin: SecretString,
    ) -> ServiceResult<VaultStatus> {
        let biometric = match method {
            UnlockMethod::Pin => false,
            UnlockMethod::Biometric => true,
            UnlockMethod::Auto => {
                let v = self.vault().lock().await;
                pin.expose().is_empty()
                    && v.slots().contains(&SlotKind::Biometric)
                    && self.config().biometrics.allowed
                    && self.bio().failures.load(Ordering::Relaxed)
                        < self.config().biometrics.max_failures
            }
        };
        if biometric {
            return self.unlock_by_biometrics().await;
        }
        let status = self.unlock(pin).await?;
        self.bio().failures.store(0, Ordering::Relaxed);
        Ok(status)
    }

    /// One finger check that counts: refused once
    /// `biometrics.max_failures` no-matches came in a row, a no-match
    /// counted (`NoMatch`, or `BiometricsUnavailable` at the limit), a
    /// match resets the count. `what` names the action the PIN still does
    /// ("unlock", "sign").
    pub(crate) async fn finger_matches(&self, what: &str) -> ServiceResult<()> {
        let max = self.config().biometrics.max_failures;
        let failures = self.bio().failures.load(Ordering::Relaxed);
        if failures >= max {
            return Err(unavailable(format!(
                "{failures} fingerprints in a row did not match: {what} with the PIN"
            )));
        }
        let verified = self.verify_finger().await.map_err(|e| {
            ServiceError::new(e.code, format!("{}; {what} with the PIN", e.message))
        })?;
        if let Verify::NoMatch(message) = verified {
            let failures = self.bio().failures.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::info!(failures, max, "biometric no-match");
            return Err(if failures >= max {
                unavailable(format!(
                    "{message} ({failures} of {max} tries): {what} with the PIN"
                ))
            } else {
                ServiceError::new(
                    ErrorCode::NoMatch,
                    format!("{message} ({failures} of {max} tries); try again"),
                )
            });
        }
        self.bio().failures.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Verifies the user with the biometric plugin, then opens the vault
    /// with the biometric slot's key from the login keyring. An unlocked
    /// vault still asks for the finger (and says it was unlocked).
    pub async fn unlock_by_biometrics(&self) -> ServiceResult<VaultStatus> {
        let already_unlocked = {
            let v = self.vault().lock().await;
            if !v.exists() {
                return Err(ServiceError::no_vault());
            }
            if !v.slots().contains(&SlotKind::Biometric) {
                return Err(unavailable(
                    "biometrics are not enabled for this vault; unlock with the PIN (and turn \
                     them on with `tessera biometrics enable`)",
                ));
            }
            v.is_unlocked()
        };
        self.finger_matches("unlock").await?;
        self.with_vault(unlock_from_biometric_slot).await??;
        tracing::info!(already_unlocked, "vault unlocked with biometrics");
        Ok(VaultStatus {
            already_unlocked,
            ..self.vault_status().await
        })
    }

    /// The `StartEnroll` effect of activation `session_id`: enrolls a
    /// finger when none is, otherwise verifies one; reports progress and the
    /// end as events on `events`. Cancelled by [`Self::cancel_activation_enroll`].
    pub(crate) fn activation_enroll(&self, session_id: &str, events: mpsc::UnboundedSender<Event>) {
        let service = self.clone();
        let id = session_id.to_owned();
        let task = tokio::spawn(async move {
            let done = service.enroll_or_verify(&events).await;
            service.bio().enrolls.lock().expect("poisoned").remove(&id);
            let _ = events.send(Event::EnrollDone(done));
        });
        self.bio()
            .enrolls
            .lock()
            .expect("poisoned")
            .insert(session_id.to_owned(), task.abort_handle());
    }

    /// The `CancelEnroll` effect: stops the plugin call (dropping it
    /// cancels it in the plugin, which releases the device).
    pub(crate) fn cancel_activation_enroll(&self, session_id: &str) {
        if let Some(task) = self
            .bio()
            .enrolls
            .lock()
            .expect("poisoned")
            .remove(session_id)
        {
            task.abort();
            tracing::info!(activation = session_id, "biometric enrollment cancelled");
        }
    }

    async fn enroll_or_verify(&self, events: &mpsc::UnboundedSender<Event>) -> Result<(), String> {
        let ready = self.biometrics_ready().await?;
        let enroll = ready.availability.enrolled == 0;
        let (tx, mut rx) = mpsc::unbounded_channel::<BiometricProgress>();
        let forward = {
            let events = events.clone();
            tokio::spawn(async move {
                let mut last = (0, 0);
                while let Some(p) = rx.recv().await {
                    if p.kind == ProgressKind::Stage || p.stages > 0 {
                        last = (p.stage, p.stages);
                    }
                    let _ = events.send(Event::EnrollProgress {
                        stage: last.0,
                        stages: last.1,
                        message: p.message,
                    });
                }
            })
        };
        let timeout = self.biometric_timeout();
        let plugins = self.inner.plugins.clone();
        let result = if enroll {
            let _ = events.send(Event::EnrollProgress {
                stage: 0,
                stages: 0,
                message: format!(
                    "Enrolling a new fingerprint on {}: place your finger on the reader",
                    ready.availability.message
                ),
            });
            plugins.biometric_enroll(&ready.plugin, timeout, tx).await
        } else {
            let _ = events.send(Event::EnrollProgress {
                stage: 0,
                stages: 1,
                message: format!(
                    "Touch {} with an enrolled finger to show that it works",
                    ready.availability.message
                ),
            });
            plugins.biometric_verify(&ready.plugin, timeout, tx).await
        };
        let _ = forward.await;
        result.map_err(|e| {
            format!(
                "{}; choose again",
                biometric_error(&ready.plugin, e).message
            )
        })
    }
}

/// How a plugin's answer looks to clients.
fn biometric_error(plugin: &str, e: PluginError) -> ServiceError {
    match e {
        PluginError::NoMatch { message, .. } => ServiceError::new(ErrorCode::NoMatch, message),
        PluginError::SourceUnavailable { message, .. }
        | PluginError::NoSample { message, .. }
        | PluginError::Failed { message, .. } => unavailable(message),
        PluginError::Cancelled { .. } => unavailable("the biometric check was cancelled"),
        other => ServiceError::new(
            ErrorCode::PluginFailed,
            format!("the biometric plugin {plugin} failed: {other}; see `tessera plugins`"),
        ),
    }
}

/// Adds (or replaces) the biometric slot of an unlocked vault: a new random
/// key goes into the login keyring first, then the slot is written; if
/// writing fails the keyring item is taken back. Runs on a blocking thread
/// (inside `with_vault`).
pub(crate) fn add_biometric_slot(v: &mut Vault) -> ServiceResult<()> {
    let id = v.id().ok_or_else(ServiceError::no_vault)?;
    let key = new_slot_key();
    let keyring = KeyStore::new();
    block_on(keyring.store(&id, SlotKind::Biometric, &key))
        .map_err(|e| unavailable(format!("biometrics cannot be turned on: {e}")))?;
    if let Err(e) = v.add_slot(SlotKind::Biometric, &key) {
        if let Err(cleanup) = block_on(keyring.delete(&id, SlotKind::Biometric)) {
            tracing::warn!(error = %cleanup, "cannot remove the unused biometric key from the login keyring");
        }
        return Err(e.into());
    }
    Ok(())
}

/// Opens a locked vault with the biometric slot's key from the login
/// keyring (after a match). Runs on a blocking thread.
fn unlock_from_biometric_slot(v: &mut Vault) -> ServiceResult<()> {
    if v.is_unlocked() {
        return Ok(());
    }
    let id = v.id().expect("a vault with slots has an id");
    let key = block_on(KeyStore::new().load(&id, SlotKind::Biometric))
        .map_err(|e| unavailable(format!("{e}; unlock with the PIN")))?
        .ok_or_else(|| {
            unavailable(format!(
                "the fingerprint matched, but the vault's biometric key is missing from the \
                 login keyring (application=tessera, tessera-vault={id}, \
                 tessera-slot=biometric); unlock with the PIN, then run `tessera biometrics \
                 disable` and `enable` again"
            ))
        })?;
    match v.unlock_with_slot_key(SlotKind::Biometric, &key) {
        Ok(()) => Ok(()),
        Err(VaultError::WrongKey(_) | VaultError::InvalidSlot { .. }) => Err(unavailable(format!(
            "the fingerprint matched, but the biometric key in the login keyring (item \
             tessera-vault={id}, tessera-slot=biometric) does not open this vault; unlock with \
             the PIN, then run `tessera biometrics disable` and `enable` again"
        ))),
        Err(e) => Err(e.into()),
    }
}

impl Service {
    /// After an activation chose biometrics and its accounts were written:
    /// adds the biometric slot. The accounts stay stored when this fails;
    /// the reason is logged and `tessera biometrics status` shows it off.
    pub(crate) async fn add_biometric_slot_after_store(&self) {
        match self.with_vault(add_biometric_slot).await {
            Ok(Ok(())) => {
                self.bio().failures.store(0, Ordering::Relaxed);
                tracing::info!("biometric slot added");
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the accounts are stored, but biometrics could not be turned on");
                *self.bio().last_reason.lock().expect("poisoned") = Some(e.message);
            }
            Err(e) => tracing::warn!(error = %e, "biometric slot task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tessera_plugin_host::PluginHost;

    use super::*;
    use crate::config::Config;

    fn service(dir: &std::path::Path, config: Config) -> Service {
        let vault = Vault::open(dir).unwrap();
        Service::new(vault, config, Arc::new(PluginHost::empty()))
    }

    #[tokio::test]
    async fn without_a_plugin_biometrics_are_unavailable_and_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path(), Config::default());
        let status = s.biometric_status().await;
        assert!(status.allowed && !status.enabled && !status.available);
        assert!(
            status
                .reason
                .as_deref()
                .unwrap()
                .starts_with("no biometric plugin is loaded"),
            "{status:?}"
        );
        assert!(!s.offer_biometrics(true).await);
        assert_eq!(
            s.biometric_unavailable_reason(),
            status.reason,
            "the view shows the same reason"
        );
        let e = s.unlock_by_biometrics().await.unwrap_err();
        assert_eq!(e.code, ErrorCode::NoVault);
    }

    #[tokio::test]
    async fn policy_can_turn_biometrics_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.biometrics.allowed = false;
        let s = service(dir.path(), config);
        let status = s.biometric_status().await;
        assert!(!status.allowed && !status.available);
        assert!(
            status
                .reason
                .unwrap()
                .contains("biometrics.allowed = false")
        );
        let e = s.enable_biometrics(None).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Policy);
    }

    #[tokio::test]
    async fn a_keyring_vault_is_not_offered_biometrics() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path(), Config::default());
        assert!(!s.offer_biometrics(false).await);
        assert!(
            s.biometric_unavailable_reason()
                .unwrap()
                .contains("this vault has no PIN")
        );
    }
}
