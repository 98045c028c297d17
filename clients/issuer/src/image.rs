//! The activation image: a QR code of the payload text, as PNG, SVG or
//! drawn in the terminal; or a Tessera colour code as PNG
//! (`docs/colour-code.md`). Error correction level M, with the 4-module
//! quiet zone scanners need.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, Luma};
use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

use crate::error::{Error, Result};

/// Pixels per QR module in a PNG.
const PNG_MODULE_PIXELS: u32 = 8;
/// Smallest side of an SVG, in user units.
const SVG_MIN_SIZE: u32 = 256;

/// The image file formats `new --image` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Svg,
}

impl ImageKind {
    /// The format the extension of `path` names (any case).
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Self::Png),
            Some("svg") => Ok(Self::Svg),
            _ => Err(Error::input(format!(
                "--image {}: the file name must end in .png or .svg",
                path.display()
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Svg => "svg",
        }
    }
}

/// The QR code of `text`.
pub fn qr_code(text: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        Error::input(format!(
            "the payload ({} bytes) does not fit in a QR code: {e}",
            text.len()
        ))
    })
}

/// The image file's bytes.
pub fn encode(code: &QrCode, kind: ImageKind) -> Vec<u8> {
    match kind {
        ImageKind::Png => {
            let img = code
                .render::<Luma<u8>>()
                .quiet_zone(true)
                .module_dimensions(PNG_MODULE_PIXELS, PNG_MODULE_PIXELS)
                .build();
            let mut out = Cursor::new(Vec::new());
            img.write_to(&mut out, ImageFormat::Png)
                .expect("encoding a PNG into memory does not fail");
            out.into_inner()
        }
        ImageKind::Svg => code
            .render::<svg::Color<'_>>()
            .quiet_zone(true)
            .min_dimensions(SVG_MIN_SIZE, SVG_MIN_SIZE)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build()
            .into_bytes(),
    }
}

/// A payload's image file, and what goes with it.
pub struct Rendered {
    /// The image file's bytes (plain QR, or the colour code).
    pub image: Vec<u8>,
    /// A colour image's plain QR fallback, when the text fits one.
    pub fallback: Option<Vec<u8>>,
    /// The plain QR code drawn in the terminal, when the text fits one.
    pub terminal: Option<String>,
}

/// `text` as `kind` (a plain QR code), or as a colour code (PNG) with its
/// plain fallback when `colour`.
pub fn render(text: &str, kind: ImageKind, colour: bool) -> Result<Rendered> {
    if colour {
        let plain = qr_code(text).ok();
        return Ok(Rendered {
            image: colour_png(text)?,
            fallback: plain.as_ref().map(|c| encode(c, ImageKind::Png)),
            terminal: plain.as_ref().map(terminal),
        });
    }
    let code = qr_code(text)?;
    Ok(Rendered {
        image: encode(&code, kind),
        fallback: None,
        terminal: Some(terminal(&code)),
    })
}

/// Checks `--image` and `--colour` together: the format the file name
/// names, and PNG for a colour code. Returns the format and, for a colour
/// code, where its plain fallback goes.
pub fn target(path: &Path, colour: bool) -> Result<(ImageKind, Option<std::path::PathBuf>)> {
    let kind = ImageKind::from_path(path)?;
    if colour && kind != ImageKind::Png {
        return Err(Error::input(format!(
            "--image {}: a colour code is written as PNG; name a .png file",
            path.display()
        )));
    }
    Ok((kind, colour.then(|| fallback_path(path))))
}

/// Writes the image (and a colour image's fallback) with mode 0600; on
/// failure nothing is left behind.
pub fn write(path: &Path, fallback_path: Option<&Path>, rendered: &Rendered) -> Result<()> {
    crate::files::write_private(path, &rendered.image, true)?;
    if let (Some(fallback_path), Some(bytes)) = (fallback_path, &rendered.fallback) {
        crate::files::write_private(fallback_path, bytes, true).inspect_err(|_| {
            let _ = std::fs::remove_file(path);
        })?;
    }
    Ok(())
}

/// Removes what [`write`] wrote (a command whose database write failed).
pub fn remove(path: &Path, fallback_path: Option<&Path>) {
    let _ = std::fs::remove_file(path);
    if let Some(p) = fallback_path {
        let _ = std::fs::remove_file(p);
    }
}

