//! The Rust side of the biometric kind: the [`Biometric`] trait a plugin
//! implements, the [`BiometricCall`] it is handed (progress, cancel, the
//! deadline), and the glue `export_biometric!` expands to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::abi::*;

/// What a biometric device offers this user now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// A device is present and this user may use it.
    pub device_present: bool,
    /// How many samples (fingers) the user has enrolled on it.
    pub enrolled: u32,
    /// For the user: the device's name, or why it cannot be used.
    pub message: String,
}

/// Why an enroll or verify did not succeed. Each carries the message shown
/// to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BiometricFailure {
    /// Verify: the sample does not match ([`TESSERA_STATUS_NO_MATCH`]).
    NoMatch(String),
    /// The host cancelled the call ([`TESSERA_STATUS_CANCELLED`]).
    Cancelled,
    /// No sample before the deadline ([`TESSERA_STATUS_TIMED_OUT`]).
    TimedOut(String),
    /// No device, nothing enrolled, not allowed ([`TESSERA_STATUS_UNAVAILABLE`]).
    Unavailable(String),
    /// The device or its service failed (disconnected, driver error)
    /// ([`TESSERA_STATUS_FAILED`]).
    Failed(String),
}

impl BiometricFailure {
    /// The ABI status code of this failure.
    pub fn status(&self) -> i32 {
        match self {
            BiometricFailure::NoMatch(_) => TESSERA_STATUS_NO_MATCH,
            BiometricFailure::Cancelled => TESSERA_STATUS_CANCELLED,
            BiometricFailure::TimedOut(_) => TESSERA_STATUS_TIMED_OUT,
            BiometricFailure::Unavailable(_) => TESSERA_STATUS_UNAVAILABLE,
            BiometricFailure::Failed(_) => TESSERA_STATUS_FAILED,
        }
    }

    /// The message for the user.
    pub fn message(&self) -> &str {
        match self {
            BiometricFailure::Cancelled => "cancelled",
            BiometricFailure::NoMatch(m)
            | BiometricFailure::TimedOut(m)
            | BiometricFailure::Unavailable(m)
            | BiometricFailure::Failed(m) => m,
        }
    }
}

/// One call of the host, as a Rust plugin sees it: report progress, watch
/// for `cancel`, keep to the deadline.
pub struct BiometricCall<'a> {
    id: u64,
    timeout: Duration,
    started: Instant,
    events: Option<&'a TesseraBiometricEvents>,
    cancelled: &'a AtomicU64,
}

impl BiometricCall<'_> {
    /// The host's id of this call.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How long the host waits for the answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// When the plugin must have answered: the host's timeout less a
    /// margin (a tenth of it, at most 1 s), so that the answer arrives in time.
    pub fn deadline(&self) -> Instant {
        let margin = (self.timeout / 10).min(Duration::from_secs(1));
        self.started + self.timeout.saturating_sub(margin)
    }

    /// Whether the host asked this call to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst) == self.id
    }

    /// Reports that enroll stage `stage` of `stages` passed.
    pub fn stage(&self, stage: u32, stages: u32, text: &str) {
        self.progress(TESSERA_BIOMETRIC_PROGRESS_STAGE, stage, stages, text);
    }

    /// Reports that the sample could not be used and the user should try
    /// again (`text` says why); `stage` and `stages` as last reported.
    pub fn retry(&self, stage: u32, stages: u32, text: &str) {
        self.progress(TESSERA_BIOMETRIC_PROGRESS_RETRY, stage, stages, text);
    }

    fn progress(&self, kind: u32, stage: u32, stages: u32, text: &str) {
        let text = cut(text);
        if let Some(events) = self.events
            && let Some(progress) = events.progress
        {
            // SAFETY: the host's callback, with its context and a valid buffer.
            unsafe { progress(events.ctx, kind, stage, stages, text.as_ptr(), text.len()) };
        }
    }
}

