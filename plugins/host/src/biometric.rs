//! Calls to biometric plugins: availability, enroll and verify, each on a
//! thread of its own with a timeout. Progress is copied and checked on the
//! plugin's thread and handed to the caller through a channel. A call whose
//! future is dropped, or that runs over its timeout, is cancelled through
//! the plugin's `cancel`; a plugin that does not answer a little after that
//! is disabled.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tessera_plugin_api::abi::*;
use tokio::sync::mpsc::UnboundedSender;

use crate::call::clean_message;
use crate::load::BiometricFns;
use crate::{PluginError, PluginHost, PluginInfo, PluginKind, PluginStatus, Slot, Turn};

/// How long a plugin may take to answer after `cancel` (at a timeout)
/// before it is disabled.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Call ids: never 0, never reused in a process.
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// What a biometric device offers this user now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BiometricAvailability {
    pub device_present: bool,
    /// Samples (fingers) the user has enrolled.
    pub enrolled: u32,
    /// The plugin's message: the device's name, or why it is unavailable.
    pub message: String,
}

/// The kind of a progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressKind {
    /// An enroll stage passed.
    Stage,
    /// The sample could not be used; the user should try again.
    Retry,
}

/// One progress report of an enroll or verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BiometricProgress {
    pub kind: ProgressKind,
    pub stage: u32,
    pub stages: u32,
    pub message: String,
}

#[derive(Clone, Copy)]
enum Op {
    Availability,
    Enroll,
    Verify,
}

/// What a call produced, before the host judges it.
#[derive(Default)]
struct Outcome {
    status: i32,
    message: Option<String>,
    info: Option<(bool, u32)>,
    violation: Option<String>,
}

/// The events' context: lives on the call's thread.
struct Ctx {
    message: Option<String>,
    progress: Option<UnboundedSender<BiometricProgress>>,
    violation: Option<String>,
}

/// Cancels the call when the caller stops waiting (the future is dropped)
/// before it ended. `cancel` runs on a short thread of its own, so a plugin
/// cannot block the caller with it.
struct CancelOnDrop {
    cancel: unsafe extern "C" fn(u64),
    call_id: u64,
    armed: bool,
}

impl CancelOnDrop {
    fn fire(&mut self) {
        if std::mem::take(&mut self.armed) {
            let (cancel, id) = (self.cancel, self.call_id);
            let _ = std::thread::Builder::new()
                .name("tessera-plugin-cancel".into())
                // SAFETY: the plugin's cancel, callable from any thread with any id.
                .spawn(move || unsafe { cancel(id) });
        }
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.fire();
    }
}

impl PluginHost {
    /// The biometric plugins that can be used now, in load order.
    pub fn biometrics(&self) -> Vec<PluginInfo> {
        self.plugins()
            .into_iter()
            .filter(|p| p.kind == Some(PluginKind::Biometric) && p.status == PluginStatus::Loaded)
            .collect()
    }

    /// Asks the biometric plugin `plugin` whether a device is present and
    /// what is enrolled. `Err(SourceUnavailable)` carries the plugin's reason.
    pub async fn biometric_availability(
        &self,
        plugin: &str,
        timeout: Duration,
    ) -> Result<BiometricAvailability, PluginError> {
        let outcome = self
            .call_biometric(plugin, timeout, Op::Availability, None)
            .await?;
        let (device_present, enrolled) = outcome.0.info.unwrap_or((false, 0));
        Ok(BiometricAvailability {
            device_present,
            enrolled,
            message: outcome.0.message.unwrap_or_default(),
        })
    }

    /// Enrolls a new sample with `plugin`, sending its progress to
    /// `progress`. Dropping the future cancels the enrollment.
    pub async fn biometric_enroll(
        &self,
        plugin: &str,
        timeout: Duration,
        progress: UnboundedSender<BiometricProgress>,
    ) -> Result<(), PluginError> {
        self.call_biometric(plugin, timeout, Op::Enroll, Some(progress))
            .await
            .map(drop)
    }

