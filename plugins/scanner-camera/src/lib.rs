//! The `camera` scanner plugin: QR codes from a webcam.
//!
//! [`scan_frames`] is the heart of it: it decodes frames from a
//! [`FrameSource`] with `tessera-scan` until one holds a code or the
//! deadline passes. It knows nothing of cameras, so the tests feed it image
//! frames. [`NokhwaSource`] is the real source, on nokhwa (Video4Linux); it
//! is compiled only with the cargo feature `camera`, because nokhwa needs
//! libclang to build. Without the feature the plugin still loads, and every
//! scan answers UNAVAILABLE: "built without camera support".
//!
//! The plugin lists the cameras, opens the one asked for (the first that
//! opens when none is named) and scans until the host's timeout, less a
//! margin so that it answers in time. Every frame it reads is also sent,
//! scaled down, to the host's live preview ([`preview`]).
//!
//! With `TESSERA_CAMERA_FRAMES=DIR` set, the plugin plays the pictures of
//! DIR instead of opening a camera ([`FolderSource`]): the tests' and
//! demonstrations' camera, in either build.

use std::time::{Duration, Instant};

use tessera_plugin_api::{ScanFailure, ScanRequest, Scanner, export_scanner};
use tessera_scan::Luma;

mod folder_source;
mod frames;
#[cfg(feature = "camera")]
mod nokhwa_source;
pub mod preview;

pub use folder_source::{FRAMES_ENV, FolderSource};
pub use frames::{Frame, FrameSource, PixelFormat, frame_from_raw, luma_from_raw, scan_frames};
#[cfg(feature = "camera")]
pub use nokhwa_source::{CameraInfo, NokhwaSource, list_cameras};

/// Why the camera gave no code. Each message is for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    /// The plugin was compiled without the `camera` feature.
    #[error(
        "camera: this build of the camera plugin has no camera support; build it with \
         `make CAMERA=1` or `cargo build --release --workspace --features \
         tessera-scanner-camera/camera` (needs libclang)"
    )]
    NotBuilt,
    #[error(
        "camera: no camera found; connect a webcam (a /dev/video* device that you may read, \
         usually through the `video` group)"
    )]
    NoCamera,
    #[error("camera: there is no camera number {device}; the cameras are: {found}")]
    NoSuchCamera { device: usize, found: String },
    #[error("camera: cannot open {camera}: {reason}")]
    CannotOpen { camera: String, reason: String },
    /// The source failed while scanning, e.g. the camera was disconnected.
    #[error("camera: {0}")]
    Source(String),
    #[error("camera: a bad frame: {0}")]
    BadFrame(String),
    #[error(
        "camera: no QR code seen within {} s; hold the code steady, flat and whole in front \
         of the camera",
        .0.as_secs()
    )]
    TimedOut(Duration),
    /// The host asked the scan to stop (the activation was cancelled).
    #[error("camera: the scan was stopped")]
    Stopped,
    /// The request's options text could not be read.
    #[error("camera: bad capture options: {0}")]
    BadOptions(String),
}

impl CameraError {
    /// The plugin status and message for this error.
    pub fn failure(self) -> ScanFailure {
        let message = self.to_string();
        match self {
            CameraError::NotBuilt
            | CameraError::NoCamera
            | CameraError::NoSuchCamera { .. }
            | CameraError::CannotOpen { .. } => ScanFailure::Unavailable(message),
            CameraError::TimedOut(_) | CameraError::Stopped => ScanFailure::NotFound(message),
            CameraError::BadOptions(_) => ScanFailure::BadInput(message),
            CameraError::Source(_) | CameraError::BadFrame(_) => ScanFailure::Failed(message),
        }
    }
}

/// What a capture request may ask for. ABI 1 has no field for it: a capture
/// scanner's request normally carries no bytes, and then the defaults hold.
/// The camera plugin also accepts, in the request's bytes, an options text
/// of `key=value` lines; it knows `device=N` (N counts from 0 in the order
/// the cameras are listed) and ignores other keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureOptions {
    /// The camera to use; `None`: the first one that opens.
    pub device: Option<usize>,
}

