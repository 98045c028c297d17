//! The activation state machine of DESIGN.md as a pure transition function.
//!
//! [`Machine::step`] takes an [`Event`] and returns the next machine and the
//! [`Effect`]s the daemon must carry out (decode an image, check a PIN, store
//! the accounts, …). The results of effects come back as events
//! ([`Event::Decoded`], [`Event::PinChecked`], [`Event::Stored`], …), so all
//! the logic lives here and is tested without I/O.

use tessera_core::SecretString;

use crate::error::{ErrorCode, ServiceError};

/// Where the payload comes from (the daemon decodes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Image(Vec<u8>),
    /// A camera, through the `camera` scanner plugin: its number (0, 1, …
    /// in the plugin's list), or the first that opens.
    Camera {
        device: Option<u32>,
    },
    /// The screen, through the `screen` scanner plugin.
    Screen,
    Text(String),
    Manual {
        serial: String,
        code: SecretString,
    },
}

/// How the user protects the vault in this activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinStep {
    /// No vault PIN yet: choose one and confirm it.
    Choose,
    /// A vault PIN exists: enter it to unlock.
    Enter,
    /// The vault is already unlocked, or policy configures no protection.
    Skip,
}

/// The rules a new PIN must meet (from policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinRules {
    pub min_length: u32,
    pub digits_only: bool,
    pub refuse_trivial: bool,
}

impl Default for PinRules {
    fn default() -> Self {
        Self {
            min_length: 4,
            digits_only: false,
            refuse_trivial: true,
        }
    }
}

impl PinRules {
    /// Why `pin` is not acceptable, if it is not.
    pub fn check(&self, pin: &str) -> Result<(), String> {
        let len = pin.chars().count();
        if len < self.min_length as usize {
            return Err(format!(
                "the PIN must have at least {} characters",
                self.min_length
            ));
        }
        if self.digits_only && !pin.chars().all(|c| c.is_ascii_digit()) {
            return Err("the PIN must be digits only".into());
        }
        if self.refuse_trivial && is_trivial(pin) {
            return Err(
                "the PIN is too easy to guess (repeated or sequential); choose another".into(),
            );
        }
        Ok(())
    }
}

/// All one character (1111), or a run up or down (1234, 9876, abcd).
fn is_trivial(pin: &str) -> bool {
    let c: Vec<u32> = pin.chars().map(u32::from).collect();
    if c.len() < 2 {
        return true;
    }
    let steps: Vec<i64> = c
        .windows(2)
        .map(|w| i64::from(w[1]) - i64::from(w[0]))
        .collect();
    steps.iter().all(|&d| d == 0) || steps.iter().all(|&d| d == 1) || steps.iter().all(|&d| d == -1)
}

/// What the decoded payload and the policy make of this activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// A Tessera payload: show the device code first.
    pub device_code: bool,
    pub pin: PinStep,
    pub pin_rules: PinRules,
    /// Offer biometrics (policy allows it and a biometric plugin is present).
    pub biometrics: bool,
    /// Ask for notification permission (policy enables notifications).
    pub notifications: bool,
}

/// How the vault will be unlocked after this activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    PinOnly,
    Biometric,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Home,
    Scanning,
    DeviceCode,
    ChoosePin {
        reason: Option<String>,
    },
    ConfirmPin,
    EnterPin {
        reason: Option<String>,
    },
    ChooseMethod {
        reason: Option<String>,
    },
    BiometricPermission,
    BiometricEnroll {
        stage: u32,
        stages: u32,
        message: String,
    },
    FinalizeCode,
    NotificationPermission,
    Activated,
    CancelConfirm {
        previous: Box<State>,
    },
    Failed {
        error: ServiceError,
    },
}

impl State {
    /// Activated or failed: nothing more happens unless the user starts over.
    pub fn is_over(&self) -> bool {
        matches!(self, State::Activated | State::Failed { .. })
    }

