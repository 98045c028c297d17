//! Reading a Tessera colour code (`docs/colour-code.md`) from a colour
//! picture: find the finder patterns, measure black and white on them,
//! calibrate the palette on the code's own pixels, split the picture into
//! its three layers by nearest palette colour, and read each layer with the
//! QR cascade.

use rxing::common::HybridBinarizer;
use rxing::qrcode::detector::{FinderPattern, FinderPatternFinder};
use rxing::{BinaryBitmap, DecodeHints, Luma8Source, Point};
use tessera_colour::layers::{self, Layer, LayerError};
use tessera_colour::palette::{Palette, WhiteBalance};
use tessera_colour::{LAYERS, Rgb};

use crate::{Luma, Pass, run_pass};

/// How pixels become layers: the shipped way, and the per-channel threshold
/// it is measured against (`cargo bench -p tessera-scan --bench colourbench`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Nearest centre of the palette calibrated on the picture.
    Calibrated,
    /// Each channel alone, white-balanced, split at its middle.
    Thresholds,
}

/// Most calibration samples taken from one picture.
const MAX_SAMPLES: usize = 60_000;

/// What stopped a colour read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColourFailure {
    /// No layer of a colour code was seen.
    NoCode,
    /// Layers were seen but do not make a payload.
    Layers(LayerError),
}

/// Whether the picture has enough colour to hold a colour code: at least
/// 1 % of (up to 20,000 evenly spread) pixels with channels 64 or more
/// apart. A grey picture, or a camera's grey frame, is not read in colour
/// (a colour read costs several QR reads); a colour code has colour in
/// most of its modules.
pub fn has_colour(rgb: &Rgb) -> bool {
    let pixels = rgb.data.len() / 3;
    if pixels == 0 {
        return false;
    }
    let step = (pixels / 20_000).max(1);
    let (mut seen, mut coloured) = (0usize, 0usize);
    for p in rgb.data.chunks_exact(3).step_by(step) {
        seen += 1;
        let (lo, hi) = (p[0].min(p[1]).min(p[2]), p[0].max(p[1]).max(p[2]));
        if hi - lo >= 64 {
            coloured += 1;
        }
    }
    coloured * 100 >= seen
}

/// The payload of the colour code in `rgb`.
pub fn decode(rgb: &Rgb) -> Result<String, ColourFailure> {
    decode_with(rgb, Method::Calibrated)
}

/// The payload of the colour code in `rgb`, splitting layers by `method`.
pub fn decode_with(rgb: &Rgb, method: Method) -> Result<String, ColourFailure> {
    if rgb.width == 0 || rgb.height == 0 {
        return Err(ColourFailure::NoCode);
    }
    let finders = find_finders(rgb);
    let mut balances = Vec::with_capacity(2);
    if let Some(f) = &finders
        && let Some(wb) = balance_from_finders(rgb, f)
    {
        balances.push(wb);
    }
    if let Some(wb) = WhiteBalance::from_percentiles(&samples(rgb, None)) {
        balances.push(wb);
    }
    let mut failure = ColourFailure::NoCode;
    for wb in balances {
        match read_layers(rgb, &wb, finders.as_ref(), method) {
            Ok(payload) => return Ok(payload),
            Err(ColourFailure::Layers(e)) => failure = ColourFailure::Layers(e),
            Err(ColourFailure::NoCode) => {}
        }
    }
    Err(failure)
}

fn read_layers(
    rgb: &Rgb,
    wb: &WhiteBalance,
    finders: Option<&Finders>,
    method: Method,
) -> Result<String, ColourFailure> {
    let palette = match method {
        Method::Calibrated => {
            let normalised: Vec<[f32; 3]> = samples(rgb, finders)
                .into_iter()
                .map(|p| wb.normalise(p))
                .collect();
            Some(Palette::calibrated(&normalised))
        }
        Method::Thresholds => None,
    };
    let pixels = rgb.width as usize * rgb.height as usize;
    let mut planes: [Vec<u8>; LAYERS] = std::array::from_fn(|_| Vec::with_capacity(pixels));
    for p in rgb.data.chunks_exact(3) {
        let n = wb.normalise([p[0], p[1], p[2]]);
        for (i, plane) in planes.iter_mut().enumerate() {
            let light = match &palette {
                Some(palette) => palette.lightness(n, i),
                None => n[i],
            };
            plane.push((light * 255.0).round() as u8);
        }
    }
    let mut found: Vec<Layer> = Vec::new();
    let mut refusal = None;
    for plane in planes {
        let luma = Luma {
            pixels: plane,
            width: rgb.width,
            height: rgb.height,
        };
        for pass in [Pass::Rxing, Pass::RxingHalf] {
            let texts = run_pass(pass, &luma);
            let mut any = false;
            for text in texts.iter().filter(|t| layers::is_layer(t)) {
                match layers::parse(text) {
                    Ok(layer) => {
                        any = true;
                        found.push(layer);
                    }
                    Err(e) => refusal = Some(e),
                }
            }
            if any {
                break;
            }
        }
    }
    if found.is_empty() {
        return Err(refusal.map_or(ColourFailure::NoCode, ColourFailure::Layers));
    }
    layers::join(&found).map_err(ColourFailure::Layers)
}

