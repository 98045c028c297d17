//! A camera made of picture files, for tests and demonstrations on machines
//! without one (CI here has no `/dev/video*` and cannot load v4l2loopback).
//! It stands in at the plugin's real interface, frames in: with
//! `TESSERA_CAMERA_FRAMES=DIR` in the daemon's environment, the plugin plays
//! the image files of DIR (PNG, JPEG, …, in name order, looping) at
//! [`FRAMES_PER_SECOND`] instead of opening a camera. Everything after the
//! source (the frame loop, the live preview, the host, the daemon, the
//! clients) is the real path.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::CameraError;
use crate::frames::{Frame, FrameSource};

/// The environment variable naming the folder of frames.
pub const FRAMES_ENV: &str = "TESSERA_CAMERA_FRAMES";
/// How fast the files are played, as a webcam's preview rate.
pub const FRAMES_PER_SECOND: u32 = 10;
/// Most files played from the folder.
pub const MAX_FRAMES: usize = 256;
/// Largest frame file read.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Frames read from a folder's picture files.
#[derive(Debug)]
pub struct FolderSource {
    files: Vec<PathBuf>,
    next: usize,
    due: Instant,
}

impl FolderSource {
    /// Lists the folder's files; refuses an unreadable or empty folder.
    pub fn open(dir: &Path) -> Result<Self, CameraError> {
        let cannot = |reason: String| CameraError::CannotOpen {
            camera: format!("the frame folder {} ({FRAMES_ENV})", dir.display()),
            reason,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| cannot(e.to_string()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        if files.is_empty() {
            return Err(cannot("it holds no picture files".into()));
        }
        files.sort();
        files.truncate(MAX_FRAMES);
        Ok(FolderSource {
            files,
            next: 0,
            due: Instant::now(),
        })
    }

    /// How many files it plays.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Never true: an empty folder does not open.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FrameSource for FolderSource {
    fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>, CameraError> {
        if self.due > deadline {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            return Ok(None);
        }
        std::thread::sleep(self.due.saturating_duration_since(Instant::now()));
        self.due = Instant::now() + Duration::from_secs(1) / FRAMES_PER_SECOND;
        let path = &self.files[self.next % self.files.len()];
        self.next += 1;
        let bad = |reason: String| CameraError::BadFrame(format!("{}: {reason}", path.display()));
        let len = std::fs::metadata(path)
            .map_err(|e| bad(e.to_string()))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(bad(format!(
                "{len} bytes is over the limit of {MAX_FILE_BYTES}"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let rgb = tessera_scan::load_rgb(&bytes).map_err(|e| bad(e.to_string()))?;
        Ok(Some(Frame::Rgb {
            pixels: rgb.data,
            width: rgb.width,
            height: rgb.height,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_the_files_in_name_order_and_loops() {
        let dir = tempfile::tempdir().unwrap();
        for (name, grey) in [("b.png", 20u8), ("a.png", 10)] {
            image::GrayImage::from_pixel(4, 3, image::Luma([grey]))
                .save(dir.path().join(name))
                .unwrap();
        }
        let mut source = FolderSource::open(dir.path()).unwrap();
        assert_eq!(source.len(), 2);
        let far = Instant::now() + Duration::from_secs(10);
        let greys: Vec<u8> = (0..3)
            .map(|_| match source.next_frame(far).unwrap().unwrap() {
                Frame::Rgb { pixels, .. } => pixels[0],
                Frame::Luma(_) => unreachable!("the folder gives colour frames"),
            })
            .collect();
        assert_eq!(greys, [10, 20, 10]);
    }

    #[test]
    fn a_missing_or_empty_folder_or_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = FolderSource::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds no picture files"), "{err}");
        assert!(err.contains(FRAMES_ENV), "{err}");
        let err = FolderSource::open(&dir.path().join("nowhere"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nowhere"), "{err}");
        std::fs::write(dir.path().join("x.png"), b"not a picture").unwrap();
        let mut source = FolderSource::open(dir.path()).unwrap();
        let err = source
            .next_frame(Instant::now() + Duration::from_secs(5))
            .unwrap_err();
        assert!(
            matches!(err, CameraError::BadFrame(ref m) if m.contains("x.png")),
            "{err}"
        );
    }
}