impl CaptureOptions {
    /// Longest options text read.
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(bytes: &[u8]) -> Result<Self, CameraError> {
        let mut options = CaptureOptions::default();
        if bytes.len() > Self::MAX_BYTES {
            return Err(CameraError::BadOptions(format!(
                "{} bytes is over the limit of {}",
                bytes.len(),
                Self::MAX_BYTES
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| CameraError::BadOptions("not UTF-8 text".into()))?;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((key, value)) = line.split_once('=') else {
                return Err(CameraError::BadOptions(format!(
                    "{line:?} is not key=value"
                )));
            };
            if key.trim() == "device" {
                let device = value.trim().parse::<usize>().map_err(|_| {
                    CameraError::BadOptions(format!(
                        "device {:?} is not a camera number (0, 1, …)",
                        value.trim()
                    ))
                })?;
                options.device = Some(device);
            }
        }
        Ok(options)
    }
}

/// The scan's deadline for a call the host waits `timeout` for: a margin is
/// kept to close the camera and answer before the host gives up.
pub fn deadline(start: Instant, timeout: Duration) -> Instant {
    let margin = (timeout / 5).min(Duration::from_secs(1));
    start + timeout.saturating_sub(margin)
}

/// Scans with the camera `options` asks for (or the frame folder
/// [`FRAMES_ENV`] names), until `deadline`, showing each frame to `show`.
pub fn scan_camera(
    options: CaptureOptions,
    deadline: Instant,
    show: &mut dyn FnMut(&Luma) -> bool,
) -> Result<Vec<String>, CameraError> {
    if let Some(dir) = std::env::var_os(FRAMES_ENV) {
        let mut source = FolderSource::open(std::path::Path::new(&dir))?;
        return scan_frames(&mut source, deadline, show);
    }
    scan_device(options, deadline, show)
}

#[cfg(feature = "camera")]
fn scan_device(
    options: CaptureOptions,
    deadline: Instant,
    show: &mut dyn FnMut(&Luma) -> bool,
) -> Result<Vec<String>, CameraError> {
    let mut source = NokhwaSource::open(options.device, deadline)?;
    scan_frames(&mut source, deadline, show)
}

/// Without the `camera` feature there is no camera to scan with.
#[cfg(not(feature = "camera"))]
fn scan_device(
    _options: CaptureOptions,
    _deadline: Instant,
    _show: &mut dyn FnMut(&Luma) -> bool,
) -> Result<Vec<String>, CameraError> {
    Err(CameraError::NotBuilt)
}

/// The scanner behind the plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct CameraScanner;

impl Scanner for CameraScanner {
    fn scan(&self, request: &ScanRequest<'_>) -> Result<Vec<String>, ScanFailure> {
        let start = Instant::now();
        let options = CaptureOptions::parse(request.image).map_err(CameraError::failure)?;
        let mut preview = preview::PreviewSender::new(request.preview);
        scan_camera(options, deadline(start, request.timeout), &mut |frame| {
            preview.show(frame)
        })
        .map_err(CameraError::failure)
    }
}

export_scanner! {
    name: "camera",
    version: env!("CARGO_PKG_VERSION"),
    input: Capture,
    scanner: CameraScanner,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(not(feature = "camera"))]
    use tessera_plugin_api::Preview;

    #[test]
    fn reads_capture_options() {
        assert_eq!(CaptureOptions::parse(b""), Ok(CaptureOptions::default()));
        assert_eq!(
            CaptureOptions::parse(b"device=2\nother=x\n"),
            Ok(CaptureOptions { device: Some(2) })
        );
        assert_eq!(
            CaptureOptions::parse(b" device = 0 ").unwrap().device,
            Some(0)
        );
        for bad in [&b"device=-1"[..], b"device", b"\xff", &[b'\n'; 2000]] {
            let err = CaptureOptions::parse(bad).unwrap_err();
            assert!(matches!(err, CameraError::BadOptions(_)), "{err}");
            assert!(matches!(err.failure(), ScanFailure::BadInput(_)));
        }
    }

    #[test]
    fn keeps_a_margin_before_the_host_gives_up() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(30)),
            now + Duration::from_secs(29)
        );
        assert_eq!(
            deadline(now, Duration::from_secs(2)),
            now + Duration::from_millis(1600)
        );
        assert_eq!(deadline(now, Duration::ZERO), now);
    }

    #[test]
    fn errors_map_to_statuses() {
        assert!(matches!(
            CameraError::NoCamera.failure(),
            ScanFailure::Unavailable(m) if m.contains("no camera found")
        ));
        assert!(matches!(
            CameraError::TimedOut(Duration::from_secs(5)).failure(),
            ScanFailure::NotFound(m) if m.contains("within 5 s")
        ));
        assert!(matches!(
            CameraError::Source("camera disconnected".into()).failure(),
            ScanFailure::Failed(m) if m == "camera: camera disconnected"
        ));
    }

    #[cfg(not(feature = "camera"))]
    #[test]
    fn without_the_feature_the_camera_is_unavailable() {
        if std::env::var_os(FRAMES_ENV).is_some() {
            return;
        }
        let request = ScanRequest {
            image: b"",
            timeout: Duration::from_secs(1),
            preview: Preview::NONE,
        };
        assert_eq!(
            CameraScanner.scan(&request),
            Err(ScanFailure::Unavailable(
                "camera: this build of the camera plugin has no camera support; build it with `make CAMERA=1` or `cargo build --release --workspace --features tessera-scanner-camera/camera` (needs libclang)"
                    .into()
            ))
        );
    }
}
