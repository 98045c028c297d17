//! `tessera activate`: drives the daemon's activation state machine.
//!
//! The daemon owns the state; this module only renders each
//! `ActivationView`, gets an answer from a [`Prompter`] and sends the matching
//! event. The decisions are pure functions, unit-tested without a terminal
//! or a daemon: [`step_for`] (what a state needs: a question, waiting, or the
//! end) and [`event_for`] (which event an answer sends).

use std::time::Duration;

use tessera_proto::v1::{
    Account, ActivationView, Empty, ErrorCodeMessage, Event, SendEventRequest,
    StartActivationRequest, WatchActivationRequest, activation_client::ActivationClient,
    activation_state::Kind as State, event::Kind as EventKind, start_activation_request::Source,
};
use tonic::Streaming;
use tonic::transport::Channel;

use crate::error::{CliError, Result, exit, exit_for_error_code, normalize_code};
use crate::out::{errln, outln};
use crate::prompt::{Answer, Method, Permission, PinStep, Prompter, Question};
use crate::render::{pending_text, view_json, view_state, view_text};
use crate::term;
use tessera_proto::v1::CodeShown;

/// What the driver remembers between views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowContext {
    /// The next `Home` needs the source sent again (at the start, and after
    /// `StartOver`). A `Home` otherwise means the activation was cancelled.
    pub home_needs_source: bool,
    /// This client sent `Cancel`, so a `CancelConfirm` is ours to answer; one
    /// caused by another client is left to that client.
    pub cancel_requested: bool,
    /// Starting over can take a different input (a person retyping a manual
    /// entry). Otherwise a failure caused by the input itself (invalid image
    /// or payload) ends the run: the same input would fail the same way.
    pub can_change_input: bool,
}

impl Default for FlowContext {
    fn default() -> Self {
        Self {
            home_needs_source: true,
            cancel_requested: false,
            can_change_input: false,
        }
    }
}

/// How an activation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Activated(Vec<Account>),
    Failed(ErrorCodeMessage),
    Cancelled,
}

/// What a state needs from this client.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Ask(Question),
    /// Send the source again (`Home` after `StartOver`).
    Rescan,
    /// Nothing to answer: watch until the state changes (scanning, enrolling,
    /// another client's cancel question, a state this client does not know).
    Wait,
    Done(Outcome),
}

/// The pure mapping from a state to what it needs.
pub fn step_for(state: Option<&State>, ctx: &FlowContext) -> Step {
    let Some(state) = state else {
        return Step::Wait;
    };
    match state {
        State::Home(_) if ctx.home_needs_source => Step::Rescan,
        State::Home(_) => Step::Done(Outcome::Cancelled),
        State::Scanning(_) | State::BiometricEnroll(_) => Step::Wait,
        State::DeviceCode(c) => Step::Ask(Question::DeviceCode(c.clone())),
        State::ChoosePin(p) => Step::Ask(Question::Pin(PinStep::Choose, p.clone())),
        State::ConfirmPin(p) => Step::Ask(Question::Pin(PinStep::Confirm, p.clone())),
        State::EnterPin(p) => Step::Ask(Question::Pin(PinStep::Enter, p.clone())),
        State::ChooseMethod(m) => Step::Ask(Question::Method(m.clone())),
        State::BiometricPermission(_) => Step::Ask(Question::Permission(Permission::Biometric)),
        State::FinalizeCode(c) => Step::Ask(Question::FinalizeCode(c.clone())),
        State::NotificationPermission(_) => {
            Step::Ask(Question::Permission(Permission::Notifications))
        }
        State::Activated(a) => Step::Done(Outcome::Activated(a.accounts.clone())),
        State::CancelConfirm(_) if ctx.cancel_requested => Step::Ask(Question::ConfirmCancel),
        State::CancelConfirm(_) => Step::Wait,
        State::Failed(f) => {
            let error = f.error.clone().unwrap_or_else(|| ErrorCodeMessage {
                code: "ERROR_CODE_UNSPECIFIED".into(),
                message: "the activation failed".into(),
            });
            if input_fault(&error.code) && !ctx.can_change_input {
                Step::Done(Outcome::Failed(error))
            } else {
                Step::Ask(Question::StartOver(error))
            }
        }
    }
}

