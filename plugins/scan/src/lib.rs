//! Activation images: bytes in, QR code texts out.
//!
//! [`load_luma`] reads an image file within fixed size limits (checked from
//! the header, before anything is decoded); [`decode`] runs the decoder
//! cascade on it. The `scanner-image` plugin wraps this crate, and the daemon
//! uses its limits to refuse oversized input before calling any plugin.
//!
//! A picture with colour that holds no plain QR code is read as a Tessera
//! colour code ([`colour`], `docs/colour-code.md`): three QR layers in the
//! red, green and blue channels.
//!
//! The cascade is rxing first; each later pass runs only when the earlier
//! ones found nothing, and stays in [`CASCADE`] only because it adds exact
//! decodes on the benchmark (`docs/benchmarks.md`, QR decoding).

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{DynamicImage, ImageReader, Limits};

pub mod colour;
mod passes;

pub use tessera_colour::Rgb;

pub use passes::{Panicked, Pass, run_pass, try_pass};

/// Largest image file accepted.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// Largest image accepted, in pixels (checked from the header, before decoding).
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Longest text kept from one code: the payload limit of `tessera-core` and
/// the plugin ABI's result limit. A longer code is ignored.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Most codes returned from one image.
pub const MAX_CODES: usize = 16;

/// The passes [`decode`] runs, in order, until one finds a code.
pub const CASCADE: &[Pass] = passes::SHIPPED;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("image: the file is empty")]
    Empty,
    #[error("image: {0} bytes is over the limit of {MAX_IMAGE_BYTES} bytes")]
    TooLarge(usize),
    #[error("image: {width}×{height} pixels is over the limit of {MAX_IMAGE_PIXELS} pixels")]
    TooManyPixels { width: u32, height: u32 },
    #[error("image: not a supported image format (PNG, JPEG, GIF, BMP, WebP)")]
    UnknownFormat,
    #[error("image: cannot be decoded ({0})")]
    Corrupt(String),
    #[error("image: no QR code found; hold the code flat, in focus and whole in the picture")]
    NoCode,
    /// A colour code was seen but not read: a layer missing, layers of two
    /// codes, a version or layer count this reader does not know.
    #[error(
        "image: {0}; hold the code flat and in even light, or scan the plain QR code the issuer also gives"
    )]
    Colour(tessera_colour::LayerError),
}

/// A grey-scale image ready for a decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luma {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Decodes image bytes to grey scale within the size limits.
pub fn load_luma(bytes: &[u8]) -> Result<Luma, ScanError> {
    load(bytes).map(|img| luma_of(&img))
}

/// Decodes image bytes to 8-bit RGB within the size limits.
pub fn load_rgb(bytes: &[u8]) -> Result<Rgb, ScanError> {
    load(bytes).map(rgb_of)
}

fn luma_of(img: &DynamicImage) -> Luma {
    let luma = img.to_luma8();
    let (width, height) = luma.dimensions();
    Luma {
        pixels: luma.into_raw(),
        width,
        height,
    }
}

fn rgb_of(img: DynamicImage) -> Rgb {
    let rgb = img.into_rgb8();
    let (width, height) = rgb.dimensions();
    Rgb {
        width,
        height,
        data: rgb.into_raw(),
    }
}

/// Decodes image bytes within the size limits.
fn load(bytes: &[u8]) -> Result<DynamicImage, ScanError> {
    if bytes.is_empty() {
        return Err(ScanError::Empty);
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ScanError::TooLarge(bytes.len()));
    }
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, ScanError> {
        let r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ScanError::Corrupt(e.to_string()))?;
        match r.format() {
            Some(
                image::ImageFormat::Png
                | image::ImageFormat::Jpeg
                | image::ImageFormat::Gif
                | image::ImageFormat::Bmp
                | image::ImageFormat::WebP,
            ) => Ok(r),
            _ => Err(ScanError::UnknownFormat),
        }
    };
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| ScanError::Corrupt(e.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(ScanError::TooManyPixels { width, height });
    }
    let mut r = reader()?;
    let mut limits = Limits::default();
    // RGBA at 8 bits plus decoder scratch space.
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 4 + (64 << 20));
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    r.limits(limits);
    // A decoder bug must not take the caller down.
    let img = catch_unwind(AssertUnwindSafe(|| r.decode()))
        .map_err(|_| ScanError::Corrupt("the image decoder failed".into()))?
        .map_err(|e| ScanError::Corrupt(e.to_string()))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(ScanError::Corrupt("the image has no pixels".into()));
    }
    Ok(img)
}