    /// Verifies the user with `plugin`: `Ok` on a match, `Err(NoMatch)` on
    /// a sample that does not match, `Err(NoSample)` when the user gave none
    /// in time. Dropping the future cancels the verification.
    pub async fn biometric_verify(
        &self,
        plugin: &str,
        timeout: Duration,
        progress: UnboundedSender<BiometricProgress>,
    ) -> Result<(), PluginError> {
        self.call_biometric(plugin, timeout, Op::Verify, Some(progress))
            .await
            .map(drop)
    }

    async fn call_biometric(
        &self,
        plugin: &str,
        timeout: Duration,
        op: Op,
        progress: Option<UnboundedSender<BiometricProgress>>,
    ) -> Result<(Outcome, ()), PluginError> {
        let (
            Turn {
                slot,
                permit,
                remaining,
                timeout_ms,
            },
            fns,
        ) = self
            .turn(plugin, timeout, |s| s.biometric, PluginError::NotABiometric)
            .await?;
        let name = slot.info.name.clone();
        let call_id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("tessera-plugin-{name}"))
            .spawn(move || {
                let outcome = call(fns, op, call_id, timeout_ms, progress);
                drop(permit);
                let _ = tx.send(outcome);
            })
            .map_err(|e| PluginError::Failed {
                name: name.clone(),
                message: format!("cannot start a thread for the call: {e}"),
            })?;
        let mut guard = CancelOnDrop {
            cancel: fns.cancel,
            call_id,
            armed: true,
        };
        let outcome = match tokio::time::timeout(remaining, &mut rx).await {
            Ok(Ok(outcome)) => {
                guard.armed = false;
                outcome
            }
            Ok(Err(_)) => {
                guard.armed = false;
                let reason = "its call's thread died".to_owned();
                slot.fail(reason.clone());
                return Err(PluginError::Misbehaved { name, reason });
            }
            Err(_elapsed) => {
                // Over time: ask it to stop, and give it a moment to release
                // its device and answer.
                guard.fire();
                match tokio::time::timeout(CANCEL_GRACE, &mut rx).await {
                    Ok(Ok(outcome)) => {
                        if matches!(
                            outcome.status,
                            TESSERA_STATUS_CANCELLED | TESSERA_STATUS_TIMED_OUT
                        ) && outcome.violation.is_none()
                        {
                            return Err(PluginError::NoSample {
                                name,
                                message: format!(
                                    "no answer within {} s; try again",
                                    timeout.as_secs()
                                ),
                            });
                        }
                        outcome
                    }
                    _ => {
                        slot.fail(format!(
                            "it did not answer within {} ms, nor after being cancelled; the \
                             call was abandoned",
                            timeout.as_millis()
                        ));
                        return Err(PluginError::TimedOut {
                            name,
                            after: timeout,
                        });
                    }
                }
            }
        };
        judge(&slot, op, outcome).map(|o| (o, ()))
    }
}

/// Runs one call on the current (dedicated) thread.
fn call(
    fns: BiometricFns,
    op: Op,
    call_id: u64,
    timeout_ms: u32,
    progress: Option<UnboundedSender<BiometricProgress>>,
) -> Outcome {
    let mut ctx = Ctx {
        message: None,
        progress,
        violation: None,
    };
    let request = TesseraBiometricRequest {
        call_id,
        timeout_ms,
    };
    let events = TesseraBiometricEvents {
        ctx: (&raw mut ctx).cast::<c_void>(),
        progress: Some(on_progress),
        message: Some(on_message),
    };
    let mut info = TesseraBiometricInfo {
        device_present: 0,
        enrolled: 0,
    };
    // SAFETY: the ABI's functions, with a request, events and info valid
    // for the call.
    let status = unsafe {
        match op {
            Op::Availability => (fns.availability)(&request, &events, &mut info),
            Op::Enroll => (fns.enroll)(&request, &events),
            Op::Verify => (fns.verify)(&request, &events),
        }
    };
    Outcome {
        status,
        message: ctx.message,
        info: matches!(op, Op::Availability).then_some((info.device_present != 0, info.enrolled)),
        violation: ctx.violation,
    }
}