/// The three finder patterns' centres and module size.
struct Finders {
    top_left: (f32, f32),
    top_right: (f32, f32),
    bottom_left: (f32, f32),
    module: f32,
}

/// The finder patterns, looked for in the picture's darkest channel: black
/// and white there as in every channel, while every colour but white is dark.
fn find_finders(rgb: &Rgb) -> Option<Finders> {
    let darkest: Vec<u8> = rgb
        .data
        .chunks_exact(3)
        .map(|p| p[0].min(p[1]).min(p[2]))
        .collect();
    let source = Luma8Source::new_with_slice(&darkest, rgb.width, rgb.height).ok()?;
    let bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let matrix = bitmap.get_black_matrix();
    let hints = DecodeHints::default().with(rxing::DecodeHintValue::TryHarder(true));
    let info = FinderPatternFinder::new(matrix).find(&hints).ok()?;
    let point = |p: &FinderPattern| {
        let p = Point::from(p);
        (p.x, p.y)
    };
    let module = (info.getTopLeft().getEstimatedModuleSize()
        + info.getTopRight().getEstimatedModuleSize()
        + info.getBottomLeft().getEstimatedModuleSize())
        / 3.0;
    Some(Finders {
        top_left: point(info.getTopLeft()),
        top_right: point(info.getTopRight()),
        bottom_left: point(info.getBottomLeft()),
        module,
    })
}

/// Black from each finder's core and outer ring, white from its inner ring,
/// along the code's own axes (so a turned picture is measured right).
fn balance_from_finders(rgb: &Rgb, f: &Finders) -> Option<WhiteBalance> {
    let unit = |from: (f32, f32), to: (f32, f32)| {
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        (dx / len, dy / len)
    };
    let across = unit(f.top_left, f.top_right);
    let down = unit(f.top_left, f.bottom_left);
    let m = f.module;
    let (mut black, mut white) = (Vec::new(), Vec::new());
    for centre in [f.top_left, f.top_right, f.bottom_left] {
        let at = |a: f32, d: f32| {
            (
                centre.0 + m * (a * across.0 + d * down.0),
                centre.1 + m * (a * across.1 + d * down.1),
            )
        };
        black.extend(around(rgb, at(0.0, 0.0), m));
        for (a, d) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
            white.extend(around(rgb, at(2.0 * a, 2.0 * d), m));
            black.extend(around(rgb, at(3.0 * a, 3.0 * d), m));
        }
    }
    WhiteBalance::from_samples(&black, &white)
}

/// The pixels within a quarter module of a point (the point alone for
/// small modules).
fn around(rgb: &Rgb, (x, y): (f32, f32), module: f32) -> Vec<[u8; 3]> {
    let r = (module / 4.0).floor() as i64;
    let mut out = Vec::new();
    for dy in -r..=r {
        for dx in -r..=r {
            let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
            if (0..i64::from(rgb.width)).contains(&px) && (0..i64::from(rgb.height)).contains(&py) {
                out.push(rgb.pixel(px as u32, py as u32));
            }
        }
    }
    out
}

/// Pixels for calibration: from the code's area when the finders are known
/// (their bounding box, widened by the 3.5 modules from a finder's centre
/// to the code's edge), else from the whole picture; evenly spread, at
/// most [`MAX_SAMPLES`].
fn samples(rgb: &Rgb, finders: Option<&Finders>) -> Vec<[u8; 3]> {
    let (mut x0, mut y0, mut x1, mut y1) = (0f32, 0f32, rgb.width as f32, rgb.height as f32);
    if let Some(f) = finders {
        let br = (
            f.top_right.0 + f.bottom_left.0 - f.top_left.0,
            f.top_right.1 + f.bottom_left.1 - f.top_left.1,
        );
        let xs = [f.top_left.0, f.top_right.0, f.bottom_left.0, br.0];
        let ys = [f.top_left.1, f.top_right.1, f.bottom_left.1, br.1];
        let pad = 3.5 * f.module;
        x0 = (xs.iter().copied().fold(f32::INFINITY, f32::min) - pad).max(0.0);
        y0 = (ys.iter().copied().fold(f32::INFINITY, f32::min) - pad).max(0.0);
        x1 = (xs.iter().copied().fold(0.0, f32::max) + pad).min(rgb.width as f32);
        y1 = (ys.iter().copied().fold(0.0, f32::max) + pad).min(rgb.height as f32);
    }
    let (w, h) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
    let step = ((w * h / MAX_SAMPLES as f32).sqrt()).max(1.0);
    let mut out = Vec::new();
    let mut y = y0;
    while y < y1 {
        let mut x = x0;
        while x < x1 {
            out.push(rgb.pixel(x as u32, y as u32));
            x += step;
        }
        y += step;
    }
    out
}
