//! Questions the activation asks, and who answers them: the terminal
//! ([`TerminalPrompter`]) or the command-line flags ([`ScriptedPrompter`]).

use std::io::BufRead;
use std::path::Path;

use tessera_core::activation::{ActivationCode, ActivationError, Serial};
use tessera_proto::v1::{CodeShown, ErrorCodeMessage, ManualEntry, MethodChoice, PinPrompt};
use zeroize::Zeroizing;

use crate::error::{CliError, Result};
use crate::out::{errln, outln};
use crate::term::{self, Input};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStep {
    Choose,
    Confirm,
    Enter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Biometric,
    Notifications,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// PIN only.
    Pin,
    /// Biometrics (fingerprint), with the PIN as fallback.
    Biometric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AllowDeny {
    Allow,
    Deny,
}

/// What the user is asked in a state.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// Device code shown: done typing it into the issuer's app?
    DeviceCode(CodeShown),
    /// Finalize code shown: done?
    FinalizeCode(CodeShown),
    Pin(PinStep, PinPrompt),
    Method(MethodChoice),
    Permission(Permission),
    ConfirmCancel,
    StartOver(ErrorCodeMessage),
}

/// An answer. `Cancel` is Ctrl-C or the word `cancel` at a prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Continue,
    Pin(Zeroizing<String>),
    Method(Method),
    Yes,
    No,
    Cancel,
}

pub trait Prompter {
    /// Whether a person answers (errors are then shown and the step asked again).
    fn is_interactive(&self) -> bool;
    fn ask(&mut self, question: &Question) -> Result<Answer>;
    /// A line of text (serial number, activation code), or the flag that gives it.
    fn text(&mut self, label: &str, given: Option<&str>, flag: &str) -> Result<String>;
}

/// The answers given as flags.
#[derive(Debug, Default, Clone)]
pub struct FlagAnswers {
    pub pin: Option<Zeroizing<String>>,
    pub method: Option<Method>,
    pub notifications: Option<AllowDeny>,
    pub yes: bool,
}

impl FlagAnswers {
    /// The flags' answer, `Ok(None)` when they give none.
    pub fn answer(&self, question: &Question) -> Result<Option<Answer>> {
        Ok(match question {
            Question::DeviceCode(_) | Question::FinalizeCode(_) | Question::StartOver(_) => None,
            // A PIN asked again (mismatch, policy, wrong PIN) is not answered
            // with the same PIN again.
            Question::Pin(_, prompt) if !prompt.reason.is_empty() => None,
            Question::Pin(..) => self.pin.clone().map(Answer::Pin),
            Question::Method(choice) => match self.method {
                Some(Method::Biometric) if !choice.biometric_available => {
                    return Err(CliError::refused(
                        "ERROR_CODE_UNSUPPORTED",
                        format!(
                            "biometrics are not available{}. Use --method pin",
                            reason_suffix(&choice.biometric_unavailable_reason)
                        ),
                    ));
                }
                Some(m) => Some(Answer::Method(m)),
                // Only one choice: nothing to ask.
                None if !choice.biometric_available => Some(Answer::Method(Method::Pin)),
                None => None,
            },
            Question::Permission(Permission::Biometric) => self.method.map(|m| match m {
                Method::Biometric => Answer::Yes,
                Method::Pin => Answer::No,
            }),
            Question::Permission(Permission::Notifications) => {
                self.notifications.map(|n| match n {
                    AllowDeny::Allow => Answer::Yes,
                    AllowDeny::Deny => Answer::No,
                })
            }
            Question::ConfirmCancel => self.yes.then_some(Answer::Yes),
        })
    }
}

/// A new PIN's rule as policy words it: "6 digits" only when policy wants
/// digits only, else "6 characters".
pub fn pin_rule(prompt: &PinPrompt) -> String {
    let n = prompt.min_length;
    let unit = match (prompt.digits_only, n == 1) {
        (true, true) => "digit",
        (true, false) => "digits",
        (false, true) => "character",
        (false, false) => "characters",
    };
    format!("{n} {unit}")
}

