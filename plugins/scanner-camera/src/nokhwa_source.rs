//! Frames from a real camera with nokhwa (Video4Linux). Compiled only with
//! the cargo feature `camera`.
//!
//! A camera read can block for good (a stalled device), and the plugin must
//! answer before the host's timeout, so the camera lives on a thread of its
//! own that hands frames over a channel; the scan waits on the channel with
//! the deadline. When the scan ends the channel closes and the thread closes
//! the camera after its current read.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Instant;

use nokhwa::Camera;
use nokhwa::utils::{ApiBackend, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};

use crate::CameraError;
use crate::frames::{Frame, FrameSource, PixelFormat, frame_from_raw};

/// Bad frames in a row (a corrupt Motion JPEG frame happens, mostly as the
/// stream starts) before the camera counts as failed.
const MAX_BAD_FRAMES: u32 = 30;

/// A camera as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// The name the driver gives it.
    pub name: String,
    /// Its Video4Linux index: `/dev/video<index>`.
    pub index: u32,
}

/// The cameras, in the order of their device numbers. Empty when there is
/// none (no `/dev/video*`). The list may hold nodes that give no pictures
/// (a webcam's metadata node); opening one fails.
pub fn list_cameras() -> Result<Vec<CameraInfo>, CameraError> {
    let mut cameras: Vec<CameraInfo> = nokhwa::query(ApiBackend::Auto)
        .map_err(|e| CameraError::Source(format!("cannot list the cameras: {e}")))?
        .into_iter()
        .filter_map(|info| match info.index() {
            CameraIndex::Index(index) => Some(CameraInfo {
                name: info.human_name(),
                index: *index,
            }),
            CameraIndex::String(_) => None,
        })
        .collect();
    cameras.sort_by_key(|c| c.index);
    Ok(cameras)
}

/// Frames from a camera opened with nokhwa.
pub struct NokhwaSource {
    frames: Receiver<Result<Frame, CameraError>>,
}

