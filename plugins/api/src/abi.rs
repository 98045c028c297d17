//! The plugin C ABI, version 2. `include/tessera_plugin.h` is generated from
//! this file by cbindgen (`tests/header.rs` fails when the two differ), so
//! everything here is plain `#[repr(C)]` data, constants and declarations.
//!
//! Rules both sides keep:
//!
//! - The host loads a plugin, resolves `tessera_plugin_entry` and calls it
//!   with its ABI version. The plugin returns a pointer to a static
//!   [`TesseraPlugin`] (or NULL when it cannot run). The host reads
//!   `abi_version` first and nothing else unless it is one the host speaks
//!   ([`TESSERA_PLUGIN_ABI_OLDEST`] to [`TESSERA_PLUGIN_ABI_VERSION`]).
//! - Version 2 added one field at the end of [`TesseraScanSink`]
//!   (`frame`, the live preview). The host always passes the version-2
//!   sink; a version-1 plugin never reads past `message`, so it runs
//!   unchanged.
//! - No memory is freed across the boundary. The plugin's descriptor and
//!   strings are static; its results are handed to host callbacks that copy
//!   them at once; the host's request lives until the call returns.
//! - Every string is UTF-8. Names and versions end with NUL; results and
//!   messages come with their length and need no NUL.
//! - Calls never unwind: a Rust plugin catches its panics (the helper macro
//!   does) and returns [`TESSERA_STATUS_PANICKED`].

use core::ffi::{c_char, c_void};

/// The ABI version this header describes. The host refuses a plugin whose
/// descriptor carries a version it does not speak.
pub const TESSERA_PLUGIN_ABI_VERSION: u32 = 2;
/// The oldest ABI version the host still loads: version 2 only added to
/// the end of the scan sink, which a version-1 plugin does not read.
pub const TESSERA_PLUGIN_ABI_OLDEST: u32 = 1;

/// Kind: a source of payload texts (QR codes from an image, a camera, the screen).
pub const TESSERA_PLUGIN_KIND_SCANNER: u32 = 1;
/// Kind: biometric verification (availability, enroll, verify, cancel);
/// its table is [`TesseraBiometric`].
pub const TESSERA_PLUGIN_KIND_BIOMETRIC: u32 = 2;

/// A scanner that decodes the image bytes the host passes in.
pub const TESSERA_SCANNER_INPUT_IMAGE: u32 = 1;
/// A scanner that captures its own input (camera, screen); the request's
/// image is NULL or a capture options text (`key=value` lines, e.g.
/// `device=1`, at most 1024 bytes of UTF-8).
pub const TESSERA_SCANNER_INPUT_CAPTURE: u32 = 2;

/// Success: every code found was passed to `emit`.
pub const TESSERA_STATUS_OK: i32 = 0;
/// The input was read but holds no code.
pub const TESSERA_STATUS_NOT_FOUND: i32 = 1;
/// The input cannot be used: empty, not a supported format, corrupt, too large.
pub const TESSERA_STATUS_BAD_INPUT: i32 = 2;
/// The source is not available now (no camera, the portal refused).
pub const TESSERA_STATUS_UNAVAILABLE: i32 = 3;
/// The plugin failed for a reason of its own; the call may be retried.
pub const TESSERA_STATUS_FAILED: i32 = 4;
/// The plugin caught a panic (or an equivalent fatal error). The host marks
/// the plugin failed and calls it no more.
pub const TESSERA_STATUS_PANICKED: i32 = 5;
/// Biometric verify: the sample was read and does not match an enrolled one.
pub const TESSERA_STATUS_NO_MATCH: i32 = 6;
/// Biometric enroll or verify: stopped because the host called `cancel`.
pub const TESSERA_STATUS_CANCELLED: i32 = 7;
/// Biometric enroll or verify: the user gave no sample before `timeout_ms`.
pub const TESSERA_STATUS_TIMED_OUT: i32 = 8;

/// Biometric progress: one enroll stage passed (`stage` of `stages`).
pub const TESSERA_BIOMETRIC_PROGRESS_STAGE: u32 = 1;
/// Biometric progress: the sample could not be used and the user should try
/// again (the text says why: too short, not centred, remove and retry); the
/// call goes on.
pub const TESSERA_BIOMETRIC_PROGRESS_RETRY: u32 = 2;

/// Longest plugin name, in bytes without the NUL: `[a-z0-9._-]`, 1 to 64 bytes.
pub const TESSERA_MAX_NAME_BYTES: usize = 64;
/// Longest version string, in bytes without the NUL.
pub const TESSERA_MAX_VERSION_BYTES: usize = 64;
/// Longest result the host accepts from `emit`, in bytes.
pub const TESSERA_MAX_RESULT_BYTES: usize = 4096;
/// Most results the host accepts from one call.
pub const TESSERA_MAX_RESULTS: usize = 16;
/// Longest message the host keeps from `message`; longer ones are cut.
pub const TESSERA_MAX_MESSAGE_BYTES: usize = 1024;

