//! The live camera preview of an activation: while its camera scan runs,
//! the camera plugin sends each frame it reads (grey, at most 320×240,
//! ABI 2's `frame`), and the newest one is kept here for clients to fetch
//! (`GetPreviewFrame`, D-Bus `PreviewFrame`). Clients poll: nothing is
//! broadcast on the bus, and only a caller the peer check admitted sees a
//! frame.
//!
//! A frame may show the QR code, which holds the activation secret, so it
//! is treated as one: kept only while the scan runs (dropped, and wiped, as
//! soon as it ends), never logged, never written to disk.
//!
//! The plugin's sink also carries the activation's end to the camera: once
//! the activation has left `scanning` (cancelled, or timed out), the next
//! frame answers [`FrameReply::Stop`] and the plugin releases the camera.

use std::sync::{Arc, Mutex, Weak};

use tessera_plugin_host::{FrameReply, PreviewFrame, PreviewSink};

use super::Service;
use crate::error::ServiceResult;

/// The newest frame, as clients see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreviewView {
    /// Counts the frames of this activation from 1; 0: none yet (or not a
    /// camera scan). A client shows a frame when this changes.
    pub sequence: u64,
    /// The frame, while the scan runs.
    pub frame: Option<Arc<PreviewFrame>>,
}

/// An activation's preview: the newest frame and how many came.
#[derive(Default)]
pub struct Preview(Mutex<PreviewView>);

impl Preview {
    /// The newest frame.
    pub fn view(&self) -> PreviewView {
        self.0.lock().expect("preview poisoned").clone()
    }

    fn keep(&self, frame: PreviewFrame) {
        let mut view = self.0.lock().expect("preview poisoned");
        view.sequence += 1;
        view.frame = Some(Arc::new(frame));
    }

    /// The scan ended: the frame goes (the count stays).
    pub fn clear(&self) {
        self.0.lock().expect("preview poisoned").frame = None;
    }

    /// The sink handed to the camera plugin for one scan: keeps each frame
    /// while `scanning` says the activation is still at `scanning`, else
    /// asks the plugin to stop.
    pub fn sink(
        self: &Arc<Self>,
        scanning: impl Fn() -> bool + Send + Sync + 'static,
    ) -> PreviewSink {
        let preview: Weak<Preview> = Arc::downgrade(self);
        Arc::new(move |frame| match preview.upgrade() {
            Some(preview) if scanning() => {
                preview.keep(frame);
                FrameReply::More
            }
            _ => FrameReply::Stop,
        })
    }
}

impl Service {
    /// The newest camera frame of activation `id` ([`PreviewView`]).
    pub fn activation_preview(&self, id: &str) -> ServiceResult<PreviewView> {
        Ok(self.inner.activations.preview(id)?.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(grey: u8) -> PreviewFrame {
        PreviewFrame {
            width: 2,
            height: 1,
            pixels: vec![grey; 2],
        }
    }

    #[test]
    fn keeps_the_newest_frame_while_scanning_and_stops_after() {
        let preview = Arc::new(Preview::default());
        let scanning = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sink = preview.sink({
            let scanning = scanning.clone();
            move || scanning.load(std::sync::atomic::Ordering::SeqCst)
        });
        assert_eq!(preview.view(), PreviewView::default());
        assert_eq!(sink(frame(1)), FrameReply::More);
        assert_eq!(sink(frame(2)), FrameReply::More);
        let view = preview.view();
        assert_eq!(view.sequence, 2);
        assert_eq!(view.frame.unwrap().pixels, [2, 2]);

        scanning.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(sink(frame(3)), FrameReply::Stop);
        assert_eq!(preview.view().sequence, 2, "not kept");
        preview.clear();
        assert_eq!(preview.view().frame, None);
        assert_eq!(preview.view().sequence, 2);

        scanning.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(preview);
        assert_eq!(sink(frame(4)), FrameReply::Stop, "the activation is gone");
    }
}