/// The colour code of `text` as a PNG (8 pixels a module, as plain ones).
pub fn colour_png(text: &str) -> Result<Vec<u8>> {
    let code = tessera_colour::ColourCode::new(text).map_err(|e| Error::input(e.to_string()))?;
    let rgb = code.to_rgb(PNG_MODULE_PIXELS);
    let img = image::RgbImage::from_raw(rgb.width, rgb.height, rgb.data)
        .expect("the encoder fills every pixel");
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encoding a PNG into memory does not fail");
    Ok(out.into_inner())
}

/// Where the plain QR fallback of a colour image goes: `OUT.png` →
/// `OUT.plain.png`.
pub fn fallback_path(colour: &Path) -> std::path::PathBuf {
    let stem = colour
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    colour.with_file_name(format!("{stem}.plain.png"))
}

/// The code drawn with half-block characters, two modules per character
/// cell. Drawn for a dark-background terminal: dark modules are left blank
/// and light modules are blocks, so the code reads dark-on-light as printed.
pub fn terminal(code: &QrCode) -> String {
    code.render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_picks_the_format() {
        assert_eq!(
            ImageKind::from_path(Path::new("a/b.png")).unwrap(),
            ImageKind::Png
        );
        assert_eq!(
            ImageKind::from_path(Path::new("b.SVG")).unwrap(),
            ImageKind::Svg
        );
        for bad in ["b.jpg", "b", "png", "b.png.txt"] {
            let err = ImageKind::from_path(Path::new(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(".png or .svg"), "{err}");
        }
    }

    #[test]
    fn images_have_their_format_and_a_quiet_zone() {
        let code = qr_code("<QRCode><SN>TSR0000001</SN></QRCode>").unwrap();
        let png = encode(&code, ImageKind::Png);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let side = (code.width() as u32 + 8) * PNG_MODULE_PIXELS;
        assert_eq!((img.width(), img.height()), (side, side));
        assert_eq!(img.get_pixel(0, 0).0, [255], "quiet zone is light");
        let svg = String::from_utf8(encode(&code, ImageKind::Svg)).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        let text = terminal(&code);
        assert!(text.contains('\u{2588}'));
        assert_eq!(text.lines().count(), (code.width() + 8).div_ceil(2));
    }

    /// The terminal drawing, read back as light/dark modules, is a QR code
    /// a scanner decodes (on a dark background, blocks are light).
    #[test]
    fn the_terminal_drawing_decodes() {
        let text = "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC></QRCode>";
        let drawing = terminal(&qr_code(text).unwrap());
        const SCALE: usize = 4;
        let mut rows: Vec<Vec<bool>> = Vec::new(); // true = light
        for line in drawing.lines() {
            let (top, bottom): (Vec<bool>, Vec<bool>) = line
                .chars()
                .map(|c| match c {
                    ' ' => (false, false),
                    '\u{2580}' => (true, false),
                    '\u{2584}' => (false, true),
                    '\u{2588}' => (true, true),
                    other => panic!("unexpected {other:?}"),
                })
                .unzip();
            rows.push(top);
            rows.push(bottom);
        }
        let (w, h) = (rows[0].len() * SCALE, rows.len() * SCALE);
        let luma: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| if rows[y / SCALE][x / SCALE] { 255 } else { 0 })
            .collect();
        let decoded = rxing::helpers::detect_in_luma(
            luma,
            w as u32,
            h as u32,
            Some(rxing::BarcodeFormat::QR_CODE),
        )
        .unwrap();
        assert_eq!(decoded.getText(), text);
    }

    #[test]
    fn colour_images_read_back_and_have_a_fallback_name() {
        let text = "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC></QRCode>";
        let png = colour_png(text).unwrap();
        assert_eq!(tessera_scan::decode(&png).unwrap(), vec![text.to_owned()]);
        assert_eq!(
            fallback_path(Path::new("out/act.png")),
            Path::new("out/act.plain.png")
        );
    }

    #[test]
    fn error_correction_is_m() {
        assert_eq!(qr_code("x").unwrap().error_correction_level(), EcLevel::M);
    }
}
