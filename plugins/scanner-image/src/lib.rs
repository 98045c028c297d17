//! The `image` scanner plugin: every QR code in an image file (PNG, JPEG,
//! GIF, BMP, WebP) passed by the host, decoded by `tessera-scan`'s cascade
//! within its size limits. Built as a cdylib; the Rust helper of
//! `tessera-plugin-api` makes the C ABI, catches panics and keeps the output
//! within the host's limits.

use tessera_plugin_api::{ScanFailure, ScanRequest, Scanner, export_scanner};
use tessera_scan::ScanError;

/// The scanner behind the plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImageScanner;

impl Scanner for ImageScanner {
    fn scan(&self, request: &ScanRequest<'_>) -> Result<Vec<String>, ScanFailure> {
        tessera_scan::decode(request.image).map_err(failure)
    }
}

/// The plugin status for a decoding error; the message is the error's text.
pub fn failure(error: ScanError) -> ScanFailure {
    let message = error.to_string();
    match error {
        ScanError::NoCode => ScanFailure::NotFound(message),
        ScanError::Empty
        | ScanError::TooLarge(_)
        | ScanError::TooManyPixels { .. }
        | ScanError::UnknownFormat
        | ScanError::Corrupt(_)
        | ScanError::Colour(_) => ScanFailure::BadInput(message),
    }
}

export_scanner! {
    name: "image",
    version: env!("CARGO_PKG_VERSION"),
    input: Image,
    scanner: ImageScanner,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn maps_errors_to_statuses_with_their_messages() {
        let request = ScanRequest {
            image: b"",
            timeout: Duration::from_secs(1),
            preview: tessera_plugin_api::Preview::NONE,
        };
        assert_eq!(
            ImageScanner.scan(&request),
            Err(ScanFailure::BadInput("image: the file is empty".into()))
        );
        assert!(
            matches!(failure(ScanError::NoCode), ScanFailure::NotFound(m) if m.contains("no QR code"))
        );
    }
}
