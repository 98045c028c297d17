//! The live preview: each frame the loop reads, scaled down to at most
//! [`PREVIEW_WIDTH`] × [`PREVIEW_HEIGHT`] and sent to the host through ABI 2's
//! `frame` callback, at most [`PREVIEWS_PER_SECOND`] a second.

use std::time::{Duration, Instant};

use image::ImageBuffer;
use tessera_plugin_api::{FrameReply, Preview};
use tessera_scan::Luma;

/// Widest preview sent: enough for a window's preview, small enough that
/// 10 a second cost the daemon and the bus little (76.8 kB a frame).
pub const PREVIEW_WIDTH: u32 = 320;
/// Tallest preview sent.
pub const PREVIEW_HEIGHT: u32 = 240;
/// Most previews sent a second.
pub const PREVIEWS_PER_SECOND: u32 = 15;

/// The size a `width` × `height` frame is shown at: scaled down to fit the
/// preview's bounds, its shape kept, never scaled up, at least 1×1.
pub fn preview_size(width: u32, height: u32) -> (u32, u32) {
    let scale = f64::min(
        f64::from(PREVIEW_WIDTH) / f64::from(width.max(1)),
        f64::from(PREVIEW_HEIGHT) / f64::from(height.max(1)),
    )
    .min(1.0);
    let fit = |n: u32| ((f64::from(n) * scale).round() as u32).max(1);
    (fit(width), fit(height))
}

/// Sends the frames of one scan to the host's preview.
pub struct PreviewSender<'a> {
    preview: Preview<'a>,
    last: Option<Instant>,
    /// The host said it wants no more.
    stopped: bool,
}

impl<'a> PreviewSender<'a> {
    pub fn new(preview: Preview<'a>) -> Self {
        PreviewSender {
            stopped: !preview.wanted(),
            preview,
            last: None,
        }
    }

    /// Sends `frame`, scaled down, unless the host wants none or one was
    /// sent less than a frame's time ago. Returns false when the host asked
    /// the scan to stop.
    pub fn show(&mut self, frame: &Luma) -> bool {
        let now = Instant::now();
        let gap = Duration::from_secs(1) / PREVIEWS_PER_SECOND;
        if self.stopped || self.last.is_some_and(|t| now.duration_since(t) < gap) {
            return true;
        }
        let Some(view) = ImageBuffer::<image::Luma<u8>, &[u8]>::from_raw(
            frame.width,
            frame.height,
            &frame.pixels,
        ) else {
            return true;
        };
        let (width, height) = preview_size(frame.width, frame.height);
        let small = image::imageops::thumbnail(&view, width, height);
        self.last = Some(now);
        match self.preview.send(width, height, small.as_raw()) {
            FrameReply::More => true,
            FrameReply::Enough => {
                self.stopped = true;
                true
            }
            FrameReply::Stop => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_scaled_down_to_fit_keeping_their_shape() {
        assert_eq!(preview_size(640, 480), (320, 240));
        assert_eq!(preview_size(1920, 1080), (320, 180));
        assert_eq!(preview_size(480, 640), (180, 240));
        assert_eq!(preview_size(100, 50), (100, 50));
        assert_eq!(preview_size(10_000, 1), (320, 1));
        assert_eq!(preview_size(0, 0), (1, 1));
    }

    #[test]
    fn without_a_host_preview_nothing_is_sent() {
        let mut sender = PreviewSender::new(Preview::NONE);
        assert!(sender.stopped);
        assert!(sender.show(&Luma {
            pixels: vec![0; 4],
            width: 2,
            height: 2,
        }));
        assert!(sender.last.is_none());
    }
}