/// The serial number and activation code of a manual entry, from the flags
/// or typed, normalised and checked with the protocol's own rules
/// (tessera-core) before the daemon is asked: case, spaces and hyphens do
/// not matter; the serial is checked before the code is asked; after an
/// error only the field at fault is asked again (check digits that do not
/// match ask for the code, or `serial` to retype the serial). Without a
/// terminal an error names the flag.
pub fn manual_entry(
    p: &mut dyn Prompter,
    serial: Option<&str>,
    code: Option<&str>,
) -> Result<ManualEntry> {
    let mut serial_flag = serial.map(str::to_owned);
    let mut code_flag = code.map(|c| Zeroizing::new(c.to_owned()));
    let bad = |flag: &str, e: ActivationError| CliError::usage(format!("{flag}: {e}"));
    'serial: loop {
        let typed = p.text("Serial number", serial_flag.take().as_deref(), "--serial")?;
        let serial = match Serial::from_typed(&typed) {
            Ok(s) => s,
            Err(e) if p.is_interactive() => {
                errln!("{e}; type the serial number again.");
                continue;
            }
            Err(e) => return Err(bad("--serial", e)),
        };
        loop {
            let typed = Zeroizing::new(p.text(
                "Activation code",
                code_flag.take().as_deref().map(String::as_str),
                "--activation-code",
            )?);
            if p.is_interactive() && typed.trim().eq_ignore_ascii_case("serial") {
                continue 'serial;
            }
            match ActivationCode::parse(&serial, &typed) {
                Ok(code) => {
                    return Ok(ManualEntry {
                        serial: serial.to_string(),
                        activation_code: code.expose().to_owned(),
                    });
                }
                Err(e @ ActivationError::CodeCheck) if p.is_interactive() => errln!(
                    "{e} {serial}; type the activation code again (or `serial` to retype \
                     the serial number)."
                ),
                Err(e) if p.is_interactive() => errln!("{e}; type the activation code again."),
                Err(e) => return Err(bad("--activation-code", e)),
            }
        }
    }
}

