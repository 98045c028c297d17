//! The `colour` scanner plugin: the Tessera colour code
//! (`docs/colour-code.md`) in an image file passed by the host, read by
//! `tessera-scan`'s colour reader within its size limits. It reads colour
//! codes only (plain QR codes are the `image` plugin's), so a host can offer
//! colour codes alone, or beside another colour format's plugin.

use tessera_plugin_api::{ScanFailure, ScanRequest, Scanner, export_scanner};
use tessera_scan::ScanError;
use tessera_scan::colour::{self, ColourFailure};

/// The scanner behind the plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct ColourScanner;

impl Scanner for ColourScanner {
    fn scan(&self, request: &ScanRequest<'_>) -> Result<Vec<String>, ScanFailure> {
        let rgb = tessera_scan::load_rgb(request.image).map_err(|e| bad(e.to_string()))?;
        match colour::decode(&rgb) {
            Ok(payload) => Ok(vec![payload]),
            Err(ColourFailure::NoCode) => Err(ScanFailure::NotFound(
                "colour: no Tessera colour code found; hold the code flat, in focus and whole in the picture"
                    .into(),
            )),
            Err(ColourFailure::Layers(e)) => Err(bad(ScanError::Colour(e).to_string())),
        }
    }
}

fn bad(message: String) -> ScanFailure {
    ScanFailure::BadInput(message)
}

export_scanner! {
    name: "colour",
    version: env!("CARGO_PKG_VERSION"),
    input: Image,
    scanner: ColourScanner,
}
