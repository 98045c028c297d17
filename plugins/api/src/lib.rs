//! Tessera's plugin ABI and the helper for writing plugins in Rust.
//!
//! [`abi`] is the C ABI itself (`include/tessera_plugin.h` is generated from
//! it). A Rust plugin does not touch it: it implements [`Scanner`] and
//! exports itself with [`export_scanner!`], which writes the `extern "C"`
//! entry point and tables, catches every panic before it reaches the
//! boundary, and keeps the output within the limits the host enforces.
//!
//! ```ignore
//! struct Echo;
//!
//! impl tessera_plugin_api::Scanner for Echo {
//!     fn scan(&self, request: &ScanRequest<'_>) -> Result<Vec<String>, ScanFailure> {
//!         let text = std::str::from_utf8(request.image)
//!             .map_err(|_| ScanFailure::BadInput("not text".into()))?;
//!         Ok(vec![text.to_owned()])
//!     }
//! }
//!
//! tessera_plugin_api::export_scanner! {
//!     name: "echo",
//!     version: env!("CARGO_PKG_VERSION"),
//!     input: Image,
//!     scanner: Echo,
//! }
//! ```
//!
//! The crate must be built with `crate-type = ["cdylib"]` (add `"rlib"` too
//! when tests need cargo to build the library for them).

pub mod abi;
mod biometric;

pub use abi::*;
pub use biometric::{Availability, Biometric, BiometricCall, BiometricFailure};

use std::time::Duration;

/// One scan request, as a Rust plugin sees it.
#[derive(Debug, Clone, Copy)]
pub struct ScanRequest<'a> {
    /// The image bytes; empty for a capture scanner.
    pub image: &'a [u8],
    /// How long the host waits for the answer.
    pub timeout: Duration,
    /// Where a capture scanner shows what it sees while it scans.
    pub preview: Preview<'a>,
}

/// Where a capture scanner sends its live preview (ABI 2's `frame`
/// callback): grey frames of at most [`TESSERA_MAX_FRAME_WIDTH`] ×
/// [`TESSERA_MAX_FRAME_HEIGHT`] pixels. [`Preview::NONE`] when the host
/// wants none.
#[derive(Clone, Copy)]
pub struct Preview<'a> {
    sink: Option<&'a TesseraScanSink>,
}

/// What the host answers to a preview frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameReply {
    /// Send the next one ([`TESSERA_FRAME_MORE`]).
    More,
    /// Send no more; go on scanning ([`TESSERA_FRAME_ENOUGH`]).
    Enough,
    /// Stop scanning: the user went away ([`TESSERA_FRAME_STOP`]).
    Stop,
}

impl FrameReply {
    /// The ABI value.
    pub fn code(self) -> i32 {
        match self {
            FrameReply::More => TESSERA_FRAME_MORE,
            FrameReply::Enough => TESSERA_FRAME_ENOUGH,
            FrameReply::Stop => TESSERA_FRAME_STOP,
        }
    }

    /// The reply an ABI value means; an unknown one counts as `Enough`.
    pub fn from_code(code: i32) -> Self {
        match code {
            TESSERA_FRAME_MORE => FrameReply::More,
            TESSERA_FRAME_STOP => FrameReply::Stop,
            _ => FrameReply::Enough,
        }
    }
}

impl Preview<'_> {
    /// No preview wanted: [`Preview::send`] sends nothing.
    pub const NONE: Preview<'static> = Preview { sink: None };

    /// Whether the host asked for a preview at all.
    pub fn wanted(&self) -> bool {
        self.sink.is_some_and(|s| s.frame.is_some())
    }

    /// Sends one grey frame (`pixels.len() == width * height`, within the
    /// size limits) and returns the host's answer; `Enough` without sending
    /// when it wanted none or the frame breaks a limit.
    pub fn send(&self, width: u32, height: u32, pixels: &[u8]) -> FrameReply {
        let Some((sink, frame)) = self.sink.and_then(|s| s.frame.map(|f| (s, f))) else {
            return FrameReply::Enough;
        };
        let fits = (1..=TESSERA_MAX_FRAME_WIDTH).contains(&width)
            && (1..=TESSERA_MAX_FRAME_HEIGHT).contains(&height)
            && pixels.len() == width as usize * height as usize;
        if !fits {
            return FrameReply::Enough;
        }
        // SAFETY: the host's callback with its context and `len` readable bytes.
        let code = unsafe {
            frame(
                sink.ctx,
                TESSERA_FRAME_GREY8,
                width,
                height,
                pixels.as_ptr(),
                pixels.len(),
            )
        };
        FrameReply::from_code(code)
    }
}