/// A failure caused by the input itself: the same input would fail the
/// same way (an invalid image or payload; an account the vault has
/// already), so starting over needs a different input.
fn input_fault(code: &str) -> bool {
    exit_for_error_code(code) == exit::USAGE || normalize_code(code) == "ERROR_CODE_ALREADY_EXISTS"
}

/// Whether `Cancel` may be sent in this state.
pub fn cancellable(state: Option<&State>) -> bool {
    !matches!(
        state,
        None | Some(
            State::Home(_) | State::Activated(_) | State::Failed(_) | State::CancelConfirm(_)
        )
    )
}

/// What an answer leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    Send(EventKind),
    Done(Outcome),
}

fn empty() -> Empty {
    Empty {}
}

/// The pure mapping from (question, answer) to the event to send.
pub fn event_for(question: &Question, answer: Answer) -> Result<Reaction> {
    use Reaction::{Done, Send};
    let reaction = match (question, answer) {
        // Ctrl-C or `cancel` at the cancel question: yes; at the start-over
        // question: no.
        (Question::ConfirmCancel, Answer::Yes | Answer::Cancel) => {
            Send(EventKind::ConfirmCancel(empty()))
        }
        (Question::ConfirmCancel, Answer::No) => Send(EventKind::Back(empty())),
        (Question::StartOver(_), Answer::Yes) => Send(EventKind::StartOver(empty())),
        (Question::StartOver(e), Answer::No | Answer::Cancel) => Done(Outcome::Failed(e.clone())),
        (_, Answer::Cancel) => Send(EventKind::Cancel(empty())),
        (Question::DeviceCode(_) | Question::FinalizeCode(_), Answer::Continue) => {
            Send(EventKind::Continue(empty()))
        }
        (Question::Pin(..), Answer::Pin(pin)) => Send(EventKind::Pin(pin.as_str().to_owned())),
        (Question::Method(_), Answer::Method(Method::Biometric)) => {
            Send(EventKind::Biometric(empty()))
        }
        (Question::Method(_), Answer::Method(Method::Pin)) => Send(EventKind::PinOnly(empty())),
        (Question::Permission(_), Answer::Yes) => Send(EventKind::Allow(empty())),
        (Question::Permission(_), Answer::No) => Send(EventKind::Deny(empty())),
        (q, a) => {
            return Err(CliError::new(
                "ERROR_CODE_INTERNAL",
                format!("bug: answer {a:?} does not fit question {q:?}"),
                exit::REFUSED,
            ));
        }
    };
    Ok(reaction)
}

/// The event that sends the source again from `Home`.
pub fn rescan_event(source: &Source) -> EventKind {
    match source {
        Source::Manual(m) => EventKind::EnterManually(m.clone()),
        other => EventKind::Scan(StartActivationRequest {
            source: Some(other.clone()),
        }),
    }
}

/// Prints each view once (per revision): a JSON line, or the human text.
pub struct Printer {
    pub json: bool,
    /// A person watches: a TOTP code is shown on a live line instead
    /// ([`Flow::live_code`]).
    pub live: bool,
    last_revision: Option<u64>,
    /// The accounts being added were listed (once, before any question).
    accounts_shown: bool,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            live: false,
            last_revision: None,
            accounts_shown: false,
        }
    }

    pub fn show(&mut self, view: &ActivationView) {
        if self.last_revision == Some(view.revision) {
            return;
        }
        self.last_revision = Some(view.revision);
        if self.json {
            outln!("{}", view_json(view));
            crate::out::flush_stdout();
            return;
        }
        let state = view_state(view);
        if !self.accounts_shown
            && !view.accounts.is_empty()
            && !matches!(
                state,
                None | Some(State::Home(_) | State::Scanning(_) | State::Activated(_))
                    | Some(State::Failed(_))
            )
        {
            self.accounts_shown = true;
            outln!("{}", pending_text(&view.accounts));
        }
        match state {
            Some(State::FinalizeCode(c)) if self.live && c.valid_until_unix > 0 => {
                outln!("\nCheck that the site accepts this code (renewed as it expires):");
            }
            _ => {
                let text = view_text(view);
                if !text.is_empty() {
                    outln!("{text}");
                }
            }
        }
        crate::out::flush_stdout();
    }
}

