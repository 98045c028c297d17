//! `fprintd`: Tessera's biometric plugin for fingerprint readers, through
//! fprintd's D-Bus API (`net.reactivated.Fprint`) on the system bus.
//!
//! - availability: `Manager.GetDefaultDevice`, then
//!   `Device.ListEnrolledFingers("")` (the current user) and the device's
//!   `name`;
//! - enroll: `Claim("")`, `EnrollStart(finger)` and the `EnrollStatus`
//!   signals (a stage per `enroll-stage-passed`), `EnrollStop`, `Release`;
//! - verify: `Claim("")`, `VerifyStart("any")` and the `VerifyStatus`
//!   signals, `VerifyStop`, `Release`.
//!
//! The device is always released: after a match, a no-match, an error, a
//! cancel and a timeout. fprintd's named errors (`AlreadyInUse`,
//! `PermissionDenied`, `NoEnrolledPrints`, `NoSuchDevice`, …) become
//! messages that say what to do. zbus finds the system bus through
//! `DBUS_SYSTEM_BUS_ADDRESS` (tests point it at a private bus with a mock
//! fprintd) or at its standard place.

use std::time::Duration;

use tessera_plugin_api::{
    Availability, Biometric, BiometricCall, BiometricFailure, export_biometric,
};
use tokio_stream::StreamExt;
use zbus::message::Type as MessageType;
use zbus::zvariant::OwnedObjectPath;
use zbus::{Connection, MatchRule, MessageStream};

/// fprintd's bus name.
pub const FPRINT_NAME: &str = "net.reactivated.Fprint";
/// The manager's object path.
pub const MANAGER_PATH: &str = "/net/reactivated/Fprint/Manager";
/// The manager's interface.
pub const MANAGER_INTERFACE: &str = "net.reactivated.Fprint.Manager";
/// A device's interface.
pub const DEVICE_INTERFACE: &str = "net.reactivated.Fprint.Device";
/// The prefix of fprintd's error names.
pub const ERROR_PREFIX: &str = "net.reactivated.Fprint.Error.";

/// The finger enrolled when the user has none (fprintd's default too).
const DEFAULT_FINGER: &str = "right-index-finger";
/// How often a wait for a signal looks at cancel and the deadline.
const POLL: Duration = Duration::from_millis(100);
/// How long the clean-up calls (stop, release) may take each.
const CLEANUP: Duration = Duration::from_secs(2);

struct Fprintd;

fn unavailable(m: impl Into<String>) -> BiometricFailure {
    BiometricFailure::Unavailable(m.into())
}

fn failed(m: impl Into<String>) -> BiometricFailure {
    BiometricFailure::Failed(m.into())
}

/// fprintd's errors, in words that say what to do.
pub fn describe_error(error: &zbus::Error) -> BiometricFailure {
    let zbus::Error::MethodError(name, description, _) = error else {
        return failed(format!("fprintd: {error}"));
    };
    let detail = description.clone().unwrap_or_default();
    match name.as_str().strip_prefix(ERROR_PREFIX) {
        Some("AlreadyInUse") => unavailable(
            "fprintd: the fingerprint reader is in use by another program (a login or lock \
             screen, fprintd-verify); try again when it is done",
        ),
        Some("PermissionDenied") => unavailable(
            "fprintd: this user is not allowed to use the fingerprint reader (polkit action \
             net.reactivated.fprint.device.verify); ask an administrator",
        ),
        Some("NoEnrolledPrints") => unavailable(
            "fprintd: no fingerprint is enrolled for this user; enroll one first (in the \
             desktop's settings, or with fprintd-enroll)",
        ),
        Some("NoSuchDevice") => unavailable("fprintd: no fingerprint reader was found"),
        Some("ClaimDevice") => failed(format!(
            "fprintd: the fingerprint reader is not claimed ({detail})"
        )),
        Some("InvalidFingername") => failed(format!("fprintd: invalid finger name ({detail})")),
        Some("Internal") => failed(format!("fprintd: the fingerprint reader failed: {detail}")),
        Some(other) => failed(format!("fprintd: {other}: {detail}")),
        None => match name.as_str() {
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound" => {
                unavailable("fprintd is not running on the system bus; install the fprintd package")
            }
            _ => failed(format!("fprintd: {name}: {detail}")),
        },
    }
}

/// The words for a retry status of fprintd (`verify-…` / `enroll-…`).
fn retry_text(status: &str) -> Option<&'static str> {
    let kind = status.split_once('-').map_or(status, |(_, rest)| rest);
    Some(match kind {
        "retry-scan" => "The reading was not good enough; place your finger on the reader again",
        "swipe-too-short" => "The swipe was too short; swipe your finger again",
        "finger-not-centered" => "Your finger was not centred on the reader; try again",
        "remove-and-retry" => "Lift your finger and place it on the reader again",
        _ => return None,
    })
}

