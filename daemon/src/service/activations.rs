//! Running activations. Each one owns a [`Machine`], carries out the
//! machine's effects (decode, check the PIN, store) and publishes a view
//! after every change to any number of watchers.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tessera_core::activation::{ActivationCode, DeviceCode, Serial};
use tessera_core::otp::Code;
use tessera_core::payload::{self, Payload, TesseraPayload};
use tessera_plugin_host::PreviewSink;
use tokio::sync::{Mutex, broadcast, watch};
use tokio::time::Instant;

use super::plan::{Plan, SignaturePolicy};
use super::preview::Preview;
use super::scanning::ScanSource;
use super::{Service, unix_now};
use crate::account::AccountInfo;
use crate::activation::{Effect, Event, Machine, PinStep, Setup, Source, State};
use crate::config::{PinConfigExt, ProtectionConfig, TpmConfigExt, VaultConfigExt};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::vault::Protection;

/// How long a finished activation stays visible to watchers.
const LINGER: Duration = Duration::from_secs(60);

/// What clients render.
#[derive(Clone, Debug)]
pub struct ActivationView {
    pub id: String,
    pub revision: u64,
    pub state: State,
    pub device_code: Option<DeviceCode>,
    pub finalize_code: Option<Code>,
    /// When `finalize_code` stops being valid (a TOTP code), Unix seconds.
    pub finalize_valid_until: Option<u64>,
    pub pin_min_length: u32,
    /// Policy allows digits only in a new PIN.
    pub pin_digits_only: bool,
    pub biometric_available: bool,
    /// Why biometrics are not offered, when they are not.
    pub biometric_unavailable_reason: Option<String>,
    /// The accounts this activation will store (or stored).
    pub accounts: Vec<AccountInfo>,
}

/// The most activations under way (not activated, failed or cancelled back
/// to the home screen) that one client may have at once ...
pub const MAX_PENDING_PER_CLIENT: usize = 4;
/// ... and that the daemon runs at once for everyone. Each holds decoded
/// secrets and a timer until it ends or times out
/// (`activation.timeout_minutes`), so these bound what another process of
/// the user's can make the daemon hold.
pub const MAX_PENDING: usize = 16;
/// The most the daemon knows at once, under way or not: an ended one is
/// forgotten a minute after it ends, a cancelled one when it times out.
pub const MAX_KNOWN: usize = 64;

/// Who started an activation: a process on the socket (its pid from
/// `SO_PEERCRED`) or a connection on the bus (its unique name). Only for
/// the limits; every caller was already admitted by [`crate::peer`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client(String);

impl Client {
    /// A gRPC caller by its pid (unknown pids share one place).
    pub fn process(pid: Option<i32>) -> Client {
        Client(pid.map_or_else(|| "pid ?".to_owned(), |p| format!("pid {p}")))
    }

    /// A D-Bus caller by its unique bus name.
    pub fn bus(unique_name: &str) -> Client {
        Client(format!("bus {unique_name}"))
    }

    /// The daemon itself (its own tests).
    #[cfg(test)]
    pub fn internal() -> Client {
        Client("tesserad".to_owned())
    }
}

/// The running activations, by id.
#[derive(Clone)]
pub struct Activations {
    map: Arc<std::sync::Mutex<HashMap<String, Arc<Session>>>>,
    /// Every view of every activation as it changes (the D-Bus signals).
    updates: broadcast::Sender<ActivationView>,
}

impl Default for Activations {
    fn default() -> Self {
        Self {
            map: Arc::default(),
            updates: broadcast::channel(64).0,
        }
    }
}

struct Session {
    id: String,
    /// Who started it, for [`MAX_PENDING_PER_CLIENT`].
    client: Client,
    state: Mutex<SessionState>,
    views: watch::Sender<ActivationView>,
    deadline: std::sync::Mutex<Instant>,
    /// The camera's newest frame while it scans (service/preview.rs).
    preview: Arc<Preview>,
}

struct SessionState {
    machine: Machine,
    revision: u64,
    plan: Option<Plan>,
    /// Accounts written by this activation.
    stored: Vec<AccountInfo>,
}