/// The activation driver.
/// How the flow gets its activation.
#[derive(Debug, Clone)]
pub enum Begin {
    /// A new activation from this source.
    Start(Source),
    /// One under way in another client (the desktop app, another terminal),
    /// by id: this client answers its steps from where it is.
    Attach(String),
}

pub struct Flow<'a> {
    client: ActivationClient<Channel>,
    prompter: &'a mut dyn Prompter,
    printer: Printer,
    /// The source to send again after "Start over"; `None` when attached
    /// (another client chose it).
    source: Option<Source>,
    attach: Option<String>,
    ctx: FlowContext,
}

enum Waited {
    View(ActivationView),
    Interrupted,
}

fn ended() -> CliError {
    CliError::refused(
        "ERROR_CODE_ACTIVATION_ENDED",
        "the activation ended (timed out, or finished in another client); start again",
    )
}

impl<'a> Flow<'a> {
    pub fn new(channel: Channel, prompter: &'a mut dyn Prompter, json: bool, begin: Begin) -> Self {
        let can_change_input =
            prompter.is_interactive() && matches!(begin, Begin::Start(Source::Manual(_)));
        let mut printer = Printer::new(json);
        printer.live = prompter.is_interactive() && !json;
        let (source, attach) = match begin {
            Begin::Start(source) => (Some(source), None),
            Begin::Attach(id) => (None, Some(id)),
        };
        Self {
            client: ActivationClient::new(channel),
            prompter,
            printer,
            ctx: FlowContext {
                can_change_input,
                // An attached activation's `Home` means it was cancelled.
                home_needs_source: source.is_some(),
                ..FlowContext::default()
            },
            source,
            attach,
        }
    }

    /// Runs the activation to its end: the stored accounts, or why not.
    pub async fn run(mut self) -> Result<Vec<Account>> {
        let mut view = match (&self.attach, &self.source) {
            (Some(id), _) => {
                let id = id.clone();
                self.client
                    .watch(WatchActivationRequest { activation_id: id })
                    .await?
                    .into_inner()
                    .message()
                    .await?
                    .ok_or_else(ended)?
            }
            (None, source) => self
                .client
                .start(StartActivationRequest {
                    source: source.clone(),
                })
                .await?
                .into_inner(),
        };
        let mut watch: Option<Streaming<ActivationView>> = None;
        loop {
            self.printer.show(&view);
            let state = view_state(&view).cloned();
            if !matches!(state, Some(State::Home(_))) {
                self.ctx.home_needs_source = false;
            }
            if self.prompter.is_interactive()
                && cancellable(state.as_ref())
                && term::take_interrupt()
            {
                watch = None;
                view = self.send_cancel(&view).await?;
                continue;
            }
            match step_for(state.as_ref(), &self.ctx) {
                Step::Done(outcome) => return self.finish(outcome, false),
                Step::Rescan => {
                    watch = None;
                    self.ctx.home_needs_source = false;
                    if let (Some(Source::Manual(_)), true) =
                        (&self.source, self.ctx.can_change_input)
                    {
                        self.source = Some(Source::Manual(crate::prompt::manual_entry(
                            self.prompter,
                            None,
                            None,
                        )?));
                    }
                    let Some(source) = &self.source else {
                        return Err(CliError::refused(
                            "ERROR_CODE_ACTIVATION_ENDED",
                            "the activation went back to its start; the client that began it \
                             chooses the code again (or start a new one: tessera activate)",
                        ));
                    };
                    let event = rescan_event(source);
                    view = self.send(&view, event).await?;
                }
                Step::Wait => {
                    let stream = match watch.as_mut() {
                        Some(s) => s,
                        None => watch.insert(self.open_watch(&view).await?),
                    };
                    let interactive = self.prompter.is_interactive();
                    match wait_for_change(stream, &view, interactive && cancellable(state.as_ref()))
                        .await?
                    {
                        Waited::View(next) => view = next,
                        Waited::Interrupted => {
                            watch = None;
                            view = self.send_cancel(&view).await?;
                        }
                    }
                }
                Step::Ask(question) => {
                    watch = None;
                    let answer = match &question {
                        Question::FinalizeCode(c)
                            if self.printer.live && c.valid_until_unix > 0 =>
                        {
                            self.live_code(&view, c.clone()).await?
                        }
                        _ => self.prompter.ask(&question)?,
                    };
                    match event_for(&question, answer)? {
                        Reaction::Done(outcome) => return self.finish(outcome, true),
                        Reaction::Send(event) => {
                            let kind = event_name(&event);
                            match self.send(&view, event).await {
                                Ok(next) => {
                                    match kind {
                                        "cancel" => self.ctx.cancel_requested = true,
                                        "confirm_cancel" | "back" => {
                                            self.ctx.cancel_requested = false
                                        }
                                        "start_over" => self.ctx.home_needs_source = true,
                                        _ => {}
                                    }
                                    view = next;
                                }
                                Err(e) => view = self.recover(view, e).await?,
                            }
                        }
                    }
                }
            }
        }
    }