/// A connection to fprintd's default device. Everything runs inside one
/// `block_on` of a current-thread runtime of the call's own, so that zbus's
/// clean-up (dropping a signal stream) happens with the runtime at hand.
struct Session {
    connection: Connection,
    device: OwnedObjectPath,
}

/// Runs `f` on a current-thread runtime made for the call.
fn run<T>(
    f: impl std::future::Future<Output = Result<T, BiometricFailure>>,
) -> Result<T, BiometricFailure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("fprintd: cannot start the D-Bus client: {e}")))?
        .block_on(f)
}

impl Session {
    async fn open(call: &BiometricCall<'_>) -> Result<Session, BiometricFailure> {
        let deadline = call.deadline();
        let connection = tokio::time::timeout_at(deadline.into(), Connection::system())
            .await
            .map_err(|_| unavailable("fprintd: the system bus did not answer in time"))?
            .map_err(|e| unavailable(format!("fprintd: no D-Bus system bus ({e})")))?;
        let reply = tokio::time::timeout_at(
            deadline.into(),
            connection.call_method(
                Some(FPRINT_NAME),
                MANAGER_PATH,
                Some(MANAGER_INTERFACE),
                "GetDefaultDevice",
                &(),
            ),
        )
        .await
        .map_err(|_| unavailable("fprintd did not answer in time"))?
        .map_err(|e| describe_error(&e))?;
        let device: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| failed(format!("fprintd: a bad reply to GetDefaultDevice: {e}")))?;
        Ok(Session { connection, device })
    }

    async fn call<B, R>(&self, method: &str, body: &B) -> Result<R, BiometricFailure>
    where
        B: serde::ser::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
    {
        let reply = tokio::time::timeout(
            Duration::from_secs(10),
            self.connection.call_method(
                Some(FPRINT_NAME),
                self.device.as_str(),
                Some(DEVICE_INTERFACE),
                method,
                body,
            ),
        )
        .await
        .map_err(|_| failed(format!("fprintd did not answer {method} in time")))?
        .map_err(|e| describe_error(&e))?;
        reply
            .body()
            .deserialize()
            .map_err(|e| failed(format!("fprintd: a bad reply to {method}: {e}")))
    }

    /// A clean-up call: errors are ignored, the wait is short.
    async fn cleanup(&self, method: &str) {
        let _ = tokio::time::timeout(
            CLEANUP,
            self.connection.call_method(
                Some(FPRINT_NAME),
                self.device.as_str(),
                Some(DEVICE_INTERFACE),
                method,
                &(),
            ),
        )
        .await;
    }

    async fn property<T: TryFrom<zbus::zvariant::OwnedValue>>(&self, name: &str) -> Option<T> {
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            self.connection.call_method(
                Some(FPRINT_NAME),
                self.device.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(DEVICE_INTERFACE, name),
            ),
        )
        .await
        .ok()?
        .ok()?;
        let value: zbus::zvariant::OwnedValue = reply.body().deserialize().ok()?;
        T::try_from(value).ok()
    }

    async fn enrolled_fingers(&self) -> Result<Vec<String>, BiometricFailure> {
        match self
            .call::<_, Vec<String>>("ListEnrolledFingers", &("",))
            .await
        {
            Err(BiometricFailure::Unavailable(m)) if m.contains("no fingerprint is enrolled") => {
                Ok(Vec::new())
            }
            other => other,
        }
    }

    /// Subscribes to the device's `signal` (before the call that starts it).
    async fn subscribe(&self, signal: &str) -> Result<MessageStream, BiometricFailure> {
        let rule = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(DEVICE_INTERFACE)
            .and_then(|r| r.member(signal))
            .and_then(|r| r.path(self.device.as_str()))
            .map_err(|e| failed(format!("fprintd: {e}")))?
            .build();
        MessageStream::for_match_rule(rule, &self.connection, Some(64))
            .await
            .map_err(|e| failed(format!("fprintd: cannot listen for {signal}: {e}")))
    }

    /// The next `(result, done)` of a status signal; `None` when the call
    /// was cancelled or its deadline passed (see [`stopped`]).
    async fn next_status(
        &self,
        stream: &mut MessageStream,
        call: &BiometricCall<'_>,
    ) -> Result<Option<(String, bool)>, BiometricFailure> {
        loop {
            if call.is_cancelled() || std::time::Instant::now() >= call.deadline() {
                return Ok(None);
            }
            match tokio::time::timeout(POLL, stream.next()).await {
                Err(_) => continue,
                Ok(None) => return Err(failed("fprintd: the bus connection closed")),
                Ok(Some(Err(e))) => return Err(failed(format!("fprintd: {e}"))),
                Ok(Some(Ok(message))) => {
                    return message
                        .body()
                        .deserialize()
                        .map(Some)
                        .map_err(|e| failed(format!("fprintd: a bad status signal: {e}")));
                }
            }
        }
    }
}

