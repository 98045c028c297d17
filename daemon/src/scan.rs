//! The daemon's built-in image decoder and the image limits. Images are
//! decoded by the `image` scanner plugin (see `service/scanning.rs`); when no
//! plugin of that name is loaded (not installed, or refused at start-up),
//! the daemon decodes in process with `tessera-scan` (plugins/scan), the
//! same library and limits the plugin wraps, so a fresh build still scans
//! image files.

pub use tessera_scan::{MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, ScanError};

/// Every code in the image, in the order found, decoded in process with the
/// shipped cascade (rxing first). Blocks: call it off the async runtime.
pub fn decode_builtin(image: &[u8]) -> Result<Vec<String>, ScanError> {
    tessera_scan::decode(image)
}