impl Activations {
    /// Adds `session` unless that would pass a limit on pending ones
    /// (checked and added under one lock, so racing starts cannot pass it).
    fn admit(&self, session: Arc<Session>) -> ServiceResult<()> {
        let mut map = self.map.lock().expect("activation map poisoned");
        let pending: Vec<_> = map
            .values()
            .filter(|s| {
                let state = &s.views.borrow().state;
                !(state.is_over() || *state == State::Home)
            })
            .collect();
        let own = pending
            .iter()
            .filter(|s| s.client == session.client)
            .count();
        if own >= MAX_PENDING_PER_CLIENT {
            return Err(ServiceError::new(
                ErrorCode::Busy,
                format!(
                    "this client already has {own} activations under way, the most one may \
                     have; finish or cancel one first"
                ),
            ));
        }
        if pending.len() >= MAX_PENDING {
            return Err(ServiceError::new(
                ErrorCode::Busy,
                format!(
                    "{} activations are under way, the most tesserad runs at once; finish or \
                     cancel one, or wait until they time out",
                    pending.len()
                ),
            ));
        }
        if map.len() >= MAX_KNOWN {
            return Err(ServiceError::new(
                ErrorCode::Busy,
                format!(
                    "tesserad knows {} activations ({} under way), the most it keeps; ended ones \
                     are forgotten a minute after they end, cancelled ones when they time out",
                    map.len(),
                    pending.len()
                ),
            ));
        }
        map.insert(session.id.clone(), session);
        Ok(())
    }

    /// The live preview of activation `id`.
    pub(super) fn preview(&self, id: &str) -> ServiceResult<Arc<Preview>> {
        Ok(self.get(id)?.preview.clone())
    }

    fn get(&self, id: &str) -> ServiceResult<Arc<Session>> {
        self.map
            .lock()
            .expect("activation map poisoned")
            .get(id)
            .cloned()
            .ok_or_else(|| {
                ServiceError::new(
                    ErrorCode::NotFound,
                    format!(
                        "no activation {:?}; it may have ended or timed out",
                        crate::error::truncate_for_echo(id)
                    ),
                )
            })
    }
}

impl Service {
    /// Starts an activation from `source` for `client` and returns its
    /// first view (after decoding: the device code, or the failure).
    /// [`ErrorCode::Busy`] when `client` already has
    /// [`MAX_PENDING_PER_CLIENT`] under way or the daemon [`MAX_PENDING`].
    pub async fn start_activation(
        &self,
        client: Client,
        source: Source,
    ) -> ServiceResult<ActivationView> {
        let id = hex::encode(rand::random::<[u8; 8]>());
        let state = SessionState {
            machine: Machine::new(),
            revision: 0,
            plan: None,
            stored: Vec::new(),
        };
        let (views, _) = watch::channel(self.view(&id, &state));
        let session = Arc::new(Session {
            id: id.clone(),
            client,
            state: Mutex::new(state),
            views,
            deadline: std::sync::Mutex::new(Instant::now() + self.activation_timeout()),
            preview: Arc::default(),
        });
        self.inner.activations.admit(session.clone())?;
        tokio::spawn(self.clone().expire(session.clone()));
        tracing::info!(activation = %id, "activation started");
        self.apply(&session, 0, Event::Scan(source)).await
    }

    /// Sends a user's event. `revision` 0 skips the staleness check.
    pub async fn send_event(
        &self,
        id: &str,
        revision: u64,
        event: Event,
    ) -> ServiceResult<ActivationView> {
        if event.is_result() || event == Event::TimedOut {
            return Err(ServiceError::invalid_argument(
                "that event is reported by the daemon, not sent by clients",
            ));
        }
        let session = self.inner.activations.get(id)?;
        self.apply(&session, revision, event).await
    }

    /// Every change of every activation from now on (a slow receiver
    /// misses views: it gets `Lagged` and may read the current ones with
    /// [`Service::activation_views`]).
    pub fn activation_updates(&self) -> broadcast::Receiver<ActivationView> {
        self.inner.activations.updates.subscribe()
    }