    /// A TOTP code at a terminal: one line, redrawn every second with the
    /// seconds it has left, and with the next code once it expires (a fresh
    /// view from the daemon), until Enter (or Ctrl-C / end of input: cancel).
    async fn live_code(&mut self, view: &ActivationView, mut code: CodeShown) -> Result<Answer> {
        use std::io::Write;
        let mut err = std::io::stderr();
        loop {
            let now = unix_now();
            if code.valid_until_unix <= now {
                let fresh = self.current(view).await?;
                if fresh.revision != view.revision {
                    // Answered elsewhere: the stale answer is refused and
                    // the run goes on from the current view.
                    let _ = writeln!(err);
                    return Ok(Answer::Continue);
                }
                if let Some(State::FinalizeCode(c)) = view_state(&fresh)
                    && c.valid_until_unix > code.valid_until_unix
                {
                    code = c.clone();
                }
            }
            let left = code.valid_until_unix.saturating_sub(now).max(0);
            let shown = if code.grouped.is_empty() {
                &code.code
            } else {
                &code.grouped
            };
            let _ = write!(
                err,
                "\r\x1b[2K    Current code:  {shown}  ({left} s left). Press Enter when done: "
            );
            let _ = err.flush();
            // Wake just after the next second starts, so each second is
            // drawn once and the daemon has renewed an expired code.
            let into_second = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_millis());
            let wait = Duration::from_millis(u64::from(1150 - into_second.min(999)) % 1000 + 1);
            let waited =
                term::wait_for_input(wait).map_err(|e| CliError::io("reading the terminal", e))?;
            match waited {
                term::Waited::TimedOut => {}
                term::Waited::Interrupted => {
                    let _ = writeln!(err);
                    return Ok(Answer::Cancel);
                }
                term::Waited::Ready => {
                    return Ok(
                        match term::read_line("", true)
                            .map_err(|e| CliError::io("reading the terminal", e))?
                        {
                            term::Input::Line(l) if l.trim().eq_ignore_ascii_case("cancel") => {
                                Answer::Cancel
                            }
                            term::Input::Line(_) => Answer::Continue,
                            term::Input::Eof | term::Input::Interrupted => Answer::Cancel,
                        },
                    );
                }
            }
        }
    }

    /// `asked`: the outcome is the answer to a question (whose prompt has
    /// shown the failure already).
    fn finish(&self, outcome: Outcome, asked: bool) -> Result<Vec<Account>> {
        match outcome {
            Outcome::Activated(accounts) => Ok(accounts),
            Outcome::Failed(e) => {
                let code = normalize_code(&e.code);
                let exit = exit_for_error_code(&code);
                let message = if asked && self.prompter.is_interactive() {
                    "activation failed; nothing was stored".to_owned()
                } else {
                    e.message
                };
                Err(CliError::new(code, message, exit))
            }
            Outcome::Cancelled => Err(CliError::cancelled(
                "activation cancelled; nothing was stored",
            )),
        }
    }

    async fn send(
        &mut self,
        view: &ActivationView,
        event: EventKind,
    ) -> Result<ActivationView, CliError> {
        let request = SendEventRequest {
            activation_id: view.id.clone(),
            revision: view.revision,
            event: Some(Event { kind: Some(event) }),
        };
        Ok(self.client.send_event(request).await?.into_inner())
    }

    async fn send_cancel(&mut self, view: &ActivationView) -> Result<ActivationView> {
        match self.send(view, EventKind::Cancel(empty())).await {
            Ok(next) => {
                self.ctx.cancel_requested = true;
                Ok(next)
            }
            Err(e) => self.recover(view.clone(), e).await,
        }
    }

    /// After a refused event: a stale revision (another client answered
    /// first) continues from the current view; a person is shown the message
    /// and asked again; a script stops.
    async fn recover(&mut self, view: ActivationView, err: CliError) -> Result<ActivationView> {
        if err.code == "ERROR_CODE_INVALID_EVENT" {
            let current = self.current(&view).await?;
            if current.revision != view.revision {
                return Ok(current);
            }
            return Err(err);
        }
        let fatal = err.exit == exit::UNREACHABLE
            || matches!(
                err.code.as_str(),
                "ERROR_CODE_ACTIVATION_ENDED" | "ERROR_CODE_NOT_FOUND" | "ERROR_CODE_INTERNAL"
            );
        if self.prompter.is_interactive() && !fatal {
            errln!("tessera: {}", err.message);
            return Ok(view);
        }
        Err(err)
    }

    async fn open_watch(&mut self, view: &ActivationView) -> Result<Streaming<ActivationView>> {
        Ok(self
            .client
            .watch(WatchActivationRequest {
                activation_id: view.id.clone(),
            })
            .await?
            .into_inner())
    }

    /// The activation's current view (the first message of a watch).
    async fn current(&mut self, view: &ActivationView) -> Result<ActivationView> {
        let mut stream = self.open_watch(view).await?;
        stream.message().await?.ok_or_else(ended)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Waits for a view newer than `view`; with `interruptible`, Ctrl-C ends the
/// wait (the caller then sends `Cancel`).
async fn wait_for_change(
    stream: &mut Streaming<ActivationView>,
    view: &ActivationView,
    interruptible: bool,
) -> Result<Waited> {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            message = stream.message() => match message? {
                Some(next) if next.revision > view.revision || next.id != view.id => {
                    return Ok(Waited::View(next));
                }
                Some(_) => {}
                None => return Err(ended()),
            },
            _ = tick.tick() => {
                if interruptible && term::take_interrupt() {
                    return Ok(Waited::Interrupted);
                }
            }
        }
    }
}