unsafe extern "C" fn on_progress(
    ctx: *mut c_void,
    kind: u32,
    stage: u32,
    stages: u32,
    text: *const u8,
    len: usize,
) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the Ctx passed in the events, alive for the call.
        let Some(ctx) = (unsafe { ctx.cast::<Ctx>().as_mut() }) else {
            return;
        };
        if ctx.violation.is_some() {
            return;
        }
        let kind = match kind {
            TESSERA_BIOMETRIC_PROGRESS_STAGE => ProgressKind::Stage,
            TESSERA_BIOMETRIC_PROGRESS_RETRY => ProgressKind::Retry,
            other => {
                ctx.violation = Some(format!("it sent progress of the unknown kind {other}"));
                return;
            }
        };
        if stages > 1000 || stage > stages && stages != 0 {
            ctx.violation = Some(format!("it sent the progress stage {stage} of {stages}"));
            return;
        }
        let message = if text.is_null() || len == 0 {
            String::new()
        } else {
            // SAFETY: the plugin passes `len` readable bytes; only the kept part is read.
            clean_message(unsafe {
                std::slice::from_raw_parts(text, len.min(TESSERA_MAX_MESSAGE_BYTES))
            })
        };
        if let Some(tx) = &ctx.progress {
            let _ = tx.send(BiometricProgress {
                kind,
                stage,
                stages,
                message,
            });
        }
    }));
}

unsafe extern "C" fn on_message(ctx: *mut c_void, text: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the Ctx passed in the events, alive for the call.
        let Some(ctx) = (unsafe { ctx.cast::<Ctx>().as_mut() }) else {
            return;
        };
        ctx.message = if text.is_null() || len == 0 {
            None
        } else {
            // SAFETY: the plugin passes `len` readable bytes; only the kept part is read.
            Some(clean_message(unsafe {
                std::slice::from_raw_parts(text, len.min(TESSERA_MAX_MESSAGE_BYTES))
            }))
        };
    }));
}

/// Turns a finished call into the answer, disabling a plugin that broke the rules.
fn judge(slot: &Slot, op: Op, outcome: Outcome) -> Result<Outcome, PluginError> {
    let name = slot.info.name.clone();
    let misbehaved = |reason: String| Err(slot.misbehaved(reason));
    if let Some(violation) = outcome.violation {
        return misbehaved(violation);
    }
    let message = |default: &str| {
        outcome
            .message
            .clone()
            .unwrap_or_else(|| default.to_owned())
    };
    match (outcome.status, op) {
        (TESSERA_STATUS_OK, _) => Ok(outcome),
        (TESSERA_STATUS_NO_MATCH, Op::Verify) => Err(PluginError::NoMatch {
            name,
            message: message("no match"),
        }),
        (TESSERA_STATUS_CANCELLED, Op::Enroll | Op::Verify) => Err(PluginError::Cancelled { name }),
        (TESSERA_STATUS_TIMED_OUT, Op::Enroll | Op::Verify) => Err(PluginError::NoSample {
            name,
            message: message("no sample was given in time; try again"),
        }),
        (TESSERA_STATUS_UNAVAILABLE, _) => Err(PluginError::SourceUnavailable {
            name,
            message: message("the biometric device is not available"),
        }),
        (TESSERA_STATUS_FAILED, _) => Err(PluginError::Failed {
            name,
            message: message("no reason given"),
        }),
        (TESSERA_STATUS_PANICKED, _) => misbehaved(message("it panicked")),
        (other, _) => misbehaved(format!(
            "it returned the status {other}, which does not fit"
        )),
    }
}