    /// The current view of each activation the daemon still knows, by id.
    pub fn activation_views(&self) -> Vec<ActivationView> {
        let sessions: Vec<_> = self
            .inner
            .activations
            .map
            .lock()
            .expect("activation map poisoned")
            .values()
            .cloned()
            .collect();
        let mut views: Vec<_> = sessions.iter().map(|s| s.views.borrow().clone()).collect();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// The current view, then every change.
    pub fn watch_activation(&self, id: &str) -> ServiceResult<watch::Receiver<ActivationView>> {
        Ok(self.inner.activations.get(id)?.views.subscribe())
    }

    fn activation_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.config().activation.timeout_minutes) * 60)
    }

    async fn apply(
        &self,
        session: &Arc<Session>,
        revision: u64,
        event: Event,
    ) -> ServiceResult<ActivationView> {
        self.apply_with_plan(session, revision, event, None).await
    }

    /// Steps the machine with `event` and carries out the effects; `plan`
    /// (a capture decoded in the background) is kept only if the event fits.
    async fn apply_with_plan(
        &self,
        session: &Arc<Session>,
        revision: u64,
        event: Event,
        mut plan: Option<Plan>,
    ) -> ServiceResult<ActivationView> {
        let mut st = session.state.lock().await;
        if revision != 0 && revision != st.revision {
            return Err(ServiceError::new(
                ErrorCode::InvalidEvent,
                format!(
                    "the activation has moved on (revision {} , you sent {revision}); refresh and answer the current step",
                    st.revision
                ),
            ));
        }
        *session.deadline.lock().expect("deadline poisoned") =
            Instant::now() + self.activation_timeout();
        let mut queue = VecDeque::from([event]);
        let mut first = true;
        while let Some(event) = queue.pop_front() {
            let event_name = event.name();
            let (next, effects) = match st.machine.step(event) {
                Ok(step) => step,
                Err(invalid) if first => return Err(invalid.into()),
                Err(invalid) => {
                    tracing::error!(activation = %session.id, %invalid, "effect result did not fit");
                    break;
                }
            };
            first = false;
            tracing::debug!(activation = %session.id, event = event_name, state = next.state().name(), "activation step");
            st.machine = next;
            st.revision += 1;
            if let Some(plan) = plan.take() {
                st.plan = Some(plan);
            }
            for effect in effects {
                if let Some(result) = self.run_effect(session, &mut st, effect).await {
                    queue.push_back(result);
                }
            }
        }
        let view = self.view(&session.id, &st);
        session.views.send_replace(view.clone());
        // No receiver is not an error: nobody listens for signals.
        let _ = self.inner.activations.updates.send(view.clone());
        if let Some(until) = view.finalize_valid_until {
            tokio::spawn(
                self.clone()
                    .renew_code(session.clone(), view.revision, until),
            );
        }
        if let State::Activated = view.state {
            tracing::info!(activation = %session.id, accounts = view.accounts.len(), "activation complete");
        }
        Ok(view)
    }

    /// Carries out one effect; returns the event that reports its result.
    async fn run_effect(
        &self,
        session: &Arc<Session>,
        st: &mut SessionState,
        effect: Effect,
    ) -> Option<Event> {
        match effect {
            // A camera or screen capture takes as long as the user needs:
            // decode it in the background so clients see `scanning` (and may
            // cancel) meanwhile; the result arrives as an event.
            Effect::Decode(source @ (Source::Camera { .. } | Source::Screen)) => {
                tokio::spawn(self.clone().capture(session.clone(), source));
                None
            }
            Effect::Decode(source) => Some(match self.decode(source, None).await {
                Ok((plan, setup)) => {
                    st.plan = Some(plan);
                    Event::Decoded(setup)
                }
                Err(e) => Event::DecodeFailed(e),
            }),
            // The vault PIN; a locked vault's accounts can be read only now,
            // so an account it has already fails here, before the finalize
            // code is shown.
            Effect::CheckPin(pin) => {
                let plan = st.plan.clone();
                Some(Event::PinChecked(
                    self.with_vault(move |v| {
                        let now = std::time::SystemTime::now();
                        if v.is_unlocked() {
                            v.verify_pin(&pin, now)
                        } else {
                            v.unlock_with_pin(&pin, now)
                        }
                        .map_err(|e| super::vault_ops::pin_error(v, e))?;
                        match &plan {
                            Some(plan) => plan.check_not_stored(v.accounts()?),
                            None => Ok(()),
                        }
                    })
                    .await
                    .and_then(|r| r),
                ))
            }
            // The plugin asks for a finger for as long as the user needs:
            // progress and the result arrive as events (service/biometrics.rs).
            Effect::StartEnroll => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                self.activation_enroll(&session.id, tx);
                tokio::spawn(self.clone().feed(session.clone(), rx));
                None
            }
            Effect::CancelEnroll => {
                self.cancel_activation_enroll(&session.id);
                None
            }
            Effect::Store { new_pin, method } => {
                let Some(plan) = st.plan.take() else {
                    return Some(Event::Stored(Err(ServiceError::internal(
                        "nothing to store: the activation has no decoded payload",
                    ))));
                };
                let accounts = plan.accounts_to_store();
                let infos: Vec<AccountInfo> = accounts.iter().map(AccountInfo::from).collect();
                let config = self.config();
                let kdf = config.vault.kdf();
                let tpm = config.wants_tpm().then(|| config.tpm_binding());
                let result = match self.check_account_limit(accounts.len(), true).await {
                    Err(e) => Err(e),
                    Ok(()) => self
                        .with_vault(move |v| store_accounts(v, accounts, new_pin, kdf, tpm))
                        .await
                        .and_then(|r| r),
                };
                match result {
                    Ok(()) => {
                        for a in &infos {
                            tracing::info!(id = %a.id, "account stored");
                        }
                        st.stored = infos;
                        if method == crate::activation::Method::Biometric {
                            self.add_biometric_slot_after_store().await;
                        }
                    }
                    Err(_) => st.plan = Some(plan),
                }
                Some(Event::Stored(result))
            }
            Effect::SetNotifications(allowed) => {
                // Kept on the stored accounts: `RequestApproval` asks it.
                let ids: Vec<_> = st.stored.iter().map(|a| a.id.clone()).collect();
                let result = self
                    .with_vault(move |v| {
                        v.update(|accounts| {
                            for a in accounts.iter_mut().filter(|a| ids.contains(&a.id)) {
                                a.notifications = allowed;
                            }
                            Ok(())
                        })
                    })
                    .await;
                match result {
                    Ok(Ok(())) => {
                        for a in &mut st.stored {
                            a.notifications = allowed;
                        }
                        tracing::info!(allowed, "notification permission stored");
                    }
                    Ok(Err(e)) => tracing::error!("cannot store the notification permission: {e}"),
                    Err(e) => tracing::error!("cannot store the notification permission: {e}"),
                }
                None
            }
            Effect::Discard => {
                st.plan = None;
                None
            }
        }
    }

    /// Keeps a shown TOTP code current: when it expires the view is made
    /// again and published with the same revision (nothing a client answers
    /// has changed), so Watch and the D-Bus signal have the next code with
    /// its `valid_until`. Stops once the activation moves on.
    async fn renew_code(self, session: Arc<Session>, revision: u64, mut until: u64) {
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let wait = Duration::from_secs(until).saturating_sub(now);
            tokio::time::sleep(wait).await;
            let st = session.state.lock().await;
            if st.revision != revision {
                return;
            }
            let view = self.view(&session.id, &st);
            drop(st);
            let next = view.finalize_valid_until;
            session.views.send_replace(view.clone());
            let _ = self.inner.activations.updates.send(view);
            match next {
                Some(t) if t > until => until = t,
                _ => return,
            }
        }
    }

    /// Decodes a capture and feeds the result to the activation. Boxed: it
    /// steps the machine, whose effects may start another capture.
    fn capture(
        self,
        session: Arc<Session>,
        source: Source,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            // The camera's frames go to the preview while the activation
            // is scanning (or asking whether to cancel); once it has moved
            // elsewhere (cancelled back home, timed out) the plugin is
            // asked to stop. The view may not say `scanning` yet when the
            // first frame comes: its revision has then not moved.
            let views = session.views.subscribe();
            let started = views.borrow().revision;
            let sink = session.preview.sink(move || {
                let view = views.borrow();
                view.revision == started
                    || matches!(view.state, State::Scanning | State::CancelConfirm { .. })
            });
            let decoded = self.decode(source, Some(sink)).await;
            session.preview.clear();
            let (plan, event) = match decoded {
                Ok((plan, setup)) => (Some(plan), Event::Decoded(setup)),
                Err(e) => (None, Event::DecodeFailed(e)),
            };
            if let Err(e) = self.apply_with_plan(&session, 0, event, plan).await {
                tracing::info!(activation = %session.id, "capture result dropped: {e}");
            }
        })
    }

    /// Feeds events from background work (biometric enrollment) to the
    /// activation. Boxed: it steps the machine, whose effects may start more.
    fn feed(
        self,
        session: Arc<Session>,
        mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            while let Some(event) = events.recv().await {
                if let Err(e) = self.apply(&session, 0, event).await {
                    tracing::info!(activation = %session.id, "biometric result dropped: {e}");
                }
            }
        })
    }

    /// Decodes a source into a plan and the activation's setup; a camera's
    /// frames go to `preview`.
    async fn decode(
        &self,
        source: Source,
        preview: Option<PreviewSink>,
    ) -> ServiceResult<(Plan, Setup)> {
        let payload = match source {
            // Through the scanner plugins (service/scanning.rs).
            Source::Image(bytes) => {
                first_payload(&self.scan_texts(ScanSource::Image(bytes), None).await?)?
            }
            Source::Camera { device } => first_payload(
                &self
                    .scan_texts(ScanSource::Camera { device }, preview)
                    .await?,
            )?,
            Source::Screen => first_payload(&self.scan_texts(ScanSource::Screen, None).await?)?,
            Source::Text(text) => parse_payload(&text)?,
            Source::Manual { serial, code } => {
                let serial = Serial::from_typed(&serial).map_err(invalid_payload)?;
                let code =
                    ActivationCode::parse(&serial, code.expose()).map_err(invalid_payload)?;
                Payload::Tessera(TesseraPayload::new(serial, code))
            }
        };
        let config = self.config();
        let policy = SignaturePolicy {
            trusted: config.trusted_issuers().map_err(ServiceError::internal)?,
            require_signature: config.issuers.require_signature,
        };
        let plan = Plan::new(payload, rand::random(), &policy)?;
        // Fleet policy: otpauth, algorithms, the most accounts (service/config_ops.rs).
        super::config_ops::check_plan(&config, &plan)?;
        self.check_account_limit(plan.accounts.len(), false).await?;
        self.check_not_stored_yet(&plan).await?;
        let protection = self.vault().lock().await.protection();
        let pin = match (protection, config.vault.protection) {
            (Some(Protection::Pin), _) => PinStep::Enter,
            (Some(_), _) => PinStep::Skip,
            (None, ProtectionConfig::Pin | ProtectionConfig::Tpm | ProtectionConfig::TpmPin) => {
                PinStep::Choose
            }
            (None, ProtectionConfig::Keyring) => PinStep::Skip,
        };
        let setup = Setup {
            device_code: plan.device_code.is_some(),
            pin,
            pin_rules: config.pin.rules(),
            biometrics: self
                .offer_biometrics(matches!(pin, PinStep::Choose | PinStep::Enter))
                .await,
            notifications: config.activation.notifications && config.notifications.allowed,
        };
        Ok((plan, setup))
    }

    /// Refuses an account the vault has already, right after decoding,
    /// when the vault can be read: unlocked, or a keyring vault (opened
    /// from the login keyring as every account call does). A locked PIN
    /// vault is checked right after its PIN (the `CheckPin` effect).
    async fn check_not_stored_yet(&self, plan: &Plan) -> ServiceResult<()> {
        self.ensure_unlocked().await?;
        let vault = self.vault().lock().await;
        match vault.accounts() {
            Ok(existing) => plan.check_not_stored(existing),
            // No vault yet, or locked: nothing to compare with now.
            Err(_) => Ok(()),
        }
    }

    fn view(&self, id: &str, st: &SessionState) -> ActivationView {
        let now = unix_now();
        let state = st.machine.state().clone();
        let plan = st.plan.as_ref();
        let shown = match &state {
            State::CancelConfirm { previous } => previous.as_ref(),
            s => s,
        };
        ActivationView {
            id: id.to_owned(),
            revision: st.revision,
            device_code: plan
                .filter(|_| matches!(shown, State::DeviceCode))
                .and_then(|p| p.device_code),
            finalize_code: plan
                .filter(|_| matches!(shown, State::FinalizeCode))
                .and_then(|p| p.finalize_code(now)),
            finalize_valid_until: plan
                .filter(|_| matches!(shown, State::FinalizeCode))
                .and_then(|p| p.finalize_valid_until(now)),
            state,
            pin_min_length: self.config().pin.min_length,
            pin_digits_only: self.config().pin.digits_only,
            biometric_available: st.machine.setup().is_some_and(|s| s.biometrics),
            biometric_unavailable_reason: st
                .machine
                .setup()
                .filter(|s| !s.biometrics)
                .and_then(|_| self.biometric_unavailable_reason()),
            accounts: plan.map_or_else(|| st.stored.clone(), Plan::account_infos),
        }
    }

    /// Times the activation out after inactivity, then forgets it.
    async fn expire(self, session: Arc<Session>) {
        loop {
            let deadline = *session.deadline.lock().expect("deadline poisoned");
            tokio::time::sleep_until(deadline).await;
            if Instant::now() >= *session.deadline.lock().expect("deadline poisoned") {
                break;
            }
        }
        let finished = session.state.lock().await.machine.state().is_over();
        if !finished {
            let _ = self.apply(&session, 0, Event::TimedOut).await;
            tracing::info!(activation = %session.id, "activation timed out");
        }
        tokio::time::sleep(LINGER).await;
        self.inner
            .activations
            .map
            .lock()
            .expect("activation map poisoned")
            .remove(&session.id);
    }
}