/// A preview frame's pixel format: grey, one byte per pixel, row after row
/// with no padding (the only format of ABI 2).
pub const TESSERA_FRAME_GREY8: u32 = 1;
/// Widest preview frame the host accepts, in pixels.
pub const TESSERA_MAX_FRAME_WIDTH: u32 = 640;
/// Tallest preview frame the host accepts, in pixels.
pub const TESSERA_MAX_FRAME_HEIGHT: u32 = 480;
/// `frame`'s answer: send the next one.
pub const TESSERA_FRAME_MORE: i32 = 0;
/// `frame`'s answer: send no more frames; the scan goes on.
pub const TESSERA_FRAME_ENOUGH: i32 = 1;
/// `frame`'s answer: the user went away (the activation was cancelled):
/// stop scanning, release the camera and return `TESSERA_STATUS_NOT_FOUND`.
pub const TESSERA_FRAME_STOP: i32 = 2;

/// What the host asks a scanner to do. Valid only during the call.
#[repr(C)]
pub struct TesseraScanRequest {
    /// The image file's bytes (PNG, JPEG, ...); for a capture scanner NULL
    /// or a capture options text.
    pub image: *const u8,
    /// The number of bytes at `image`.
    pub image_len: usize,
    /// How long the host waits for this call, in milliseconds. A capture
    /// scanner gives up and returns before then; the host abandons a call
    /// that runs over and marks the plugin failed.
    pub timeout_ms: u32,
}

/// Where a scanner sends its output. The host copies every byte before the
/// callback returns; the plugin keeps ownership of what it passes.
#[repr(C)]
pub struct TesseraScanSink {
    /// The host's context: pass it back unchanged.
    pub ctx: *mut c_void,
    /// Hands over one decoded text (`len` bytes of UTF-8, no NUL needed).
    /// Returns 0 to ask for more, non-zero when the host refuses more
    /// output: the plugin then stops and returns. The host marks a plugin
    /// that sends invalid UTF-8, more than `TESSERA_MAX_RESULT_BYTES` in one
    /// text or more than `TESSERA_MAX_RESULTS` texts as failed.
    pub emit: Option<unsafe extern "C" fn(ctx: *mut c_void, text: *const u8, len: usize) -> i32>,
    /// Sets the message shown to the user with a status other than OK
    /// (`len` bytes of UTF-8). Optional; the last one wins.
    pub message: Option<unsafe extern "C" fn(ctx: *mut c_void, text: *const u8, len: usize)>,
    /// ABI 2: shows the user what a capture scanner sees while it scans (a
    /// camera's live preview). `format` is `TESSERA_FRAME_GREY8`; `pixels`
    /// holds `len == width * height` bytes, `width` at most
    /// `TESSERA_MAX_FRAME_WIDTH` and `height` at most
    /// `TESSERA_MAX_FRAME_HEIGHT` (scale a camera's frame down first). Send
    /// one per frame read, at most about 15 a second. Returns
    /// `TESSERA_FRAME_MORE`, `TESSERA_FRAME_ENOUGH` (no more preview: nobody
    /// watches, or the frame broke a rule and the host marks the plugin
    /// failed after the call; the scan goes on) or `TESSERA_FRAME_STOP`
    /// (stop the scan now). NULL when the host wants no preview for this
    /// call.
    pub frame: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            format: u32,
            width: u32,
            height: u32,
            pixels: *const u8,
            len: usize,
        ) -> i32,
    >,
}

/// The table of a scanner plugin.
#[repr(C)]
pub struct TesseraScanner {
    /// `TESSERA_SCANNER_INPUT_IMAGE` or `TESSERA_SCANNER_INPUT_CAPTURE`.
    pub input: u32,
    /// Scans once: sends every code found to `sink->emit` and returns a
    /// `TESSERA_STATUS_*` value. The host makes one call at a time per
    /// plugin, each on a thread of its own; it must not unwind.
    pub scan: Option<
        unsafe extern "C" fn(
            request: *const TesseraScanRequest,
            sink: *const TesseraScanSink,
        ) -> i32,
    >,
}

/// What the host asks a biometric plugin to do. Valid only during the call.
#[repr(C)]
pub struct TesseraBiometricRequest {
    /// Names this call for `cancel`; never 0, different for every call.
    pub call_id: u64,
    /// How long the host waits for this call, in milliseconds. The plugin
    /// stops waiting for the user and returns `TESSERA_STATUS_TIMED_OUT`
    /// before then.
    pub timeout_ms: u32,
}

