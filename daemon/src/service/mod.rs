//! The service layer: every operation of the daemon, once. The gRPC (and
//! later D-Bus) adapters only translate requests into these calls and
//! results back.
//!
//! - [`accounts`]: list, get, rename, delete, codes, OCRA responses.
//! - [`vault_ops`]: status, lock, unlock, change PIN, auto-lock.
//! - [`activations`]: running activations driving the state machine.
//! - [`config_ops`]: reloaded settings, policy checks, `config show`.
//! - [`biometrics`]: biometric slot, enable/disable, unlock by finger.
//! - [`approvals`]: approvals through notifications (`RequestApproval`).
//! - [`search`]: accounts for the desktop shells' search.
//! - [`plan`]: what a decoded payload will store.
//! - [`scanning`]: sources through the scanner plugins; plugins and
//!   decoded codes as clients see them.
//! - [`signing`]: transaction signing: a request read, reviewed, approved
//!   with the PIN or a finger, answered.

pub mod accounts;
pub mod activations;
pub mod approvals;
pub mod backup_ops;
pub mod biometrics;
pub mod config_ops;
pub mod export_ops;
pub mod import_ops;
pub mod plan;
pub mod preview;
pub mod scanning;
pub mod search;
pub mod signing;
pub mod tpm_ops;
pub mod vault_ops;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tessera_plugin_host::PluginHost;
use tokio::sync::Mutex;

use crate::config::{Config, PinConfigExt};
use crate::error::{ErrorCode, ServiceError};
use crate::vault::{Vault, VaultError};

pub use accounts::CodeInfo;
pub use activations::{ActivationView, Activations, Client};
pub use biometrics::{BiometricStatus, UnlockMethod};
pub use scanning::{DecodedCode, ScanSource, SourceInfo};
pub use tpm_ops::TpmStatus;
pub use vault_ops::VaultStatus;

/// The daemon's state, shared by all adapters. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    vault: Arc<Mutex<Vault>>,
    /// The effective settings; replaced whole on reload, so a reader keeps
    /// one consistent snapshot for as long as it holds the `Arc`.
    config: std::sync::RwLock<Arc<Config>>,
    /// The plugins loaded at start-up (empty: images are decoded in
    /// process, and there is no camera or screen).
    plugins: Arc<PluginHost>,
    activations: Activations,
    approvals: approvals::Approvals,
    biometrics: biometrics::BiometricState,
    signings: signing::Signings,
    started: Instant,
    /// Milliseconds since `started` of the last use of the vault.
    last_use_ms: AtomicU64,
    /// Where the daemon logs, in words (set once at start-up).
    log_destination: std::sync::OnceLock<String>,
    /// How many times the vault was locked (on request or when idle).
    locks: tokio::sync::watch::Sender<u64>,
}