    /// The snake_case name clients and logs use.
    pub fn name(&self) -> &'static str {
        match self {
            State::Home => "home",
            State::Scanning => "scanning",
            State::DeviceCode => "device_code",
            State::ChoosePin { .. } => "choose_pin",
            State::ConfirmPin => "confirm_pin",
            State::EnterPin { .. } => "enter_pin",
            State::ChooseMethod { .. } => "choose_method",
            State::BiometricPermission => "biometric_permission",
            State::BiometricEnroll { .. } => "biometric_enroll",
            State::FinalizeCode => "finalize_code",
            State::NotificationPermission => "notification_permission",
            State::Activated => "activated",
            State::CancelConfirm { .. } => "cancel_confirm",
            State::Failed { .. } => "failed",
        }
    }

    /// States a user may cancel from: everything before the accounts are stored.
    fn cancellable(&self) -> bool {
        matches!(
            self,
            State::Scanning
                | State::DeviceCode
                | State::ChoosePin { .. }
                | State::ConfirmPin
                | State::EnterPin { .. }
                | State::ChooseMethod { .. }
                | State::BiometricPermission
                | State::BiometricEnroll { .. }
                | State::FinalizeCode
        )
    }
}

/// Client events, and the results of effects fed back by the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Scan(Source),
    Continue,
    Pin(SecretString),
    Biometric,
    PinOnly,
    Allow,
    Deny,
    Cancel,
    ConfirmCancel,
    Back,
    StartOver,
    // Results of effects.
    Decoded(Setup),
    DecodeFailed(ServiceError),
    /// `Ok` when the vault PIN was right; `Err` carries the reason to show.
    PinChecked(Result<(), ServiceError>),
    EnrollProgress {
        stage: u32,
        stages: u32,
        message: String,
    },
    EnrollDone(Result<(), String>),
    Stored(Result<(), ServiceError>),
    TimedOut,
}

impl Event {
    /// Results of effects, as opposed to a user's answers.
    pub fn is_result(&self) -> bool {
        matches!(
            self,
            Event::Decoded(_)
                | Event::DecodeFailed(_)
                | Event::PinChecked(_)
                | Event::EnrollProgress { .. }
                | Event::EnrollDone(_)
                | Event::Stored(_)
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            Event::Scan(_) => "scan",
            Event::Continue => "continue",
            Event::Pin(_) => "pin",
            Event::Biometric => "biometric",
            Event::PinOnly => "pin_only",
            Event::Allow => "allow",
            Event::Deny => "deny",
            Event::Cancel => "cancel",
            Event::ConfirmCancel => "confirm_cancel",
            Event::Back => "back",
            Event::StartOver => "start_over",
            Event::Decoded(_) => "decoded",
            Event::DecodeFailed(_) => "decode_failed",
            Event::PinChecked(_) => "pin_checked",
            Event::EnrollProgress { .. } => "enroll_progress",
            Event::EnrollDone(_) => "enroll_done",
            Event::Stored(_) => "stored",
            Event::TimedOut => "timed_out",
        }
    }
}

/// Work the daemon does for a transition; its result comes back as an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Decode the source into a payload and plan → `Decoded` / `DecodeFailed`.
    Decode(Source),
    /// Check the vault PIN → `PinChecked`.
    CheckPin(SecretString),
    /// Start biometric enrollment → `EnrollProgress`…, `EnrollDone`.
    StartEnroll,
    /// Stop a running enrollment.
    CancelEnroll,
    /// Write the accounts (creating the vault with `new_pin` when one was
    /// chosen) → `Stored`.
    Store {
        new_pin: Option<SecretString>,
        method: Method,
    },
    /// Record the notification answer for the stored accounts.
    SetNotifications(bool),
    /// Forget the plan and any collected secret; nothing is stored.
    Discard,
}

/// An event that does not fit the state; the machine is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{event} does not apply while the activation is at {state}")]
pub struct InvalidEvent {
    pub state: &'static str,
    pub event: &'static str,
}

impl From<InvalidEvent> for ServiceError {
    fn from(e: InvalidEvent) -> Self {
        ServiceError::new(ErrorCode::InvalidEvent, e)
    }
}