/// The event's name, as in the proto (for bookkeeping; never the PIN).
pub fn event_name(event: &EventKind) -> &'static str {
    match event {
        EventKind::Scan(_) => "scan",
        EventKind::EnterManually(_) => "enter_manually",
        EventKind::Continue(_) => "continue",
        EventKind::Pin(_) => "pin",
        EventKind::Biometric(_) => "biometric",
        EventKind::PinOnly(_) => "pin_only",
        EventKind::Allow(_) => "allow",
        EventKind::Deny(_) => "deny",
        EventKind::Cancel(_) => "cancel",
        EventKind::ConfirmCancel(_) => "confirm_cancel",
        EventKind::Back(_) => "back",
        EventKind::StartOver(_) => "start_over",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::{FlagAnswers, ScriptedPrompter};
    use tessera_proto::v1::{
        self as pb, ActivationState, CodeShown, EnrollProgress, ManualEntry, MethodChoice,
        PinPrompt,
    };
    use zeroize::Zeroizing;

    fn ctx() -> FlowContext {
        FlowContext {
            home_needs_source: false,
            cancel_requested: false,
            can_change_input: false,
        }
    }

    fn code(c: &str) -> CodeShown {
        CodeShown {
            code: c.into(),
            grouped: c.into(),
            ..Default::default()
        }
    }

    fn send(kind: EventKind) -> Reaction {
        Reaction::Send(kind)
    }

    #[test]
    fn states_that_ask() {
        let c = ctx();
        assert_eq!(
            step_for(Some(&State::DeviceCode(code("1"))), &c),
            Step::Ask(Question::DeviceCode(code("1")))
        );
        assert_eq!(
            step_for(Some(&State::ChoosePin(PinPrompt::default())), &c),
            Step::Ask(Question::Pin(PinStep::Choose, PinPrompt::default()))
        );
        assert_eq!(
            step_for(Some(&State::ConfirmPin(PinPrompt::default())), &c),
            Step::Ask(Question::Pin(PinStep::Confirm, PinPrompt::default()))
        );
        assert_eq!(
            step_for(Some(&State::EnterPin(PinPrompt::default())), &c),
            Step::Ask(Question::Pin(PinStep::Enter, PinPrompt::default()))
        );
        assert_eq!(
            step_for(Some(&State::BiometricPermission(Empty {})), &c),
            Step::Ask(Question::Permission(Permission::Biometric))
        );
        assert_eq!(
            step_for(Some(&State::NotificationPermission(Empty {})), &c),
            Step::Ask(Question::Permission(Permission::Notifications))
        );
        assert_eq!(
            step_for(Some(&State::FinalizeCode(code("2"))), &c),
            Step::Ask(Question::FinalizeCode(code("2")))
        );
    }

    #[test]
    fn states_that_wait_or_end() {
        let c = ctx();
        assert_eq!(step_for(Some(&State::Scanning(Empty {})), &c), Step::Wait);
        assert_eq!(
            step_for(Some(&State::BiometricEnroll(EnrollProgress::default())), &c),
            Step::Wait
        );
        assert_eq!(step_for(None, &c), Step::Wait);
        let acc = Account {
            id: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            step_for(
                Some(&State::Activated(pb::Activated {
                    accounts: vec![acc.clone()]
                })),
                &c
            ),
            Step::Done(Outcome::Activated(vec![acc]))
        );
    }

    #[test]
    fn home_rescans_only_when_the_source_is_needed() {
        let home = State::Home(Empty {});
        assert_eq!(step_for(Some(&home), &FlowContext::default()), Step::Rescan);
        assert_eq!(
            step_for(Some(&home), &ctx()),
            Step::Done(Outcome::Cancelled)
        );
    }

    #[test]
    fn cancel_confirm_is_asked_only_when_this_client_cancelled() {
        let state = State::CancelConfirm(Box::new(pb::CancelConfirm {
            previous: Some(Box::new(ActivationState {
                kind: Some(State::DeviceCode(code("1"))),
            })),
        }));
        assert_eq!(step_for(Some(&state), &ctx()), Step::Wait);
        let mine = FlowContext {
            cancel_requested: true,
            ..ctx()
        };
        assert_eq!(
            step_for(Some(&state), &mine),
            Step::Ask(Question::ConfirmCancel)
        );
    }

    #[test]
    fn failed_offers_start_over() {
        let err = ErrorCodeMessage {
            code: "ERROR_CODE_ACTIVATION_ENDED".into(),
            message: "timed out".into(),
        };
        let state = State::Failed(pb::Failed {
            error: Some(err.clone()),
        });
        let q = Question::StartOver(err.clone());
        assert_eq!(step_for(Some(&state), &ctx()), Step::Ask(q.clone()));
        assert_eq!(
            event_for(&q, Answer::Yes).unwrap(),
            send(EventKind::StartOver(Empty {}))
        );
        assert_eq!(
            event_for(&q, Answer::No).unwrap(),
            Reaction::Done(Outcome::Failed(err.clone()))
        );
        assert_eq!(
            event_for(&q, Answer::Cancel).unwrap(),
            Reaction::Done(Outcome::Failed(err))
        );
    }

    #[test]
    fn a_bad_input_failure_is_not_started_over_with_the_same_input() {
        let err = ErrorCodeMessage {
            code: "ERROR_CODE_INVALID_IMAGE".into(),
            message: "no QR code in the image".into(),
        };
        let state = State::Failed(pb::Failed {
            error: Some(err.clone()),
        });
        assert_eq!(
            step_for(Some(&state), &ctx()),
            Step::Done(Outcome::Failed(err.clone()))
        );
        let retyping = FlowContext {
            can_change_input: true,
            ..ctx()
        };
        assert_eq!(
            step_for(Some(&state), &retyping),
            Step::Ask(Question::StartOver(err))
        );
    }

    #[test]
    fn answers_to_events() {
        let dc = Question::DeviceCode(code("1"));
        assert_eq!(
            event_for(&dc, Answer::Continue).unwrap(),
            send(EventKind::Continue(Empty {}))
        );
        assert_eq!(
            event_for(&dc, Answer::Cancel).unwrap(),
            send(EventKind::Cancel(Empty {}))
        );
        let pin = Question::Pin(PinStep::Confirm, PinPrompt::default());
        assert_eq!(
            event_for(&pin, Answer::Pin(Zeroizing::new("2468".into()))).unwrap(),
            send(EventKind::Pin("2468".into()))
        );
        assert_eq!(
            event_for(&pin, Answer::Cancel).unwrap(),
            send(EventKind::Cancel(Empty {}))
        );
        let m = Question::Method(MethodChoice::default());
        assert_eq!(
            event_for(&m, Answer::Method(Method::Biometric)).unwrap(),
            send(EventKind::Biometric(Empty {}))
        );
        assert_eq!(
            event_for(&m, Answer::Method(Method::Pin)).unwrap(),
            send(EventKind::PinOnly(Empty {}))
        );
        for p in [Permission::Biometric, Permission::Notifications] {
            let q = Question::Permission(p);
            assert_eq!(
                event_for(&q, Answer::Yes).unwrap(),
                send(EventKind::Allow(Empty {}))
            );
            assert_eq!(
                event_for(&q, Answer::No).unwrap(),
                send(EventKind::Deny(Empty {}))
            );
        }
        let cc = Question::ConfirmCancel;
        assert_eq!(
            event_for(&cc, Answer::Yes).unwrap(),
            send(EventKind::ConfirmCancel(Empty {}))
        );
        assert_eq!(
            event_for(&cc, Answer::Cancel).unwrap(),
            send(EventKind::ConfirmCancel(Empty {}))
        );
        assert_eq!(
            event_for(&cc, Answer::No).unwrap(),
            send(EventKind::Back(Empty {}))
        );
    }

    #[test]
    fn mismatched_answer_is_an_error() {
        assert!(event_for(&Question::ConfirmCancel, Answer::Continue).is_err());
        assert!(event_for(&Question::DeviceCode(code("1")), Answer::Yes).is_err());
    }

    #[test]
    fn cancellable_states() {
        assert!(cancellable(Some(&State::DeviceCode(code("1")))));
        assert!(cancellable(Some(&State::Scanning(Empty {}))));
        assert!(cancellable(Some(&State::ChoosePin(PinPrompt::default()))));
        assert!(!cancellable(Some(&State::Home(Empty {}))));
        assert!(!cancellable(Some(&State::Failed(pb::Failed::default()))));
        assert!(!cancellable(Some(&State::Activated(
            pb::Activated::default()
        ))));
        assert!(!cancellable(None));
    }

    #[test]
    fn rescan_resends_the_source() {
        let manual = ManualEntry {
            serial: "SN1".into(),
            activation_code: "1234".into(),
        };
        assert_eq!(
            rescan_event(&Source::Manual(manual.clone())),
            EventKind::EnterManually(manual)
        );
        assert_eq!(
            rescan_event(&Source::Payload("otpauth://x".into())),
            EventKind::Scan(StartActivationRequest {
                source: Some(Source::Payload("otpauth://x".into()))
            })
        );
    }

    /// The biometric branch with `--method biometric` (the daemon has no
    /// biometric plugin yet, so only here): the method and the permission
    /// come from the flag, the enrolment is waited through.
    #[test]
    fn scripted_biometric_walk() {
        let mut p = ScriptedPrompter {
            flags: FlagAnswers {
                pin: Some(Zeroizing::new("482913".into())),
                method: Some(Method::Biometric),
                notifications: Some(crate::prompt::AllowDeny::Deny),
                yes: false,
            },
        };
        let mut answer = |state: State| match step_for(Some(&state), &ctx()) {
            Step::Ask(q) => {
                let a = p.ask(&q).unwrap();
                match event_for(&q, a).unwrap() {
                    Reaction::Send(e) => event_name(&e),
                    other => panic!("{other:?}"),
                }
            }
            Step::Wait => "wait",
            other => panic!("{other:?}"),
        };
        let available = MethodChoice {
            biometric_available: true,
            ..Default::default()
        };
        assert_eq!(answer(State::ChooseMethod(available)), "biometric");
        assert_eq!(answer(State::BiometricPermission(Empty {})), "allow");
        for stage in 1..=3 {
            let progress = EnrollProgress {
                stage,
                stages: 3,
                message: String::new(),
            };
            assert_eq!(answer(State::BiometricEnroll(progress)), "wait");
        }
        assert_eq!(answer(State::FinalizeCode(code("12345678"))), "continue");
        assert_eq!(answer(State::NotificationPermission(Empty {})), "deny");
        // Biometrics refused by --method pin, or none to offer: PIN only.
        let mut pin_only = ScriptedPrompter {
            flags: FlagAnswers::default(),
        };
        let q = Question::Method(MethodChoice::default());
        assert_eq!(
            event_for(&q, pin_only.ask(&q).unwrap()).unwrap(),
            send(EventKind::PinOnly(Empty {}))
        );
        // Cancelling while enrolling is allowed, and asked when ours.
        assert!(cancellable(Some(&State::BiometricEnroll(
            EnrollProgress::default()
        ))));
    }

    /// A whole scripted run through the pure functions: the events the flags
    /// produce for each state of a typical activation.
    #[test]
    fn scripted_walk() {
        let mut p = ScriptedPrompter {
            flags: FlagAnswers {
                pin: Some(Zeroizing::new("482913".into())),
                method: Some(Method::Pin),
                notifications: Some(crate::prompt::AllowDeny::Deny),
                yes: true,
            },
        };
        let states = [
            State::DeviceCode(code("012345678998")),
            State::ChoosePin(PinPrompt::default()),
            State::ConfirmPin(PinPrompt::default()),
            State::ChooseMethod(MethodChoice {
                biometric_available: true,
                ..Default::default()
            }),
            State::FinalizeCode(code("12345678")),
            State::NotificationPermission(Empty {}),
        ];
        let events: Vec<_> = states
            .iter()
            .map(|s| match step_for(Some(s), &ctx()) {
                Step::Ask(q) => {
                    let a = p.ask(&q).unwrap();
                    match event_for(&q, a).unwrap() {
                        Reaction::Send(e) => event_name(&e),
                        other => panic!("{other:?}"),
                    }
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            events,
            ["continue", "pin", "pin", "pin_only", "continue", "deny"]
        );
    }
}