impl NokhwaSource {
    /// Opens camera number `device` of [`list_cameras`] or, when `None`,
    /// the first one that opens. Waits for the camera until `deadline`.
    pub fn open(device: Option<usize>, deadline: Instant) -> Result<Self, CameraError> {
        let cameras = list_cameras()?;
        if cameras.is_empty() {
            return Err(CameraError::NoCamera);
        }
        let candidates = match device {
            Some(n) => vec![
                cameras
                    .get(n)
                    .cloned()
                    .ok_or_else(|| CameraError::NoSuchCamera {
                        device: n,
                        found: describe(&cameras),
                    })?,
            ],
            None => cameras,
        };
        let mut first_error = None;
        for camera in candidates {
            match Self::open_one(&camera, deadline) {
                Ok(source) => return Ok(source),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(first_error.unwrap_or(CameraError::NoCamera))
    }

    fn open_one(camera: &CameraInfo, deadline: Instant) -> Result<Self, CameraError> {
        let (opened_tx, opened_rx) = mpsc::sync_channel(1);
        let (frames_tx, frames_rx) = mpsc::sync_channel(1);
        let index = camera.index;
        std::thread::Builder::new()
            .name(format!("tessera-camera-{index}"))
            .spawn(move || capture(index, &opened_tx, &frames_tx))
            .map_err(|e| CameraError::Source(format!("cannot start a thread: {e}")))?;
        let wait = deadline.saturating_duration_since(Instant::now());
        let name = format!("{} (/dev/video{index})", camera.name);
        match opened_rx.recv_timeout(wait) {
            Ok(Ok(())) => Ok(NokhwaSource { frames: frames_rx }),
            Ok(Err(reason)) => Err(CameraError::CannotOpen {
                camera: name,
                reason,
            }),
            Err(RecvTimeoutError::Timeout) => Err(CameraError::CannotOpen {
                camera: name,
                reason: "it did not open in time".into(),
            }),
            Err(RecvTimeoutError::Disconnected) => Err(CameraError::CannotOpen {
                camera: name,
                reason: "its thread stopped".into(),
            }),
        }
    }
}

impl FrameSource for NokhwaSource {
    fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>, CameraError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.frames.recv_timeout(wait) {
            Ok(frame) => frame.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(CameraError::Source(
                "the camera stopped sending pictures".into(),
            )),
        }
    }
}

fn describe(cameras: &[CameraInfo]) -> String {
    cameras
        .iter()
        .enumerate()
        .map(|(n, c)| format!("{n}: {} (/dev/video{})", c.name, c.index))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The camera thread: opens the camera, says whether that worked, then
/// sends frames until the receiver is gone or the camera fails.
fn capture(
    index: u32,
    opened: &SyncSender<Result<(), String>>,
    frames: &SyncSender<Result<Frame, CameraError>>,
) {
    let mut camera = match open_camera(index) {
        Ok(camera) => camera,
        Err(reason) => {
            let _ = opened.send(Err(reason));
            return;
        }
    };
    if opened.send(Ok(())).is_err() {
        return;
    }
    let mut bad = 0;
    loop {
        let frame = match camera.frame() {
            Ok(buffer) => {
                let resolution = buffer.resolution();
                frame_from_raw(
                    pixel_format(buffer.source_frame_format()),
                    resolution.width(),
                    resolution.height(),
                    buffer.buffer(),
                )
            }
            Err(e) => Err(CameraError::Source(format!(
                "the camera stopped sending pictures (disconnected?): {e}"
            ))),
        };
        let frame = match frame {
            Ok(frame) => {
                bad = 0;
                Ok(frame)
            }
            Err(CameraError::BadFrame(_)) if bad < MAX_BAD_FRAMES => {
                bad += 1;
                continue;
            }
            Err(e) => Err(e),
        };
        let failed = frame.is_err();
        if frames.send(frame).is_err() || failed {
            break;
        }
    }
    let _ = camera.stop_stream();
}

/// Opens `/dev/video<index>` and starts its stream, preferring formats that
/// need no decoding (grey, YUYV, NV12) at the camera's highest frame rate.
fn open_camera(index: u32) -> Result<Camera, String> {
    const RAW: &[FrameFormat] = &[FrameFormat::GRAY, FrameFormat::YUYV, FrameFormat::NV12];
    const ANY: &[FrameFormat] = &[
        FrameFormat::GRAY,
        FrameFormat::YUYV,
        FrameFormat::NV12,
        FrameFormat::MJPEG,
        FrameFormat::RAWRGB,
        FrameFormat::RAWBGR,
    ];
    let mut camera = Camera::new(
        CameraIndex::Index(index),
        RequestedFormat::with_formats(RequestedFormatType::AbsoluteHighestFrameRate, RAW),
    )
    .or_else(|_| {
        Camera::new(
            CameraIndex::Index(index),
            RequestedFormat::with_formats(RequestedFormatType::AbsoluteHighestFrameRate, ANY),
        )
    })
    .map_err(|e| e.to_string())?;
    camera.open_stream().map_err(|e| e.to_string())?;
    Ok(camera)
}

fn pixel_format(format: FrameFormat) -> PixelFormat {
    match format {
        FrameFormat::MJPEG => PixelFormat::Mjpeg,
        FrameFormat::YUYV => PixelFormat::Yuyv,
        FrameFormat::NV12 => PixelFormat::Nv12,
        FrameFormat::GRAY => PixelFormat::Gray,
        FrameFormat::RAWRGB => PixelFormat::Rgb,
        FrameFormat::RAWBGR => PixelFormat::Bgr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// This machine has no camera: the plugin says so. (Skipped where a
    /// `/dev/video*` exists.)
    #[test]
    fn without_a_camera_says_no_camera_found() {
        let any_video = std::fs::read_dir("/dev")
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("video"))
            })
            .unwrap_or(false);
        if any_video {
            eprintln!("skipped: this machine has a /dev/video* device");
            return;
        }
        assert_eq!(list_cameras(), Ok(Vec::new()));
        let deadline = Instant::now() + Duration::from_secs(1);
        let err = NokhwaSource::open(None, deadline).err().unwrap();
        assert_eq!(err, CameraError::NoCamera);
        assert!(err.to_string().contains("no camera found"), "{err}");
    }
}