/// ": the reason" without its final full stop, or nothing.
fn reason_suffix(reason: &str) -> String {
    let reason = reason.trim().trim_end_matches('.');
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// The flag that answers a question, for the "pass --…" error.
pub fn flag_for(question: &Question) -> (&'static str, &'static str) {
    match question {
        Question::Pin(..) => ("--pin-file FILE", "the activation asks for a PIN"),
        Question::Method(_) => (
            "--method pin|biometric",
            "the activation asks how to protect the account",
        ),
        Question::Permission(Permission::Biometric) => (
            "--method pin|biometric",
            "the activation asks to allow biometrics",
        ),
        Question::Permission(Permission::Notifications) => (
            "--notifications allow|deny",
            "the activation asks whether to allow notifications",
        ),
        Question::ConfirmCancel => ("--yes", "the activation asks to confirm cancelling"),
        Question::DeviceCode(_) | Question::FinalizeCode(_) | Question::StartOver(_) => {
            ("", "the activation asks a question")
        }
    }
}

/// No terminal: every answer comes from a flag; a question no flag answers is
/// an error (exit 2) naming the flag. Codes shown are acknowledged at once; a
/// failure is not started over.
pub struct ScriptedPrompter {
    pub flags: FlagAnswers,
}

impl Prompter for ScriptedPrompter {
    fn is_interactive(&self) -> bool {
        false
    }

    fn ask(&mut self, question: &Question) -> Result<Answer> {
        match question {
            Question::DeviceCode(_) | Question::FinalizeCode(_) => return Ok(Answer::Continue),
            Question::StartOver(_) => return Ok(Answer::No),
            _ => {}
        }
        if let Some(answer) = self.flags.answer(question)? {
            return Ok(answer);
        }
        match question {
            Question::Pin(step, prompt) if !prompt.reason.is_empty() => {
                let code = if *step == PinStep::Enter {
                    "ERROR_CODE_WRONG_PIN"
                } else {
                    "ERROR_CODE_PIN_POLICY"
                };
                Err(CliError::refused(
                    code,
                    format!(
                        "the PIN from --pin-file was not accepted: {}",
                        prompt.reason
                    ),
                ))
            }
            _ => {
                let (flag, what) = flag_for(question);
                Err(CliError::missing_flag(flag, what))
            }
        }
    }

    fn text(&mut self, _label: &str, given: Option<&str>, flag: &str) -> Result<String> {
        given
            .map(str::to_owned)
            .ok_or_else(|| CliError::missing_flag(flag, "manual entry needs a value"))
    }
}

/// Asks on the terminal (prompts on stderr, answers from stdin; PINs without
/// echo), except what the flags already answer.
pub struct TerminalPrompter {
    pub flags: FlagAnswers,
}

/// A typed line, after the word `cancel` and Ctrl-C are taken out.
enum Typed {
    Line(Zeroizing<String>),
    Cancel,
    Eof,
}

fn read(prompt: &str, echo: bool) -> Result<Typed> {
    match term::read_line(prompt, echo).map_err(|e| CliError::io("reading the terminal", e))? {
        Input::Interrupted => Ok(Typed::Cancel),
        Input::Eof => Ok(Typed::Eof),
        Input::Line(l) if l.trim().eq_ignore_ascii_case("cancel") => Ok(Typed::Cancel),
        Input::Line(l) => Ok(Typed::Line(l)),
    }
}

/// A yes/no question; Enter gives `default`.
fn yes_no(prompt: &str, default: bool) -> Result<Answer> {
    loop {
        match read(prompt, true)? {
            Typed::Cancel => return Ok(Answer::Cancel),
            Typed::Eof => return Ok(Answer::Cancel),
            Typed::Line(l) => match parse_yes_no(&l, default) {
                Some(true) => return Ok(Answer::Yes),
                Some(false) => return Ok(Answer::No),
                None => errln!("Please answer y or n."),
            },
        }
    }
}

pub fn parse_yes_no(line: &str, default: bool) -> Option<bool> {
    match line.trim().to_ascii_lowercase().as_str() {
        "" => Some(default),
        "y" | "yes" => Some(true),
        "n" | "no" => Some(false),
        _ => None,
    }
}

impl Prompter for TerminalPrompter {
    fn is_interactive(&self) -> bool {
        true
    }

    fn ask(&mut self, question: &Question) -> Result<Answer> {
        if let Some(answer) = self.flags.answer(question)? {
            if let (Question::Method(choice), Answer::Method(Method::Pin)) = (question, &answer)
                && !choice.biometric_available
            {
                outln!(
                    "Biometrics are not available{}. The account is protected by the PIN.",
                    reason_suffix(&choice.biometric_unavailable_reason)
                );
            }
            return Ok(answer);
        }
        match question {
            Question::DeviceCode(_) => acknowledge("Press Enter once you have typed it in: "),
            Question::FinalizeCode(_) => acknowledge("Press Enter when done: "),
            Question::Pin(step, prompt) => {
                let label = match step {
                    PinStep::Choose => "New PIN: ",
                    PinStep::Confirm => "Repeat the PIN: ",
                    PinStep::Enter => "Vault PIN: ",
                };
                loop {
                    match read(label, false)? {
                        Typed::Cancel | Typed::Eof => return Ok(Answer::Cancel),
                        Typed::Line(pin) if pin.is_empty() => {
                            errln!("The PIN is empty; type it, or `cancel`.")
                        }
                        Typed::Line(pin)
                            if *step == PinStep::Choose
                                && (pin.chars().count() as u32) < prompt.min_length =>
                        {
                            errln!("The PIN must have at least {}.", pin_rule(prompt))
                        }
                        Typed::Line(pin) => return Ok(Answer::Pin(pin)),
                    }
                }
            }
            Question::Method(_) => Ok(
                match yes_no(
                    "Protect this account with biometrics (fingerprint) too? [y/N] ",
                    false,
                )? {
                    Answer::Yes => Answer::Method(Method::Biometric),
                    Answer::No => Answer::Method(Method::Pin),
                    other => other,
                },
            ),
            Question::Permission(Permission::Biometric) => {
                errln!(
                    "Tessera asks the system's fingerprint service (fprintd) to check your \
                     finger; fprintd lets your user verify (and enroll) fingerprints on this \
                     computer. The key that your finger releases stays in your login keyring."
                );
                yes_no("Allow Tessera to use your fingerprint reader? [Y/n] ", true)
            }
            Question::Permission(Permission::Notifications) => yes_no(
                "Allow Tessera to show notifications (sign-in approvals)? [Y/n] ",
                true,
            ),
            Question::ConfirmCancel => {
                match yes_no("Cancel activation? Nothing will be stored. [y/N] ", false)? {
                    // Ctrl-C again, or input ended: yes.
                    Answer::Cancel => Ok(Answer::Yes),
                    other => Ok(other),
                }
            }
            Question::StartOver(error) => {
                errln!("Activation failed: {}", error.message);
                match yes_no("Start over? [y/N] ", false)? {
                    Answer::Yes => Ok(Answer::Yes),
                    _ => Ok(Answer::No),
                }
            }
        }
    }

    fn text(&mut self, label: &str, given: Option<&str>, _flag: &str) -> Result<String> {
        if let Some(v) = given {
            return Ok(v.to_owned());
        }
        loop {
            match read(&format!("{label}: "), true)? {
                Typed::Cancel | Typed::Eof => {
                    return Err(CliError::cancelled(
                        "activation cancelled; nothing was stored",
                    ));
                }
                Typed::Line(l) if l.trim().is_empty() => {}
                Typed::Line(l) => return Ok(l.trim().to_owned()),
            }
        }
    }
}

fn acknowledge(prompt: &str) -> Result<Answer> {
    Ok(match read(prompt, true)? {
        Typed::Cancel | Typed::Eof => Answer::Cancel,
        Typed::Line(_) => Answer::Continue,
    })
}

/// Reads a PIN (or other secret) file: its first line without the newline;
/// `-` reads standard input.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<String>> {
    let text = if path == Path::new("-") {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::io("reading the PIN from standard input", e))?;
        line
    } else {
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!("cannot read the PIN file {}: {e}", path.display()))
        })?)
    };
    let first = text.split('\n').next().unwrap_or("");
    let first = first.strip_suffix('\r').unwrap_or(first);
    if first.is_empty() {
        return Err(CliError::usage(format!(
            "the PIN file {} is empty",
            path.display()
        )));
    }
    Ok(Zeroizing::new(first.to_owned()))
}