/// What to say when the wait ended without an answer.
fn stopped(call: &BiometricCall<'_>, what: &str) -> BiometricFailure {
    if call.is_cancelled() {
        BiometricFailure::Cancelled
    } else {
        BiometricFailure::TimedOut(format!(
            "fprintd: no finger on the reader within {} s; {what}",
            call.timeout().as_secs()
        ))
    }
}

/// Enrolls `finger` on a claimed device.
async fn enroll_claimed(
    session: &Session,
    call: &BiometricCall<'_>,
    finger: &str,
) -> Result<(), BiometricFailure> {
    let stages = session
        .property::<i32>("num-enroll-stages")
        .await
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    let mut stream = session.subscribe("EnrollStatus").await?;
    session.call::<_, ()>("EnrollStart", &(finger,)).await?;
    let mut stage = 0;
    let result = loop {
        let Some((status, done)) = session.next_status(&mut stream, call).await? else {
            break Err(stopped(call, "start the enrollment again"));
        };
        match status.as_str() {
            "enroll-completed" => break Ok(()),
            "enroll-stage-passed" => {
                stage += 1;
                call.stage(
                    stage,
                    stages.max(stage),
                    "Place your finger on the reader again",
                );
            }
            "enroll-failed" => break Err(failed("fprintd: the enrollment failed; try again")),
            "enroll-data-full" => {
                break Err(failed(
                    "fprintd: the reader has no room for another fingerprint; delete old ones \
                     first (fprintd-delete)",
                ));
            }
            "enroll-disconnected" => {
                break Err(failed("fprintd: the fingerprint reader was disconnected"));
            }
            other => match retry_text(other) {
                Some(text) if !done => call.retry(stage, stages, text),
                _ => break Err(failed(format!("fprintd: the enrollment ended: {other}"))),
            },
        }
    };
    session.cleanup("EnrollStop").await;
    result
}

/// Verifies on a claimed device.
async fn verify_claimed(
    session: &Session,
    call: &BiometricCall<'_>,
) -> Result<(), BiometricFailure> {
    let mut stream = session.subscribe("VerifyStatus").await?;
    session.call::<_, ()>("VerifyStart", &("any",)).await?;
    let result = loop {
        let Some((status, done)) = session.next_status(&mut stream, call).await? else {
            break Err(stopped(call, "try again"));
        };
        match status.as_str() {
            "verify-match" => break Ok(()),
            "verify-no-match" => {
                break Err(BiometricFailure::NoMatch(
                    "the fingerprint did not match".into(),
                ));
            }
            "verify-disconnected" => {
                break Err(failed("fprintd: the fingerprint reader was disconnected"));
            }
            other => match retry_text(other) {
                Some(text) if !done => call.retry(0, 0, text),
                _ => break Err(failed(format!("fprintd: the verification ended: {other}"))),
            },
        }
    };
    session.cleanup("VerifyStop").await;
    result
}

impl Biometric for Fprintd {
    fn availability(&self, call: &BiometricCall<'_>) -> Result<Availability, BiometricFailure> {
        run(async {
            let session = Session::open(call).await?;
            let enrolled = session.enrolled_fingers().await?;
            let name: Option<String> = session.property("name").await;
            Ok(Availability {
                device_present: true,
                enrolled: u32::try_from(enrolled.len()).unwrap_or(u32::MAX),
                message: name.unwrap_or_else(|| "fingerprint reader".into()),
            })
        })
    }

    fn enroll(&self, call: &BiometricCall<'_>) -> Result<(), BiometricFailure> {
        run(async {
            let session = Session::open(call).await?;
            let enrolled = session.enrolled_fingers().await?;
            let finger = FINGERS
                .into_iter()
                .find(|f| !enrolled.iter().any(|e| e == f))
                .unwrap_or(FINGERS[0]);
            session.call::<_, ()>("Claim", &("",)).await?;
            let result = enroll_claimed(&session, call, finger).await;
            // Always released: after success, failure, cancel and timeout.
            session.cleanup("Release").await;
            result
        })
    }

    fn verify(&self, call: &BiometricCall<'_>) -> Result<(), BiometricFailure> {
        run(async {
            let session = Session::open(call).await?;
            session.call::<_, ()>("Claim", &("",)).await?;
            let result = verify_claimed(&session, call).await;
            // Always released: after a match, a no-match, an error, cancel and timeout.
            session.cleanup("Release").await;
            result
        })
    }
}

/// The fingers enrolled, in this order, when the user has none (or the
/// first ones are taken); fprintd's own default comes first.
const FINGERS: [&str; 6] = [
    DEFAULT_FINGER,
    "left-index-finger",
    "right-middle-finger",
    "left-middle-finger",
    "right-thumb",
    "left-thumb",
];

export_biometric! {
    name: "fprintd",
    version: env!("CARGO_PKG_VERSION"),
    biometric: Fprintd,
}
