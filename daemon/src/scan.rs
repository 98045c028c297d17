//! Decoding activation images: bytes in, payload texts out. The decoder
//! cascade and the size limits live in `tessera-scan` (plugins/scan), the
//! same library the `scanner-image` plugin wraps.

pub use tessera_scan::{MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, ScanError};

/// A source of payload texts from image bytes.
pub trait Scanner: Send + Sync {
    /// Every code found in the image, in the order found.
    fn scan(&self, image: &[u8]) -> Result<Vec<String>, ScanError>;
}

/// QR decoding in process with the shipped cascade (rxing first).
#[derive(Debug, Default, Clone, Copy)]
pub struct ImageScanner;

impl Scanner for ImageScanner {
    fn scan(&self, image: &[u8]) -> Result<Vec<String>, ScanError> {
        tessera_scan::decode(image)
    }
}