/// Where a biometric plugin reports while a call runs. Called on the call's
/// own thread; the host copies every byte before the callback returns.
#[repr(C)]
pub struct TesseraBiometricEvents {
    /// The host's context: pass it back unchanged.
    pub ctx: *mut c_void,
    /// Progress of an enroll or verify: `kind` is
    /// `TESSERA_BIOMETRIC_PROGRESS_STAGE` (stage `stage` of `stages` passed)
    /// or `TESSERA_BIOMETRIC_PROGRESS_RETRY` (try again; `stage` and
    /// `stages` as last reported, 0 when unknown); `text` (`len` bytes of
    /// UTF-8) is for the user.
    pub progress: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            kind: u32,
            stage: u32,
            stages: u32,
            text: *const u8,
            len: usize,
        ),
    >,
    /// Sets the message shown to the user with the call's status (`len`
    /// bytes of UTF-8): why a device is unavailable, why a call failed, or
    /// the device's name with an OK availability. The last one wins.
    pub message: Option<unsafe extern "C" fn(ctx: *mut c_void, text: *const u8, len: usize)>,
}

/// What `availability` fills in (the host's memory).
#[repr(C)]
pub struct TesseraBiometricInfo {
    /// Non-zero when a device is present and this user may use it.
    pub device_present: u32,
    /// How many samples (fingers) this user has enrolled on it.
    pub enrolled: u32,
}

/// The table of a biometric plugin. The host makes one call at a time per
/// plugin (`cancel` excepted), each on a thread of its own; no function may
/// unwind.
#[repr(C)]
pub struct TesseraBiometric {
    /// Whether a device is present and how many samples are enrolled; writes
    /// `info` and returns `TESSERA_STATUS_OK`, or `UNAVAILABLE` with a
    /// message (no device, no service, not allowed).
    pub availability: Option<
        unsafe extern "C" fn(
            request: *const TesseraBiometricRequest,
            events: *const TesseraBiometricEvents,
            info: *mut TesseraBiometricInfo,
        ) -> i32,
    >,
    /// Enrolls a new sample, reporting each stage: `OK` when complete,
    /// else `CANCELLED`, `TIMED_OUT`, `UNAVAILABLE` or `FAILED` with a message.
    pub enroll: Option<
        unsafe extern "C" fn(
            request: *const TesseraBiometricRequest,
            events: *const TesseraBiometricEvents,
        ) -> i32,
    >,
    /// Verifies the user against the enrolled samples: `OK` on a match,
    /// `NO_MATCH`, or `CANCELLED`, `TIMED_OUT`, `UNAVAILABLE` (nothing
    /// enrolled, no device), `FAILED` (disconnected) with a message.
    pub verify: Option<
        unsafe extern "C" fn(
            request: *const TesseraBiometricRequest,
            events: *const TesseraBiometricEvents,
        ) -> i32,
    >,
    /// Asks the running call `call_id` to stop and return
    /// `TESSERA_STATUS_CANCELLED` soon (releasing the device). Called from
    /// another thread while that call runs, or after it ended (then it does
    /// nothing); returns at once.
    pub cancel: Option<unsafe extern "C" fn(call_id: u64)>,
}

/// What `tessera_plugin_entry` returns: static data that stays valid while
/// the library is loaded (the host never unloads it).
#[repr(C)]
pub struct TesseraPlugin {
    /// `TESSERA_PLUGIN_ABI_VERSION` as the plugin was built. Always first.
    pub abi_version: u32,
    /// `TESSERA_PLUGIN_KIND_*`.
    pub kind: u32,
    /// The plugin's name, NUL-terminated: `[a-z0-9._-]`, 1 to 64 bytes.
    pub name: *const c_char,
    /// The plugin's version, NUL-terminated printable ASCII, 1 to 64 bytes.
    pub version: *const c_char,
    /// The scanner table when `kind` is `TESSERA_PLUGIN_KIND_SCANNER`, else NULL.
    pub scanner: *const TesseraScanner,
    /// The biometric table when `kind` is `TESSERA_PLUGIN_KIND_BIOMETRIC`, else NULL.
    pub biometric: *const TesseraBiometric,
}

// SAFETY: a descriptor is immutable static data; its pointers point to other
// immutable static data, so sharing it between threads is sound.
unsafe impl Sync for TesseraPlugin {}

/// The type of `tessera_plugin_entry`.
pub type TesseraPluginEntry = unsafe extern "C" fn(host_abi_version: u32) -> *const TesseraPlugin;

unsafe extern "C" {
    /// Every plugin exports this function. `host_abi_version` is the host's
    /// `TESSERA_PLUGIN_ABI_VERSION`. Returns the plugin's static descriptor,
    /// or NULL when the plugin cannot run (the host then reports it failed).
    /// Called once, before any other call, on a thread of the host's choice.
    pub fn tessera_plugin_entry(host_abi_version: u32) -> *const TesseraPlugin;
}