/// Asks a PIN on the terminal without echo (for unlock and change-pin).
/// Ctrl-C, `cancel` or the end of input cancel the command.
pub fn ask_pin(prompt: &str) -> Result<Zeroizing<String>> {
    loop {
        match read(prompt, false)? {
            Typed::Cancel | Typed::Eof => return Err(CliError::cancelled("cancelled")),
            Typed::Line(pin) if pin.is_empty() => errln!("The PIN is empty."),
            Typed::Line(pin) => return Ok(pin),
        }
    }
}

/// One of `choices` typed at the terminal (any case), asked until one is.
pub fn ask_choice(prompt: &str, choices: &[&str]) -> Result<String> {
    loop {
        match read(prompt, true)? {
            Typed::Cancel | Typed::Eof => return Err(CliError::cancelled("cancelled")),
            Typed::Line(l) => {
                let l = l.trim().to_lowercase();
                if let Some(c) = choices.iter().find(|c| **c == l) {
                    return Ok((*c).to_owned());
                }
                errln!("Please answer {}.", choices.join(" or "));
            }
        }
    }
}

/// A yes/no confirmation on the terminal, default no.
pub fn confirm(prompt: &str) -> Result<bool> {
    Ok(yes_no(prompt, false)? == Answer::Yes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_owned())
    }

    fn scripted(flags: FlagAnswers) -> ScriptedPrompter {
        ScriptedPrompter { flags }
    }

    fn choice(available: bool) -> MethodChoice {
        MethodChoice {
            biometric_available: available,
            biometric_unavailable_reason: if available {
                String::new()
            } else {
                "no fingerprint reader".into()
            },
        }
    }

    #[test]
    fn scripted_acknowledges_codes_and_never_starts_over() {
        let mut p = scripted(FlagAnswers::default());
        assert_eq!(
            p.ask(&Question::DeviceCode(CodeShown::default())).unwrap(),
            Answer::Continue
        );
        assert_eq!(
            p.ask(&Question::FinalizeCode(CodeShown::default()))
                .unwrap(),
            Answer::Continue
        );
        assert_eq!(
            p.ask(&Question::StartOver(ErrorCodeMessage::default()))
                .unwrap(),
            Answer::No
        );
    }

    #[test]
    fn scripted_pin_from_flag() {
        let mut p = scripted(FlagAnswers {
            pin: Some(pin("482913")),
            ..Default::default()
        });
        let q = Question::Pin(PinStep::Choose, PinPrompt::default());
        assert_eq!(p.ask(&q).unwrap(), Answer::Pin(pin("482913")));
        let q = Question::Pin(PinStep::Confirm, PinPrompt::default());
        assert_eq!(p.ask(&q).unwrap(), Answer::Pin(pin("482913")));
    }

    #[test]
    fn scripted_missing_pin_names_the_flag() {
        let mut p = scripted(FlagAnswers::default());
        let err = p
            .ask(&Question::Pin(PinStep::Choose, PinPrompt::default()))
            .unwrap_err();
        assert_eq!(err.exit, crate::error::exit::USAGE);
        assert!(err.message.contains("--pin-file"), "{}", err.message);
    }

    #[test]
    fn scripted_pin_asked_again_is_refused_not_looped() {
        let mut p = scripted(FlagAnswers {
            pin: Some(pin("1111")),
            ..Default::default()
        });
        let q = Question::Pin(
            PinStep::Choose,
            PinPrompt {
                reason: "The PIN is too simple.".into(),
                min_length: 4,
                ..Default::default()
            },
        );
        let err = p.ask(&q).unwrap_err();
        assert_eq!(err.exit, crate::error::exit::REFUSED);
        assert_eq!(err.code, "ERROR_CODE_PIN_POLICY");
        assert!(err.message.contains("too simple"));
        let q = Question::Pin(
            PinStep::Enter,
            PinPrompt {
                reason: "Wrong PIN.".into(),
                min_length: 0,
                ..Default::default()
            },
        );
        assert_eq!(p.ask(&q).unwrap_err().code, "ERROR_CODE_WRONG_PIN");
    }

    #[test]
    fn scripted_method() {
        let mut none = scripted(FlagAnswers::default());
        assert!(
            none.ask(&Question::Method(choice(true)))
                .unwrap_err()
                .message
                .contains("--method")
        );
        // No choice to make: PIN only.
        assert_eq!(
            none.ask(&Question::Method(choice(false))).unwrap(),
            Answer::Method(Method::Pin)
        );
        let mut bio = scripted(FlagAnswers {
            method: Some(Method::Biometric),
            ..Default::default()
        });
        assert_eq!(
            bio.ask(&Question::Method(choice(true))).unwrap(),
            Answer::Method(Method::Biometric)
        );
        assert_eq!(
            bio.ask(&Question::Permission(Permission::Biometric))
                .unwrap(),
            Answer::Yes
        );
        let err = bio.ask(&Question::Method(choice(false))).unwrap_err();
        assert_eq!(err.exit, crate::error::exit::REFUSED);
        assert!(err.message.contains("no fingerprint reader"));
    }

    #[test]
    fn scripted_notifications_and_confirm() {
        let mut p = scripted(FlagAnswers {
            notifications: Some(AllowDeny::Deny),
            yes: true,
            ..Default::default()
        });
        assert_eq!(
            p.ask(&Question::Permission(Permission::Notifications))
                .unwrap(),
            Answer::No
        );
        assert_eq!(p.ask(&Question::ConfirmCancel).unwrap(), Answer::Yes);
        let mut q = scripted(FlagAnswers::default());
        assert!(
            q.ask(&Question::Permission(Permission::Notifications))
                .unwrap_err()
                .message
                .contains("--notifications")
        );
        assert!(
            q.ask(&Question::ConfirmCancel)
                .unwrap_err()
                .message
                .contains("--yes")
        );
    }

    #[test]
    fn scripted_text() {
        let mut p = scripted(FlagAnswers::default());
        assert_eq!(p.text("Serial", Some("SN1"), "--serial").unwrap(), "SN1");
        assert!(
            p.text("Serial", None, "--serial")
                .unwrap_err()
                .message
                .contains("--serial")
        );
    }

    #[test]
    fn yes_no_parsing() {
        assert_eq!(parse_yes_no("", false), Some(false));
        assert_eq!(parse_yes_no("", true), Some(true));
        assert_eq!(parse_yes_no(" Y ", false), Some(true));
        assert_eq!(parse_yes_no("no", true), Some(false));
        assert_eq!(parse_yes_no("maybe", true), None);
    }

    #[test]
    fn secret_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pin");
        std::fs::write(&f, "482913\r\nsecond\n").unwrap();
        assert_eq!(read_secret_file(&f).unwrap().as_str(), "482913");
        std::fs::write(&f, "4829").unwrap();
        assert_eq!(read_secret_file(&f).unwrap().as_str(), "4829");
        std::fs::write(&f, "\n").unwrap();
        assert_eq!(read_secret_file(&f).unwrap_err().exit, 2);
        assert_eq!(
            read_secret_file(&dir.path().join("missing"))
                .unwrap_err()
                .exit,
            2
        );
    }
}