/// Every QR code found in the image (at most [`MAX_CODES`], each at most
/// [`MAX_TEXT_BYTES`]), in the order found, without duplicates; or the
/// payload of the colour code it holds.
pub fn decode(bytes: &[u8]) -> Result<Vec<String>, ScanError> {
    let img = load(bytes)?;
    let plain = decode_luma(&luma_of(&img), CASCADE);
    let has_colour = img.color().has_color();
    decode_either(plain, || has_colour.then(|| rgb_of(img)))
}

/// A colour frame's codes: plain QR codes, else its colour code (a
/// screenshot, the benchmark's frames).
pub fn decode_rgb(rgb: &Rgb) -> Result<Vec<String>, ScanError> {
    decode_frame(&luma_of_rgb(rgb), Some(rgb))
}

/// A camera frame's codes: plain QR codes in its grey scale, else the
/// colour code of its colour picture when it has one.
pub fn decode_frame(luma: &Luma, rgb: Option<&Rgb>) -> Result<Vec<String>, ScanError> {
    decode_either(decode_luma(luma, CASCADE), || rgb.cloned())
}

/// The grey scale of an RGB picture ([`grey`] per pixel).
pub fn luma_of_rgb(rgb: &Rgb) -> Luma {
    Luma {
        pixels: rgb
            .data
            .chunks_exact(3)
            .map(|p| grey(p[0], p[1], p[2]))
            .collect(),
        width: rgb.width,
        height: rgb.height,
    }
}

/// ITU-R BT.601 luma, in integers.
pub fn grey(r: u8, g: u8, b: u8) -> u8 {
    ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8) as u8
}

/// The plain codes found, unless there are none or they are colour code
/// layers read in grey: then the colour read of the picture, when it has
/// colour.
fn decode_either(
    plain: Result<Vec<String>, ScanError>,
    rgb: impl FnOnce() -> Option<Rgb>,
) -> Result<Vec<String>, ScanError> {
    let (layers, plain): (Vec<String>, Result<Vec<String>, ScanError>) = match plain {
        Ok(codes) => {
            let (layers, others): (Vec<String>, Vec<String>) = codes
                .into_iter()
                .partition(|t| tessera_colour::layers::is_layer(t));
            if !others.is_empty() {
                return Ok(others);
            }
            (layers, Err(ScanError::NoCode))
        }
        Err(e) => (Vec::new(), Err(e)),
    };
    if let Some(rgb) = rgb().filter(colour::has_colour) {
        match colour::decode(&rgb) {
            Ok(payload) => return Ok(vec![payload]),
            Err(colour::ColourFailure::Layers(e)) => return Err(ScanError::Colour(e)),
            Err(colour::ColourFailure::NoCode) => {}
        }
    }
    if !layers.is_empty() {
        // Layers seen in grey (three QR codes side by side, or a grey
        // picture of a colour code): joined if they make a payload.
        let parsed: Result<Vec<_>, _> = layers
            .iter()
            .map(|t| tessera_colour::layers::parse(t))
            .collect();
        return parsed
            .and_then(|l| tessera_colour::layers::join(&l))
            .map(|payload| vec![payload])
            .map_err(ScanError::Colour);
    }
    plain
}

/// Runs `passes` in order on a loaded image until one finds a code.
pub fn decode_luma(luma: &Luma, passes: &[Pass]) -> Result<Vec<String>, ScanError> {
    for &pass in passes {
        let found = keep(run_pass(pass, luma));
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Err(ScanError::NoCode)
}

/// Drops oversized and repeated texts, and keeps at most [`MAX_CODES`].
fn keep(texts: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in texts {
        if text.is_empty() || text.len() > MAX_TEXT_BYTES || out.contains(&text) {
            continue;
        }
        out.push(text);
        if out.len() == MAX_CODES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::GrayImage::new(width, height);
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn keeps_codes_once_and_within_limits() {
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let texts = vec!["a".into(), long, "a".into(), String::new(), "b".into()];
        assert_eq!(keep(texts), vec!["a".to_owned(), "b".to_owned()]);
        let many = (0..40).map(|i| i.to_string()).collect();
        assert_eq!(keep(many).len(), MAX_CODES);
    }

    #[test]
    fn refuses_empty_garbage_and_blank_images() {
        assert_eq!(decode(b""), Err(ScanError::Empty));
        assert_eq!(
            decode(b"hello, not an image"),
            Err(ScanError::UnknownFormat)
        );
        assert_eq!(decode(&png(64, 64)), Err(ScanError::NoCode));
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(decode(&truncated), Err(ScanError::Corrupt(_))));
    }
}