impl std::fmt::Debug for Preview<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preview")
            .field("wanted", &self.wanted())
            .finish()
    }
}

/// Why a scan gave no codes. Each carries the message shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanFailure {
    /// The input was read but holds no code ([`TESSERA_STATUS_NOT_FOUND`]).
    NotFound(String),
    /// The input cannot be used ([`TESSERA_STATUS_BAD_INPUT`]).
    BadInput(String),
    /// The source is not available now ([`TESSERA_STATUS_UNAVAILABLE`]).
    Unavailable(String),
    /// The plugin failed ([`TESSERA_STATUS_FAILED`]).
    Failed(String),
}

impl ScanFailure {
    /// The ABI status code of this failure.
    pub fn status(&self) -> i32 {
        match self {
            ScanFailure::NotFound(_) => TESSERA_STATUS_NOT_FOUND,
            ScanFailure::BadInput(_) => TESSERA_STATUS_BAD_INPUT,
            ScanFailure::Unavailable(_) => TESSERA_STATUS_UNAVAILABLE,
            ScanFailure::Failed(_) => TESSERA_STATUS_FAILED,
        }
    }

    /// The message for the user.
    pub fn message(&self) -> &str {
        match self {
            ScanFailure::NotFound(m)
            | ScanFailure::BadInput(m)
            | ScanFailure::Unavailable(m)
            | ScanFailure::Failed(m) => m,
        }
    }
}

/// A scanner plugin written in Rust. Calls may come from any thread (one at a
/// time per plugin); a panic is caught and reported, and the host then stops
/// using the plugin.
pub trait Scanner: Send + Sync + 'static {
    /// Every code found in the input, in the order found. Texts longer than
    /// [`TESSERA_MAX_RESULT_BYTES`] are dropped and at most
    /// [`TESSERA_MAX_RESULTS`] are sent, so the host never refuses the output.
    fn scan(&self, request: &ScanRequest<'_>) -> Result<Vec<String>, ScanFailure>;
}

/// Where a scanner's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ScannerInput {
    /// Decodes image bytes from the host ([`TESSERA_SCANNER_INPUT_IMAGE`]).
    Image = TESSERA_SCANNER_INPUT_IMAGE,
    /// Captures its own input ([`TESSERA_SCANNER_INPUT_CAPTURE`]).
    Capture = TESSERA_SCANNER_INPUT_CAPTURE,
}

/// Whether `name` is a valid plugin name: 1 to 64 bytes of `[a-z0-9._-]`.
pub const fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > TESSERA_MAX_NAME_BYTES {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.') {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `version` is a valid plugin version: 1 to 64 bytes of printable ASCII.
pub const fn valid_version(version: &str) -> bool {
    let bytes = version.as_bytes();
    if bytes.is_empty() || bytes.len() > TESSERA_MAX_VERSION_BYTES {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_graphic() {
            return false;
        }
        i += 1;
    }
    true
}

/// The compile-time checks of a plugin's name and version, shared by the
/// `export_*!` macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __check_name_and_version {
    ($name:literal, $version:expr) => {
        const _: () = ::core::assert!(
            $crate::valid_name($name),
            "a plugin name is 1 to 64 bytes of [a-z0-9._-]"
        );
        const _: () = ::core::assert!(
            $crate::valid_version($version),
            "a plugin version is 1 to 64 bytes of printable ASCII"
        );
    };
}

