//! The encoder: a payload to three QR layers of one version, and their
//! colours.

use qrcode::types::QrError;
use qrcode::{Color, EcLevel, QrCode, Version};

use crate::layers::{self, LAYERS, LayerError};
use crate::palette;

/// Error correction of every layer (as the plain QR fallback: level M).
pub const EC_LEVEL: EcLevel = EcLevel::M;
/// The quiet zone around the code, in modules.
pub const QUIET_ZONE: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Layers(#[from] LayerError),
    #[error("colour code: the payload ({0} bytes) does not fit in three version 40 QR layers")]
    TooLarge(usize),
}

/// An 8-bit RGB picture, rows top to bottom, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Rgb {
    /// The pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// A colour code: three QR layers of the same version laid over each other.
pub struct ColourCode {
    layers: [QrCode; LAYERS],
}

impl ColourCode {
    /// The smallest colour code that holds `payload`.
    pub fn new(payload: &str) -> Result<Self, EncodeError> {
        let texts = layers::split(payload)?;
        let too_large = |_: QrError| EncodeError::TooLarge(payload.len());
        let mut version = 1;
        for text in &texts {
            let code = QrCode::with_error_correction_level(text.as_bytes(), EC_LEVEL)
                .map_err(too_large)?;
            if let Version::Normal(v) = code.version() {
                version = version.max(v);
            }
        }
        let layer = |text: &String| {
            QrCode::with_version(text.as_bytes(), Version::Normal(version), EC_LEVEL)
                .map_err(too_large)
        };
        Ok(Self {
            layers: [layer(&texts[0])?, layer(&texts[1])?, layer(&texts[2])?],
        })
    }

    /// The QR version (1–40) of every layer.
    pub fn version(&self) -> i16 {
        match self.layers[0].version() {
            Version::Normal(v) | Version::Micro(v) => v,
        }
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.layers[0].width()
    }

    /// The palette index of the module at (x, y): bit `i` set when layer `i`
    /// is dark there.
    pub fn module(&self, x: usize, y: usize) -> u8 {
        let mut index = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            if layer[(x, y)] == Color::Dark {
                index |= 1 << i;
            }
        }
        index
    }

    /// The code as pixels: `module_pixels` a side for each module, with the
    /// quiet zone, in the palette's screen colours.
    pub fn to_rgb(&self, module_pixels: u32) -> Rgb {
        let modules = self.width() + 2 * QUIET_ZONE;
        let side = modules as u32 * module_pixels;
        let mut data = Vec::with_capacity(side as usize * side as usize * 3);
        for py in 0..side {
            let my = (py / module_pixels) as usize;
            for px in 0..side {
                let mx = (px / module_pixels) as usize;
                let inside = (QUIET_ZONE..QUIET_ZONE + self.width()).contains(&mx)
                    && (QUIET_ZONE..QUIET_ZONE + self.width()).contains(&my);
                let index = if inside {
                    self.module(mx - QUIET_ZONE, my - QUIET_ZONE)
                } else {
                    0
                };
                data.extend_from_slice(&palette::SCREEN[usize::from(index)]);
            }
        }
        Rgb {
            width: side,
            height: side,
            data,
        }
    }
}

/// The longest ASCII payload a colour code of QR version `version` holds.
pub fn capacity(version: i16) -> usize {
    let fits =
        |n: usize| ColourCode::new(&"x".repeat(n)).is_ok_and(|code| code.version() <= version);
    let (mut lo, mut hi) = (0usize, layers::MAX_PAYLOAD_BYTES);
    if fits(hi) {
        return hi;
    }
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if fits(mid) { lo = mid } else { hi = mid }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_is_one_qr_code_of_the_same_version() {
        let code = ColourCode::new(&"activation ".repeat(40)).unwrap();
        let texts = layers::split(&"activation ".repeat(40)).unwrap();
        for (i, text) in texts.iter().enumerate() {
            let alone =
                QrCode::with_version(text.as_bytes(), Version::Normal(code.version()), EC_LEVEL)
                    .unwrap();
            for y in 0..code.width() {
                for x in 0..code.width() {
                    let dark = code.module(x, y) & (1 << i) != 0;
                    assert_eq!(dark, alone[(x, y)] == Color::Dark, "layer {i} at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn the_finder_patterns_are_black_and_white() {
        let code = ColourCode::new("hello").unwrap();
        // The top-left finder: a dark 7×7 ring, a light ring, a dark 3×3 core.
        assert_eq!(code.module(0, 0), 7);
        assert_eq!(code.module(1, 1), 0);
        assert_eq!(code.module(3, 3), 7);
        let rgb = code.to_rgb(4);
        assert_eq!(rgb.pixel(0, 0), [255, 255, 255], "quiet zone");
        let q = (QUIET_ZONE * 4) as u32;
        assert_eq!(rgb.pixel(q, q), [0, 0, 0]);
    }

    #[test]
    fn three_layers_hold_about_three_times_a_qr_code() {
        // Version 40 at level M holds 2331 bytes as a plain QR code.
        assert_eq!(capacity(40), layers::MAX_PAYLOAD_BYTES);
        let v10 = capacity(10);
        // Version 10-M: 213 bytes a layer in byte mode, less an 18-byte
        // header (a little more: the header's digits pack tighter).
        assert!((3 * (213 - 18) - 3..3 * 213).contains(&v10), "{v10}");
        assert!(ColourCode::new(&"x".repeat(v10 + 1)).unwrap().version() > 10);
    }
}