impl Service {
    /// The service over `vault`, with the plugins the daemon loaded at
    /// start-up (`PluginHost::empty()` for none).
    pub fn new(vault: Vault, config: Config, plugins: Arc<PluginHost>) -> Self {
        let mut vault = vault;
        vault.set_pin_delay_policy(config.pin.delay_policy());
        vault.set_backup_policy(config_ops::backup_policy(&config, vault.dir()));
        let folder = config_ops::backup_folder(&config, vault.dir());
        vault.set_backup_folder(folder);
        vault.set_tpm(Some(crate::config::TpmConfigExt::tpm(&config)));
        Self {
            inner: Arc::new(Inner {
                vault: Arc::new(Mutex::new(vault)),
                config: std::sync::RwLock::new(Arc::new(config)),
                plugins,
                activations: Activations::default(),
                approvals: approvals::Approvals::default(),
                biometrics: biometrics::BiometricState::default(),
                signings: signing::Signings::default(),
                started: Instant::now(),
                last_use_ms: AtomicU64::new(0),
                log_destination: std::sync::OnceLock::new(),
                locks: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// Changes each time the vault is locked, on request or when idle: the
    /// gRPC server then closes its connections, so the buffers that held
    /// their requests (PINs, secrets) are freed and wiped.
    pub fn lock_events(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.locks.subscribe()
    }

    fn locked_now(&self) {
        self.inner.locks.send_modify(|n| *n += 1);
    }

    /// Records where the daemon logs (start-up), for `tessera status`.
    pub fn set_log_destination(&self, destination: String) {
        let _ = self.inner.log_destination.set(destination);
    }

    /// Where the daemon logs, in words; empty when not recorded.
    pub fn log_destination(&self) -> &str {
        self.inner
            .log_destination
            .get()
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// A snapshot of the effective settings.
    pub fn config(&self) -> Arc<Config> {
        self.inner
            .config
            .read()
            .expect("config lock poisoned")
            .clone()
    }

    /// Puts new settings in force (reload). Calls already running keep the
    /// snapshot they took.
    pub fn replace_config(&self, config: Config) {
        *self.inner.config.write().expect("config lock poisoned") = Arc::new(config);
    }

    fn vault(&self) -> &Arc<Mutex<Vault>> {
        &self.inner.vault
    }

    /// Runs `f` on the vault off the async runtime (Argon2 and fsync block).
    async fn with_vault<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vault) -> R + Send + 'static,
    ) -> Result<R, ServiceError> {
        let guard = self.vault().clone().lock_owned().await;
        self.touch();
        tokio::task::spawn_blocking(move || {
            let mut guard = guard;
            f(&mut guard)
        })
        .await
        .map_err(|e| ServiceError::internal(format!("vault task failed: {e}")))
    }

    /// The running activations as a client that did not start them may see
    /// them (D-Bus `Activations`): see [`Service::as_shown`].
    pub async fn activation_views_shown(&self) -> Vec<ActivationView> {
        self.as_shown(self.activation_views()).await
    }

    /// One activation's view as anyone may see it (D-Bus `GetActivation`
    /// and `ActivationChanged`): see [`Service::as_shown`].
    pub async fn activation_view_shown(&self, view: ActivationView) -> ActivationView {
        let mut shown = self.as_shown(vec![view]).await;
        shown.pop().expect("one view in, one out")
    }

    /// A finished activation names its accounts only while the vault is
    /// unlocked and only those still in it, so a locked vault's labels and
    /// deleted accounts never show.
    async fn as_shown(&self, mut views: Vec<ActivationView>) -> Vec<ActivationView> {
        let activated = |v: &ActivationView| matches!(v.state, crate::activation::State::Activated);
        // Only finished activations name stored accounts: the others need
        // no vault, and must not wait for it (an Argon2 unlock holds it).
        if !views.iter().any(activated) {
            return views;
        }
        let vault = self.vault().lock().await;
        let stored: std::collections::HashSet<_> = vault
            .accounts()
            .map(|a| a.iter().map(|a| a.id.clone()).collect())
            .unwrap_or_default();
        drop(vault);
        for v in views.iter_mut().filter(|v| activated(v)) {
            v.accounts.retain(|a| stored.contains(&a.id));
        }
        views
    }

    /// Notes a use of the vault for auto-lock.
    fn touch(&self) {
        let ms = self.inner.started.elapsed().as_millis() as u64;
        self.inner.last_use_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.inner.last_use_ms.load(Ordering::Relaxed));
        self.inner.started.elapsed().saturating_sub(last)
    }
}

/// How the vault is protected, as clients see it (the adapters map this,
/// never the vault's own type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// A PIN (biometrics may be an extra way in).
    Pin,
    /// A key in the login keyring: nothing the user types.
    Keyring,
}

impl From<crate::vault::Protection> for Protection {
    fn from(p: crate::vault::Protection) -> Self {
        match p {
            crate::vault::Protection::Pin => Self::Pin,
            crate::vault::Protection::Keyring => Self::Keyring,
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How vault errors look to clients: a code and a message that says what to do.
impl From<VaultError> for ServiceError {
    fn from(e: VaultError) -> Self {
        let code = match &e {
            VaultError::Locked => ErrorCode::VaultLocked,
            VaultError::NoVault => ErrorCode::NoVault,
            VaultError::AlreadyExists => ErrorCode::AlreadyExists,
            VaultError::WrongPin { .. }
            | VaultError::WrongPinTpm { .. }
            | VaultError::CopyWrongPin { .. } => ErrorCode::WrongPin,
            VaultError::Tpm { .. } | VaultError::TpmSeal { .. } => ErrorCode::Tpm,
            VaultError::CopyWithoutPin { .. } => ErrorCode::InvalidArgument,
            VaultError::PinDelayed { .. } | VaultError::LockedOut => ErrorCode::PinDelayed,
            VaultError::BodyDamaged { .. } => ErrorCode::VaultUnusable,
            _ => ErrorCode::Internal,
        };
        ServiceError::new(code, e)
    }
}