/// Exports a [`Scanner`] as a plugin: defines `tessera_plugin_entry` and the
/// static tables. Use it once per library.
///
/// - `name`: a string literal, 1 to 64 bytes of `[a-z0-9._-]` (checked at
///   compile time);
/// - `version`: a string literal or `env!("CARGO_PKG_VERSION")`;
/// - `input`: `Image` or `Capture` ([`ScannerInput`]);
/// - `scanner`: an expression making the scanner, run once when the host
///   loads the plugin (a panic there makes the load fail).
#[macro_export]
macro_rules! export_scanner {
    (
        name: $name:literal,
        version: $version:expr,
        input: $input:ident,
        scanner: $make:expr $(,)?
    ) => {
        const _: () = {
            use $crate::__private as private;

            $crate::__check_name_and_version!($name, $version);

            static INSTANCE: private::Instance = private::Instance::new();

            unsafe extern "C" fn scan(
                request: *const $crate::abi::TesseraScanRequest,
                sink: *const $crate::abi::TesseraScanSink,
            ) -> i32 {
                // SAFETY: the host passes valid pointers for the call's duration.
                unsafe { private::scan(&INSTANCE, request, sink) }
            }

            static SCANNER: $crate::abi::TesseraScanner = $crate::abi::TesseraScanner {
                input: $crate::ScannerInput::$input as u32,
                scan: ::core::option::Option::Some(scan),
            };

            static PLUGIN: $crate::abi::TesseraPlugin = $crate::abi::TesseraPlugin {
                abi_version: $crate::abi::TESSERA_PLUGIN_ABI_VERSION,
                kind: $crate::abi::TESSERA_PLUGIN_KIND_SCANNER,
                name: ::core::concat!($name, "\0").as_ptr().cast(),
                version: ::core::concat!($version, "\0").as_ptr().cast(),
                scanner: &SCANNER,
                biometric: ::core::ptr::null(),
            };

            #[unsafe(no_mangle)]
            pub extern "C" fn tessera_plugin_entry(
                host_abi_version: u32,
            ) -> *const $crate::abi::TesseraPlugin {
                private::entry(host_abi_version, &PLUGIN, &INSTANCE, || {
                    ::std::boxed::Box::new($make)
                })
            }
        };
    };
}

/// Exports a [`Biometric`] as a plugin: defines `tessera_plugin_entry`, the
/// static descriptor and biometric table, and `extern "C"` functions that
/// catch every panic and carry `cancel` to the running call
/// ([`BiometricCall::is_cancelled`]). Use it once per library.
///
/// - `name`, `version`: as for [`export_scanner!`];
/// - `biometric`: an expression making the plugin, run once when the host
///   loads it (a panic there makes the load fail).
#[macro_export]
macro_rules! export_biometric {
    (
        name: $name:literal,
        version: $version:expr,
        biometric: $make:expr $(,)?
    ) => {
        const _: () = {
            use $crate::__biometric as private;

            $crate::__check_name_and_version!($name, $version);

            static INSTANCE: private::Instance = private::Instance::new();

            unsafe extern "C" fn availability(
                request: *const $crate::abi::TesseraBiometricRequest,
                events: *const $crate::abi::TesseraBiometricEvents,
                info: *mut $crate::abi::TesseraBiometricInfo,
            ) -> i32 {
                // SAFETY: the host passes valid pointers for the call's duration.
                unsafe { private::availability(&INSTANCE, request, events, info) }
            }

            unsafe extern "C" fn enroll(
                request: *const $crate::abi::TesseraBiometricRequest,
                events: *const $crate::abi::TesseraBiometricEvents,
            ) -> i32 {
                // SAFETY: as above.
                unsafe { private::run(&INSTANCE, request, events, private::Op::Enroll) }
            }

            unsafe extern "C" fn verify(
                request: *const $crate::abi::TesseraBiometricRequest,
                events: *const $crate::abi::TesseraBiometricEvents,
            ) -> i32 {
                // SAFETY: as above.
                unsafe { private::run(&INSTANCE, request, events, private::Op::Verify) }
            }

            unsafe extern "C" fn cancel(call_id: u64) {
                private::cancel(&INSTANCE, call_id)
            }

            static TABLE: $crate::abi::TesseraBiometric = $crate::abi::TesseraBiometric {
                availability: ::core::option::Option::Some(availability),
                enroll: ::core::option::Option::Some(enroll),
                verify: ::core::option::Option::Some(verify),
                cancel: ::core::option::Option::Some(cancel),
            };

            static PLUGIN: $crate::abi::TesseraPlugin = $crate::abi::TesseraPlugin {
                abi_version: $crate::abi::TESSERA_PLUGIN_ABI_VERSION,
                kind: $crate::abi::TESSERA_PLUGIN_KIND_BIOMETRIC,
                name: ::core::concat!($name, "\0").as_ptr().cast(),
                version: ::core::concat!($version, "\0").as_ptr().cast(),
                scanner: ::core::ptr::null(),
                biometric: &TABLE,
            };

            #[unsafe(no_mangle)]
            pub extern "C" fn tessera_plugin_entry(
                host_abi_version: u32,
            ) -> *const $crate::abi::TesseraPlugin {
                private::entry(host_abi_version, &PLUGIN, &INSTANCE, || {
                    ::std::boxed::Box::new($make)
                })
            }
        };
    };
}

#[doc(hidden)]
pub use biometric::private as __biometric;