/// The state plus what the activation collected so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    state: State,
    setup: Option<Setup>,
    new_pin: Option<SecretString>,
    method: Method,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    pub fn new() -> Self {
        Self {
            state: State::Home,
            setup: None,
            new_pin: None,
            method: Method::PinOnly,
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn setup(&self) -> Option<&Setup> {
        self.setup.as_ref()
    }

    /// The transition function. On `Err` the caller keeps the old machine.
    pub fn step(&self, event: Event) -> Result<(Machine, Vec<Effect>), InvalidEvent> {
        let invalid = InvalidEvent {
            state: self.state.name(),
            event: event.name(),
        };
        let mut next = self.clone();
        let mut effects = Vec::new();
        let setup = self.setup;

        next.state = match (&self.state, event) {
            // Timeouts end any unfinished activation.
            (s, Event::TimedOut) if !s.is_over() => {
                next.forget();
                effects.push(Effect::Discard);
                if matches!(self.effective_state(), State::BiometricEnroll { .. }) {
                    effects.push(Effect::CancelEnroll);
                }
                State::Failed {
                    error: ServiceError::new(
                        ErrorCode::ActivationEnded,
                        "the activation timed out; nothing was stored. Start again",
                    ),
                }
            }

            (State::Home, Event::Scan(source)) => {
                effects.push(Effect::Decode(source));
                State::Scanning
            }
            (State::Scanning, Event::Decoded(s)) => {
                next.setup = Some(s);
                if s.device_code {
                    State::DeviceCode
                } else {
                    next.after_device_code()
                }
            }
            (State::Scanning, Event::DecodeFailed(error)) => State::Failed { error },
            (State::DeviceCode, Event::Continue) => next.after_device_code(),

            (State::ChoosePin { .. }, Event::Pin(pin)) => {
                let rules = setup.map(|s| s.pin_rules).unwrap_or_default();
                match rules.check(pin.expose()) {
                    Ok(()) => {
                        next.new_pin = Some(pin);
                        State::ConfirmPin
                    }
                    Err(reason) => State::ChoosePin {
                        reason: Some(reason),
                    },
                }
            }
            (State::ConfirmPin, Event::Pin(pin)) => {
                if next.new_pin.as_ref() == Some(&pin) {
                    next.after_pin()
                } else {
                    next.new_pin = None;
                    State::ChoosePin {
                        reason: Some("the two PINs did not match; choose a PIN again".into()),
                    }
                }
            }
            (State::EnterPin { reason }, Event::Pin(pin)) => {
                effects.push(Effect::CheckPin(pin));
                State::EnterPin {
                    reason: reason.clone(),
                }
            }
            (State::EnterPin { .. }, Event::PinChecked(Ok(()))) => next.after_pin(),
            (State::EnterPin { .. }, Event::PinChecked(Err(e))) => {
                if matches!(e.code, ErrorCode::WrongPin | ErrorCode::PinDelayed) {
                    State::EnterPin {
                        reason: Some(e.message),
                    }
                } else {
                    State::Failed { error: e }
                }
            }

            (State::ChooseMethod { .. }, Event::Biometric) => State::BiometricPermission,
            (State::ChooseMethod { .. }, Event::PinOnly) => {
                next.method = Method::PinOnly;
                State::FinalizeCode
            }
            (State::BiometricPermission, Event::Allow) => {
                effects.push(Effect::StartEnroll);
                State::BiometricEnroll {
                    stage: 0,
                    stages: 0,
                    message: String::new(),
                }
            }
            (State::BiometricPermission, Event::Deny) => {
                next.method = Method::PinOnly;
                State::FinalizeCode
            }
            (
                State::BiometricEnroll { .. },
                Event::EnrollProgress {
                    stage,
                    stages,
                    message,
                },
            ) => State::BiometricEnroll {
                stage,
                stages,
                message,
            },
            (State::BiometricEnroll { .. }, Event::EnrollDone(Ok(()))) => {
                next.method = Method::Biometric;
                State::FinalizeCode
            }
            (State::BiometricEnroll { .. }, Event::EnrollDone(Err(reason))) => {
                State::ChooseMethod {
                    reason: Some(reason),
                }
            }

            (State::FinalizeCode, Event::Continue) => {
                effects.push(Effect::Store {
                    new_pin: next.new_pin.clone(),
                    method: next.method,
                });
                State::FinalizeCode
            }
            (State::FinalizeCode, Event::Stored(Ok(()))) => {
                next.new_pin = None;
                if setup.is_some_and(|s| s.notifications) {
                    State::NotificationPermission
                } else {
                    State::Activated
                }
            }
            (State::FinalizeCode, Event::Stored(Err(error))) => {
                next.forget();
                effects.push(Effect::Discard);
                State::Failed { error }
            }
            (State::NotificationPermission, e @ (Event::Allow | Event::Deny)) => {
                effects.push(Effect::SetNotifications(e == Event::Allow));
                State::Activated
            }

            (s, Event::Cancel) if s.cancellable() => State::CancelConfirm {
                previous: Box::new(s.clone()),
            },
            (State::CancelConfirm { previous }, Event::Back) => (**previous).clone(),
            (State::CancelConfirm { previous }, Event::ConfirmCancel) => {
                if matches!(**previous, State::BiometricEnroll { .. }) {
                    effects.push(Effect::CancelEnroll);
                }
                next.forget();
                effects.push(Effect::Discard);
                State::Home
            }
            // Results of work started before the cancel question update the
            // step underneath, so Back returns to where the work left it.
            (State::CancelConfirm { previous }, e) if e.is_result() => {
                let inner = Machine {
                    state: (**previous).clone(),
                    ..self.clone()
                };
                let (after, more) = inner.step(e).map_err(|_| invalid)?;
                effects.extend(more);
                next = after;
                State::CancelConfirm {
                    previous: Box::new(next.state.clone()),
                }
            }
            (State::Failed { .. }, Event::StartOver) => {
                next.forget();
                effects.push(Effect::Discard);
                State::Home
            }

            _ => return Err(invalid),
        };
        Ok((next, effects))
    }

    /// The state under a cancel question, or the state itself.
    fn effective_state(&self) -> &State {
        match &self.state {
            State::CancelConfirm { previous } => previous,
            s => s,
        }
    }

    fn forget(&mut self) {
        self.setup = None;
        self.new_pin = None;
        self.method = Method::PinOnly;
    }

    fn after_device_code(&self) -> State {
        match self.setup.map(|s| s.pin) {
            Some(PinStep::Choose) => State::ChoosePin { reason: None },
            Some(PinStep::Enter) => State::EnterPin { reason: None },
            _ => self.after_pin(),
        }
    }

    fn after_pin(&self) -> State {
        if self.setup.is_some_and(|s| s.biometrics) {
            State::ChooseMethod { reason: None }
        } else {
            State::FinalizeCode
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(device_code: bool, pin: PinStep, biometrics: bool, notifications: bool) -> Setup {
        Setup {
            device_code,
            pin,
            pin_rules: PinRules::default(),
            biometrics,
            notifications,
        }
    }

    fn full() -> Setup {
        setup(true, PinStep::Choose, true, true)
    }

    fn err(code: ErrorCode) -> ServiceError {
        ServiceError::new(code, "reason")
    }

    fn at(state: State, s: Option<Setup>) -> Machine {
        Machine {
            state,
            setup: s,
            new_pin: None,
            method: Method::PinOnly,
        }
    }

    /// One value of every state.
    fn all_states() -> Vec<State> {
        vec![
            State::Home,
            State::Scanning,
            State::DeviceCode,
            State::ChoosePin { reason: None },
            State::ConfirmPin,
            State::EnterPin { reason: None },
            State::ChooseMethod { reason: None },
            State::BiometricPermission,
            State::BiometricEnroll {
                stage: 1,
                stages: 5,
                message: String::new(),
            },
            State::FinalizeCode,
            State::NotificationPermission,
            State::Activated,
            State::CancelConfirm {
                previous: Box::new(State::DeviceCode),
            },
            State::Failed {
                error: err(ErrorCode::InvalidPayload),
            },
        ]
    }

    /// One value of every event.
    fn all_events() -> Vec<Event> {
        vec![
            Event::Scan(Source::Text("otpauth://totp/x?secret=AA".into())),
            Event::Continue,
            Event::Pin("482915".into()),
            Event::Biometric,
            Event::PinOnly,
            Event::Allow,
            Event::Deny,
            Event::Cancel,
            Event::ConfirmCancel,
            Event::Back,
            Event::StartOver,
            Event::Decoded(full()),
            Event::DecodeFailed(err(ErrorCode::InvalidImage)),
            Event::PinChecked(Ok(())),
            Event::EnrollProgress {
                stage: 2,
                stages: 5,
                message: "lift and touch again".into(),
            },
            Event::EnrollDone(Ok(())),
            Event::Stored(Ok(())),
            Event::TimedOut,
        ]
    }

    /// Every state × event pair, with the state each valid pair leads to
    /// (with the full setup: device code, choose PIN, biometrics,
    /// notifications). Pairs not listed must be refused.
    const TABLE: &[(&str, &str, &str)] = &[
        ("home", "scan", "scanning"),
        ("home", "timed_out", "failed"),
        ("scanning", "decoded", "device_code"),
        ("scanning", "decode_failed", "failed"),
        ("scanning", "cancel", "cancel_confirm"),
        ("scanning", "timed_out", "failed"),
        ("device_code", "continue", "choose_pin"),
        ("device_code", "cancel", "cancel_confirm"),
        ("device_code", "timed_out", "failed"),
        ("choose_pin", "pin", "confirm_pin"),
        ("choose_pin", "cancel", "cancel_confirm"),
        ("choose_pin", "timed_out", "failed"),
        // No first PIN collected in this table's machine: a mismatch.
        ("confirm_pin", "pin", "choose_pin"),
        ("confirm_pin", "cancel", "cancel_confirm"),
        ("confirm_pin", "timed_out", "failed"),
        ("enter_pin", "pin", "enter_pin"),
        ("enter_pin", "pin_checked", "choose_method"),
        ("enter_pin", "cancel", "cancel_confirm"),
        ("enter_pin", "timed_out", "failed"),
        ("choose_method", "biometric", "biometric_permission"),
        ("choose_method", "pin_only", "finalize_code"),
        ("choose_method", "cancel", "cancel_confirm"),
        ("choose_method", "timed_out", "failed"),
        ("biometric_permission", "allow", "biometric_enroll"),
        ("biometric_permission", "deny", "finalize_code"),
        ("biometric_permission", "cancel", "cancel_confirm"),
        ("biometric_permission", "timed_out", "failed"),
        ("biometric_enroll", "enroll_progress", "biometric_enroll"),
        ("biometric_enroll", "enroll_done", "finalize_code"),
        ("biometric_enroll", "cancel", "cancel_confirm"),
        ("biometric_enroll", "timed_out", "failed"),
        ("finalize_code", "continue", "finalize_code"),
        ("finalize_code", "stored", "notification_permission"),
        ("finalize_code", "cancel", "cancel_confirm"),
        ("finalize_code", "timed_out", "failed"),
        ("notification_permission", "allow", "activated"),
        ("notification_permission", "deny", "activated"),
        ("notification_permission", "timed_out", "failed"),
        ("cancel_confirm", "confirm_cancel", "home"),
        ("cancel_confirm", "back", "device_code"),
        ("cancel_confirm", "timed_out", "failed"),
        ("failed", "start_over", "home"),
    ];

    #[test]
    fn every_state_and_event_pair() {
        let mut checked = 0;
        for state in all_states() {
            for event in all_events() {
                let m = at(state.clone(), Some(full()));
                let want = TABLE
                    .iter()
                    .find(|(s, e, _)| *s == state.name() && *e == event.name())
                    .map(|(_, _, next)| *next);
                let event_name = event.name();
                match (m.step(event), want) {
                    (Ok((next, _)), Some(w)) => {
                        assert_eq!(next.state().name(), w, "{} + {event_name}", state.name())
                    }
                    (Err(e), None) => {
                        assert_eq!(e.state, state.name());
                        assert_eq!(e.event, event_name);
                    }
                    (Ok((next, _)), None) => panic!(
                        "{} + {event_name} should be refused, went to {}",
                        state.name(),
                        next.state().name()
                    ),
                    (Err(e), Some(w)) => {
                        panic!("{} + {event_name} should go to {w}: {e}", state.name())
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 14 * 18);
    }

    /// Drives `m` through `events`, returning the final machine and all effects.
    fn drive(mut m: Machine, events: Vec<Event>) -> (Machine, Vec<Effect>) {
        let mut all = Vec::new();
        for e in events {
            let name = e.name();
            let (next, effects) = m.step(e).unwrap_or_else(|err| panic!("{name}: {err}"));
            m = next;
            all.extend(effects);
        }
        (m, all)
    }

    #[test]
    fn tessera_first_activation_with_pin_and_notifications() {
        let src = Source::Text("tessera://activate?…".into());
        let s = setup(true, PinStep::Choose, false, true);
        let (m, effects) = drive(
            Machine::new(),
            vec![
                Event::Scan(src.clone()),
                Event::Decoded(s),
                Event::Continue,
                Event::Pin("482915".into()),
                Event::Pin("482915".into()),
            ],
        );
        assert_eq!(m.state(), &State::FinalizeCode);
        assert_eq!(effects, vec![Effect::Decode(src)]);
        // Continue asks to store with the chosen PIN; nothing changes until stored.
        let (m, effects) = m.step(Event::Continue).unwrap();
        assert_eq!(
            effects,
            vec![Effect::Store {
                new_pin: Some("482915".into()),
                method: Method::PinOnly
            }]
        );
        assert_eq!(m.state(), &State::FinalizeCode);
        let (m, effects) = drive(m, vec![Event::Stored(Ok(())), Event::Allow]);
        assert_eq!(m.state(), &State::Activated);
        assert_eq!(effects, vec![Effect::SetNotifications(true)]);
        assert_eq!(m.new_pin, None, "the chosen PIN is forgotten once stored");
    }

    #[test]
    fn otpauth_skips_the_device_code_and_unlocks_with_the_existing_pin() {
        let s = setup(false, PinStep::Enter, false, false);
        let (m, effects) = drive(
            Machine::new(),
            vec![
                Event::Scan(Source::Text("otpauth://…".into())),
                Event::Decoded(s),
            ],
        );
        assert_eq!(m.state(), &State::EnterPin { reason: None });
        let (m, effects2) = m.step(Event::Pin("000000".into())).unwrap();
        assert_eq!(effects2, vec![Effect::CheckPin("000000".into())]);
        let wrong = ServiceError::new(ErrorCode::WrongPin, "wrong PIN; 4 tries before a delay");
        let (m, _) = m.step(Event::PinChecked(Err(wrong))).unwrap();
        assert_eq!(
            m.state(),
            &State::EnterPin {
                reason: Some("wrong PIN; 4 tries before a delay".into())
            }
        );
        let (m, _) = drive(
            m,
            vec![Event::Pin("482915".into()), Event::PinChecked(Ok(()))],
        );
        assert_eq!(m.state(), &State::FinalizeCode);
        let (_, store) = m.step(Event::Continue).unwrap();
        assert_eq!(
            store,
            vec![Effect::Store {
                new_pin: None,
                method: Method::PinOnly
            }]
        );
        assert_eq!(effects.len(), 1);
    }

    #[test]
    fn unprotected_vault_skips_pin_states() {
        let s = setup(false, PinStep::Skip, false, false);
        let (m, _) = drive(
            Machine::new(),
            vec![Event::Scan(Source::Text("x".into())), Event::Decoded(s)],
        );
        assert_eq!(m.state(), &State::FinalizeCode);
        let (m, _) = drive(m, vec![Event::Continue, Event::Stored(Ok(()))]);
        assert_eq!(m.state(), &State::Activated);
    }

    #[test]
    fn pin_mismatch_and_policy_go_back_to_choose_pin_with_the_reason() {
        let s = setup(false, PinStep::Choose, false, false);
        let (m, _) = drive(
            Machine::new(),
            vec![Event::Scan(Source::Text("x".into())), Event::Decoded(s)],
        );
        let (m2, _) = m.step(Event::Pin("1234".into())).unwrap();
        assert!(
            matches!(m2.state(), State::ChoosePin { reason: Some(r) } if r.contains("too easy")),
            "{:?}",
            m2.state()
        );
        let (m2, _) = m.step(Event::Pin("12".into())).unwrap();
        assert!(
            matches!(m2.state(), State::ChoosePin { reason: Some(r) } if r.contains("at least 4"))
        );
        let (m2, _) = drive(
            m,
            vec![Event::Pin("482915".into()), Event::Pin("482916".into())],
        );
        assert!(
            matches!(m2.state(), State::ChoosePin { reason: Some(r) } if r.contains("did not match"))
        );
        assert_eq!(m2.new_pin, None);
    }

    #[test]
    fn a_vault_error_other_than_a_wrong_pin_fails_the_activation() {
        let m = at(State::EnterPin { reason: None }, Some(full()));
        let (m, _) = m
            .step(Event::PinChecked(Err(err(ErrorCode::Internal))))
            .unwrap();
        assert!(matches!(m.state(), State::Failed { .. }));
    }

    #[test]
    fn biometric_path_and_enroll_failure() {
        let m = at(State::ChooseMethod { reason: None }, Some(full()));
        let (m, effects) = drive(m, vec![Event::Biometric, Event::Allow]);
        assert_eq!(effects, vec![Effect::StartEnroll]);
        let (ok, _) = m.step(Event::EnrollDone(Ok(()))).unwrap();
        let (_, store) = ok.step(Event::Continue).unwrap();
        assert_eq!(
            store,
            vec![Effect::Store {
                new_pin: None,
                method: Method::Biometric
            }]
        );
        let (failed, _) = m
            .step(Event::EnrollDone(Err("sensor unplugged".into())))
            .unwrap();
        assert_eq!(
            failed.state(),
            &State::ChooseMethod {
                reason: Some("sensor unplugged".into())
            }
        );
    }

    #[test]
    fn cancel_confirm_back_returns_and_confirm_discards() {
        let m = at(State::ConfirmPin, Some(full()));
        let m = Machine {
            new_pin: Some("482915".into()),
            ..m
        };
        let (asked, _) = m.step(Event::Cancel).unwrap();
        let (back, _) = asked.step(Event::Back).unwrap();
        assert_eq!(back, m, "Back restores the step and what was collected");
        let (home, effects) = asked.step(Event::ConfirmCancel).unwrap();
        assert_eq!(home, Machine::new());
        assert_eq!(effects, vec![Effect::Discard]);
    }

    #[test]
    fn cancelling_an_enrollment_stops_it() {
        let m = at(
            State::BiometricEnroll {
                stage: 1,
                stages: 5,
                message: String::new(),
            },
            Some(full()),
        );
        let (asked, _) = m.step(Event::Cancel).unwrap();
        // Progress arriving under the question updates the step underneath.
        let (asked, _) = asked
            .step(Event::EnrollProgress {
                stage: 3,
                stages: 5,
                message: String::new(),
            })
            .unwrap();
        let (back, _) = asked.step(Event::Back).unwrap();
        assert!(matches!(
            back.state(),
            State::BiometricEnroll { stage: 3, .. }
        ));
        let (_, effects) = asked.step(Event::ConfirmCancel).unwrap();
        assert_eq!(effects, vec![Effect::CancelEnroll, Effect::Discard]);
    }

    #[test]
    fn store_failure_and_timeout_fail_without_keeping_secrets() {
        let m = Machine {
            new_pin: Some("482915".into()),
            ..at(State::FinalizeCode, Some(full()))
        };
        let (failed, effects) = m
            .step(Event::Stored(Err(err(ErrorCode::Internal))))
            .unwrap();
        assert!(matches!(failed.state(), State::Failed { .. }));
        assert_eq!(failed.new_pin, None);
        assert_eq!(effects, vec![Effect::Discard]);

        let (timed, effects) = m.step(Event::TimedOut).unwrap();
        assert!(matches!(
            timed.state(),
            State::Failed { error } if error.code == ErrorCode::ActivationEnded
        ));
        assert_eq!(timed.new_pin, None);
        assert_eq!(effects, vec![Effect::Discard]);
        let (home, _) = timed.step(Event::StartOver).unwrap();
        assert_eq!(home.state(), &State::Home);
    }

    #[test]
    fn nothing_is_stored_before_finalize_is_confirmed() {
        // Walk every path to FinalizeCode; only Continue there emits Store.
        let s = full();
        let (m, effects) = drive(
            Machine::new(),
            vec![
                Event::Scan(Source::Text("x".into())),
                Event::Decoded(s),
                Event::Continue,
                Event::Pin("482915".into()),
                Event::Pin("482915".into()),
                Event::Biometric,
                Event::Deny,
            ],
        );
        assert_eq!(m.state(), &State::FinalizeCode);
        assert!(!effects.iter().any(|e| matches!(e, Effect::Store { .. })));
    }

    #[test]
    fn trivial_pins() {
        for p in ["1111", "1234", "9876", "abcd", "0000000"] {
            assert!(is_trivial(p), "{p}");
        }
        for p in ["1357", "482915", "1231", "aabb"] {
            assert!(!is_trivial(p), "{p}");
        }
        let digits = PinRules {
            digits_only: true,
            ..PinRules::default()
        };
        assert!(digits.check("48a915").is_err());
        assert!(digits.check("482915").is_ok());
    }
}