/// A biometric plugin written in Rust. Calls come from any thread, one at a
/// time; a panic is caught and reported, and the host then stops using the
/// plugin. `cancel` from the host is seen through
/// [`BiometricCall::is_cancelled`]: a plugin that waits for the user checks
/// it often (every 100 ms is fine) and returns [`BiometricFailure::Cancelled`].
pub trait Biometric: Send + Sync + 'static {
    /// Whether a device is present and what is enrolled.
    fn availability(&self, call: &BiometricCall<'_>) -> Result<Availability, BiometricFailure>;
    /// Enrolls a new sample, reporting each stage with [`BiometricCall::stage`].
    fn enroll(&self, call: &BiometricCall<'_>) -> Result<(), BiometricFailure>;
    /// Verifies the user: `Ok` on a match.
    fn verify(&self, call: &BiometricCall<'_>) -> Result<(), BiometricFailure>;
}

/// A message cut to [`TESSERA_MAX_MESSAGE_BYTES`] on a character boundary.
fn cut(message: &str) -> &str {
    let mut end = message.len().min(TESSERA_MAX_MESSAGE_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// Used by `export_biometric!`; not part of the API.
#[doc(hidden)]
pub mod private {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use super::{Availability, Biometric, BiometricCall, BiometricFailure, cut};
    use crate::__private::panic_message;
    use crate::abi::*;

    /// The plugin, made once by the entry function, and the id of the last
    /// call the host cancelled.
    pub struct Instance {
        plugin: OnceLock<Box<dyn Biometric>>,
        cancelled: AtomicU64,
    }

    impl Instance {
        pub const fn new() -> Self {
            Instance {
                plugin: OnceLock::new(),
                cancelled: AtomicU64::new(0),
            }
        }
    }

    impl Default for Instance {
        fn default() -> Self {
            Self::new()
        }
    }

    pub enum Op {
        Enroll,
        Verify,
    }

    /// The body of `tessera_plugin_entry`.
    pub fn entry(
        _host_abi_version: u32,
        plugin: &'static TesseraPlugin,
        instance: &'static Instance,
        make: impl FnOnce() -> Box<dyn Biometric>,
    ) -> *const TesseraPlugin {
        let made = catch_unwind(AssertUnwindSafe(|| {
            instance.plugin.get_or_init(make);
        }));
        match made {
            Ok(()) => plugin,
            Err(payload) => {
                std::mem::forget(payload);
                std::ptr::null()
            }
        }
    }

    pub fn cancel(instance: &Instance, call_id: u64) {
        instance.cancelled.store(call_id, Ordering::SeqCst);
    }

    fn send_message(events: Option<&TesseraBiometricEvents>, message: &str) {
        let message = cut(message);
        if let Some(events) = events
            && let Some(set) = events.message
        {
            // SAFETY: the host's callback, with its context and a valid buffer.
            unsafe { set(events.ctx, message.as_ptr(), message.len()) };
        }
    }

    /// Runs `f` with a call built from the host's request, catching panics.
    ///
    /// # Safety
    ///
    /// `request` and `events` are NULL or valid for the call.
    unsafe fn with_call<T>(
        instance: &Instance,
        request: *const TesseraBiometricRequest,
        events: *const TesseraBiometricEvents,
        f: impl FnOnce(&dyn Biometric, &BiometricCall<'_>) -> Result<T, BiometricFailure>,
    ) -> Result<Result<T, BiometricFailure>, String> {
        // SAFETY: the caller's contract.
        let events = unsafe { events.as_ref() };
        catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller's contract.
            let request = unsafe { request.as_ref() }
                .ok_or_else(|| BiometricFailure::Failed("the host sent no request".into()))?;
            let plugin = instance
                .plugin
                .get()
                .ok_or_else(|| BiometricFailure::Failed("the plugin was not initialised".into()))?;
            let call = BiometricCall {
                id: request.call_id,
                timeout: Duration::from_millis(request.timeout_ms.into()),
                started: Instant::now(),
                events,
                cancelled: &instance.cancelled,
            };
            f(plugin.as_ref(), &call)
        }))
        .map_err(|payload| {
            let message = format!("the plugin panicked: {}", panic_message(&*payload));
            std::mem::forget(payload);
            message
        })
    }

    /// # Safety
    ///
    /// The host's pointers, valid for the call (`info` writable).
    pub unsafe fn availability(
        instance: &Instance,
        request: *const TesseraBiometricRequest,
        events: *const TesseraBiometricEvents,
        info: *mut TesseraBiometricInfo,
    ) -> i32 {
        // SAFETY: the caller's contract.
        let outcome = unsafe { with_call(instance, request, events, |p, c| p.availability(c)) };
        // SAFETY: the caller's contract.
        let events = unsafe { events.as_ref() };
        match outcome {
            Ok(Ok(Availability {
                device_present,
                enrolled,
                message,
            })) => {
                // SAFETY: the caller's contract: NULL or writable.
                if let Some(info) = unsafe { info.as_mut() } {
                    info.device_present = u32::from(device_present);
                    info.enrolled = enrolled;
                }
                send_message(events, &message);
                TESSERA_STATUS_OK
            }
            Ok(Err(failure)) => {
                send_message(events, failure.message());
                failure.status()
            }
            Err(panic) => {
                send_message(events, &panic);
                TESSERA_STATUS_PANICKED
            }
        }
    }

    /// # Safety
    ///
    /// The host's pointers, valid for the call.
    pub unsafe fn run(
        instance: &Instance,
        request: *const TesseraBiometricRequest,
        events: *const TesseraBiometricEvents,
        op: Op,
    ) -> i32 {
        // SAFETY: the caller's contract.
        let outcome = unsafe {
            with_call(instance, request, events, |p, c| match op {
                Op::Enroll => p.enroll(c),
                Op::Verify => p.verify(c),
            })
        };
        // SAFETY: the caller's contract.
        let events = unsafe { events.as_ref() };
        match outcome {
            Ok(Ok(())) => TESSERA_STATUS_OK,
            Ok(Err(failure)) => {
                send_message(events, failure.message());
                failure.status()
            }
            Err(panic) => {
                send_message(events, &panic);
                TESSERA_STATUS_PANICKED
            }
        }
    }
}