/// Used by [`export_scanner!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    use std::any::Any;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::OnceLock;
    use std::time::Duration;

    use crate::abi::*;
    use crate::{Preview, ScanFailure, ScanRequest, Scanner};

    /// The plugin's scanner, made once by the entry function.
    pub struct Instance(OnceLock<Box<dyn Scanner>>);

    impl Instance {
        pub const fn new() -> Self {
            Instance(OnceLock::new())
        }
    }

    impl Default for Instance {
        fn default() -> Self {
            Self::new()
        }
    }

    /// The body of `tessera_plugin_entry`: makes the scanner (catching a
    /// panic) and returns the descriptor, or NULL when making it failed.
    pub fn entry(
        _host_abi_version: u32,
        plugin: &'static TesseraPlugin,
        instance: &'static Instance,
        make: impl FnOnce() -> Box<dyn Scanner>,
    ) -> *const TesseraPlugin {
        // The host checks the version; a plugin built for ABI 1 answers with
        // its descriptor whatever the host speaks.
        let made = catch_unwind(AssertUnwindSafe(|| {
            instance.0.get_or_init(make);
        }));
        match made {
            Ok(()) => plugin,
            Err(payload) => {
                forget_payload(payload);
                std::ptr::null()
            }
        }
    }

    /// The body of the exported `scan`: never unwinds.
    ///
    /// # Safety
    ///
    /// `request` and `sink` are NULL or valid for the call; the request's
    /// image is NULL or `image_len` readable bytes.
    pub unsafe fn scan(
        instance: &Instance,
        request: *const TesseraScanRequest,
        sink: *const TesseraScanSink,
    ) -> i32 {
        // SAFETY: the caller's contract.
        let Some(sink) = (unsafe { sink.as_ref() }) else {
            return TESSERA_STATUS_FAILED;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller's contract.
            let request = unsafe { request.as_ref() }
                .ok_or_else(|| ScanFailure::Failed("the host sent no request".into()))?;
            let image: &[u8] = if request.image.is_null() || request.image_len == 0 {
                &[]
            } else {
                // SAFETY: the caller's contract.
                unsafe { std::slice::from_raw_parts(request.image, request.image_len) }
            };
            let scanner = instance
                .0
                .get()
                .ok_or_else(|| ScanFailure::Failed("the plugin was not initialised".into()))?;
            scanner.scan(&ScanRequest {
                image,
                timeout: Duration::from_millis(request.timeout_ms.into()),
                preview: Preview { sink: Some(sink) },
            })
        }));
        match outcome {
            Ok(Ok(texts)) => {
                let mut sent = 0;
                let mut too_long = 0;
                for text in &texts {
                    if text.len() > TESSERA_MAX_RESULT_BYTES {
                        too_long += 1;
                        continue;
                    }
                    if sent == TESSERA_MAX_RESULTS {
                        break;
                    }
                    sent += 1;
                    // SAFETY: the host's callback, with its context and a valid buffer.
                    let more = sink
                        .emit
                        .map(|emit| unsafe { emit(sink.ctx, text.as_ptr(), text.len()) } == 0)
                        .unwrap_or(false);
                    if !more {
                        break;
                    }
                }
                if sent == 0 {
                    let message = if too_long > 0 {
                        format!("the codes found are over {TESSERA_MAX_RESULT_BYTES} bytes")
                    } else {
                        "no code found".to_owned()
                    };
                    send_message(sink, &message);
                    TESSERA_STATUS_NOT_FOUND
                } else {
                    TESSERA_STATUS_OK
                }
            }
            Ok(Err(failure)) => {
                send_message(sink, failure.message());
                failure.status()
            }
            Err(payload) => {
                let message = format!("the plugin panicked: {}", panic_message(&*payload));
                forget_payload(payload);
                send_message(sink, &message);
                TESSERA_STATUS_PANICKED
            }
        }
    }

    fn send_message(sink: &TesseraScanSink, message: &str) {
        let mut end = message.len().min(TESSERA_MAX_MESSAGE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(set) = sink.message {
            // SAFETY: the host's callback, with its context and a valid buffer.
            unsafe { set(sink.ctx, message.as_ptr(), end) };
        }
    }

    /// The text of a panic payload.
    pub fn panic_message(payload: &(dyn Any + Send)) -> String {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "(no message)".to_owned()
        }
    }

    /// Dropping a panic payload can itself panic; leak it instead.
    fn forget_payload(payload: Box<dyn Any + Send>) {
        std::mem::forget(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert!(valid_name("image"));
        assert!(valid_name("scanner-image_2.x"));
        assert!(!valid_name(""));
        assert!(!valid_name("Image"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(valid_version("0.1.0-beta+3"));
        assert!(!valid_version(""));
        assert!(!valid_version("1 2"));
    }
}