fn invalid_payload(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(ErrorCode::InvalidPayload, e)
}

fn parse_payload(text: &str) -> ServiceResult<Payload> {
    payload::parse(text).map_err(invalid_payload)
}

/// The first code in an image that is a payload; otherwise the first error.
fn first_payload(texts: &[String]) -> ServiceResult<Payload> {
    let mut first_error = None;
    for t in texts {
        match parse_payload(t) {
            Ok(p) => return Ok(p),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error
        .unwrap_or_else(|| ServiceError::new(ErrorCode::InvalidImage, "image: no QR code found")))
}

/// Creates a vault without a PIN (policy `vault.protection = "keyring"`):
/// a new slot key goes into the login keyring first, then the vault is
/// written. If the keyring refuses, nothing is created; if writing the vault
/// fails, the keyring item is taken back.
fn create_keyring_vault(
    v: &mut crate::vault::Vault,
    accounts: Vec<crate::account::Account>,
) -> ServiceResult<()> {
    use super::vault_ops::block_on;
    use crate::keyring::KeyStore;
    use crate::vault::{SlotKind, new_slot_key};

    let id = v.next_id();
    let key = new_slot_key();
    let keyring = KeyStore::new();
    block_on(keyring.store(&id, SlotKind::Keyring, &key))?;
    if let Err(e) = v.create_with_slot_key(SlotKind::Keyring, &key, accounts) {
        if let Err(cleanup) = block_on(keyring.delete(&id, SlotKind::Keyring)) {
            tracing::warn!(error = %cleanup, "cannot remove the unused vault key from the login keyring");
        }
        return Err(e.into());
    }
    Ok(())
}

/// Writes the activation's accounts, creating the vault on first use (and
/// opening a locked keyring vault from the login keyring). With `tpm`
/// (`vault.protection = "tpm"` or `"tpm+pin"`) a new vault's key is sealed
/// to the TPM; when the TPM cannot seal, no vault is written and the
/// activation fails with the TPM's reason (policy asked for it).
fn store_accounts(
    v: &mut crate::vault::Vault,
    accounts: Vec<crate::account::Account>,
    new_pin: Option<tessera_core::SecretString>,
    kdf: crate::vault::KdfParams,
    tpm: Option<crate::vault::TpmBinding>,
) -> ServiceResult<()> {
    if !v.exists() {
        let Some(pin) = new_pin else {
            return create_keyring_vault(v, accounts);
        };
        return match tpm {
            Some(binding) => v.create_with_tpm(&pin, kdf, &binding, accounts),
            None => v.create_with_pin(&pin, kdf, accounts),
        }
        .map_err(Into::into);
    }
    super::vault_ops::unlock_from_keyring(v)?;
    // Checked at the start already; again here, as another client may have
    // stored the same account meanwhile.
    super::plan::check_not_stored(&accounts, v.accounts()?)?;
    v.update(move |all| {
        all.extend(accounts);
        Ok(())
    })
    .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::vault::Vault;
    use tessera_plugin_host::PluginHost;

    const OTPAUTH: &str = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";

    fn service(dir: &std::path::Path) -> Service {
        let vault = Vault::open(dir).unwrap();
        Service::new(vault, Config::default(), Arc::new(PluginHost::empty()))
    }

    /// An abandoned activation fails after the timeout (10 minutes by
    /// default), forgets what it held, and is dropped a minute later.
    #[tokio::test(start_paused = true)]
    async fn an_abandoned_activation_times_out_and_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path());
        let view = s
            .start_activation(Client::internal(), Source::Text(OTPAUTH.into()))
            .await
            .unwrap();
        assert_eq!(view.state.name(), "choose_pin");
        let mut watch = s.watch_activation(&view.id).unwrap();

        // Activity pushes the deadline back.
        tokio::time::sleep(Duration::from_secs(9 * 60)).await;
        let view = s
            .send_event(&view.id, 0, Event::Pin("482915".into()))
            .await
            .unwrap();
        assert_eq!(view.state.name(), "confirm_pin");
        tokio::time::sleep(Duration::from_secs(9 * 60)).await;
        assert_eq!(watch.borrow_and_update().state.name(), "confirm_pin");

        tokio::time::sleep(Duration::from_secs(2 * 60)).await;
        watch.changed().await.unwrap();
        let failed = watch.borrow_and_update().clone();
        let State::Failed { error } = &failed.state else {
            panic!("expected failed, got {:?}", failed.state)
        };
        assert_eq!(error.code, ErrorCode::ActivationEnded);
        assert!(failed.accounts.is_empty(), "the plan is discarded");
        let e = s
            .send_event(&failed.id, 0, Event::Pin("482915".into()))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidEvent);

        tokio::time::sleep(LINGER + Duration::from_secs(1)).await;
        let e = s
            .send_event(&failed.id, 0, Event::StartOver)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        assert!(!dir.path().join("vault").exists(), "nothing was stored");
    }

    /// Pending activations are bounded per client and in all; one that is
    /// cancelled (or has failed or finished) frees its place.
    #[tokio::test]
    async fn pending_activations_are_bounded_per_client_and_in_all() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path());
        let start =
            |client: &Client| s.start_activation(client.clone(), Source::Text(OTPAUTH.into()));
        let alice = Client::bus(":1.7");
        let mut alices = Vec::new();
        for _ in 0..MAX_PENDING_PER_CLIENT {
            alices.push(start(&alice).await.unwrap());
        }
        let e = start(&alice).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Busy);
        assert!(e.message.contains("already has 4 activations"), "{e}");
        assert_eq!(s.activation_views().len(), MAX_PENDING_PER_CLIENT);

        // Cancelling one frees a place for alice.
        let id = &alices[0].id;
        s.send_event(id, 0, Event::Cancel).await.unwrap();
        let v = s.send_event(id, 0, Event::ConfirmCancel).await.unwrap();
        assert_eq!(v.state, State::Home);
        start(&alice).await.unwrap();

        // Other clients fill the daemon up to MAX_PENDING in all.
        let mut n = MAX_PENDING_PER_CLIENT;
        let mut others = (0..).map(|i| Client::process(Some(1000 + i)));
        while n < MAX_PENDING {
            let client = others.next().unwrap();
            for _ in 0..(MAX_PENDING - n).min(MAX_PENDING_PER_CLIENT) {
                start(&client).await.unwrap();
                n += 1;
            }
        }
        let e = start(&others.next().unwrap()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Busy);
        assert!(e.message.contains("16 activations are under way"), "{e}");

        // Cancelled ones are kept (their client may scan again) until they
        // time out, up to MAX_KNOWN.
        let views = s.activation_views();
        for v in views.iter().filter(|v| v.state != State::Home) {
            s.send_event(&v.id, 0, Event::Cancel).await.unwrap();
            s.send_event(&v.id, 0, Event::ConfirmCancel).await.unwrap();
        }
        let mut known = s.activation_views().len();
        while known < MAX_KNOWN {
            let client = others.next().unwrap();
            let v = start(&client).await.unwrap();
            s.send_event(&v.id, 0, Event::Cancel).await.unwrap();
            s.send_event(&v.id, 0, Event::ConfirmCancel).await.unwrap();
            known += 1;
        }
        let e = start(&others.next().unwrap()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Busy);
        assert!(
            e.message.contains("knows 64 activations (0 under way)"),
            "{e}"
        );
    }
}
