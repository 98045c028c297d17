//! The decoder passes the cascade is built from, and the ones measured and
//! left out (kept so the benchmark can show why).

use std::panic::{AssertUnwindSafe, catch_unwind};

use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::multi::MultipleBarcodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source, LuminanceSource, Reader,
};

use crate::Luma;

/// One way of looking for QR codes in a grey-scale image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pass {
    /// rxing's zxing-cpp QR reader, every code in the image, hybrid
    /// binarizer, try-harder.
    Rxing,
    /// rxing's ZXing (Java port) QR reader, one code, hybrid binarizer, try-harder.
    RxingZxing,
    /// rxing's zxing-cpp reader after a global-histogram binarizer.
    RxingGlobal,
    /// rxing's zxing-cpp reader on the image with dark and light swapped.
    RxingInverted,
    /// rxing's zxing-cpp reader on the image scaled to half (2×2 averages).
    RxingHalf,
    /// rxing's zxing-cpp reader on the image scaled to double (nearest).
    RxingDouble,
    /// rxing's zxing-cpp reader after a 3×3 box blur (smooths textured modules).
    RxingBlur,
    /// rxing's zxing-cpp reader on the image thresholded at Otsu's level.
    RxingOtsu,
    /// rqrr (caught when it panics, rqrr#54).
    Rqrr,
}

/// What [`crate::CASCADE`] runs: each pass after the first adds exact
/// decodes on the benchmark.
///
/// `rxing-half` decodes zxing-qrcode-2/12.png (a code printed over a photo),
/// which full-size rxing misses; `rxing-global` adds that same image only, at
/// a higher cost. Nothing measured adds zxing-qrcode-2/13.png.
pub(crate) const SHIPPED: &[Pass] = &[Pass::Rxing, Pass::RxingHalf];

impl Pass {
    /// Every pass, for the benchmark.
    pub const ALL: &'static [Pass] = &[
        Pass::Rxing,
        Pass::RxingZxing,
        Pass::RxingGlobal,
        Pass::RxingInverted,
        Pass::RxingHalf,
        Pass::RxingDouble,
        Pass::RxingBlur,
        Pass::RxingOtsu,
        Pass::Rqrr,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Rxing => "rxing",
            Pass::RxingZxing => "rxing-zxing",
            Pass::RxingGlobal => "rxing-global",
            Pass::RxingInverted => "rxing-inverted",
            Pass::RxingHalf => "rxing-half",
            Pass::RxingDouble => "rxing-double",
            Pass::RxingBlur => "rxing-blur",
            Pass::RxingOtsu => "rxing-otsu",
            Pass::Rqrr => "rqrr",
        }
    }
}

/// Runs one pass: the texts it found, in the order found (empty when none).
/// A panic in a decoder counts as "nothing found".
pub fn run_pass(pass: Pass, luma: &Luma) -> Vec<String> {
    try_pass(pass, luma).unwrap_or_default()
}

/// A decoder panicked (caught; the benchmark counts these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

/// Runs one pass, telling a decoder panic apart from "nothing found".
pub fn try_pass(pass: Pass, luma: &Luma) -> Result<Vec<String>, Panicked> {
    catch_unwind(AssertUnwindSafe(|| match pass {
        Pass::Rxing => rxing_cpp(&luma.pixels, luma.width, luma.height, Bin::Hybrid, false),
        Pass::RxingZxing => rxing_zxing(luma),
        Pass::RxingGlobal => rxing_cpp(&luma.pixels, luma.width, luma.height, Bin::Global, false),
        Pass::RxingInverted => rxing_cpp(&luma.pixels, luma.width, luma.height, Bin::Hybrid, true),
        Pass::RxingHalf => {
            let half = half(luma);
            rxing_cpp(&half.pixels, half.width, half.height, Bin::Hybrid, false)
        }
        Pass::RxingDouble => {
            let double = double(luma);
            rxing_cpp(
                &double.pixels,
                double.width,
                double.height,
                Bin::Hybrid,
                false,
            )
        }
        Pass::RxingBlur => {
            let blurred = blur(luma);
            rxing_cpp(
                &blurred.pixels,
                blurred.width,
                blurred.height,
                Bin::Hybrid,
                false,
            )
        }
        Pass::RxingOtsu => {
            let binary = otsu(luma);
            rxing_cpp(
                &binary.pixels,
                binary.width,
                binary.height,
                Bin::Hybrid,
                false,
            )
        }
        Pass::Rqrr => rqrr(luma),
    }))
    .map_err(|_| Panicked)
}

#[derive(Clone, Copy)]
enum Bin {
    Hybrid,
    Global,
}

fn hints() -> DecodeHints {
    DecodeHints::default()
        .with(rxing::DecodeHintValue::TryHarder(true))
        .with(rxing::DecodeHintValue::PossibleFormats(
            [BarcodeFormat::QR_CODE].into_iter().collect(),
        ))
}

fn rxing_cpp(pixels: &[u8], width: u32, height: u32, bin: Bin, inverted: bool) -> Vec<String> {
    let Ok(mut source) = Luma8Source::new_with_slice(pixels, width, height) else {
        return Vec::new();
    };
    if inverted {
        source.invert();
    }
    let hints = hints();
    let found = match bin {
        Bin::Hybrid => multi(&mut BinaryBitmap::new(HybridBinarizer::new(source)), &hints),
        Bin::Global => multi(
            &mut BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
            &hints,
        ),
    };
    found.unwrap_or_default()
}

fn multi<B: Binarizer>(image: &mut BinaryBitmap<B>, hints: &DecodeHints) -> Option<Vec<String>> {
    QrReader
        .decode_multiple_with_hints(image, hints)
        .ok()
        .map(|found| found.iter().map(|r| r.getText().to_owned()).collect())
}

fn rxing_zxing(luma: &Luma) -> Vec<String> {
    let Ok(source) = Luma8Source::new_with_slice(&luma.pixels, luma.width, luma.height) else {
        return Vec::new();
    };
    let mut image = BinaryBitmap::new(HybridBinarizer::new(source));
    rxing::qrcode::QRCodeReader
        .decode_with_hints(&mut image, &hints())
        .map(|r| vec![r.getText().to_owned()])
        .unwrap_or_default()
}

fn rqrr(luma: &Luma) -> Vec<String> {
    let width = luma.width as usize;
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, luma.height as usize, |x, y| {
            luma.pixels[y * width + x]
        });
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

/// The image at half size, each pixel the mean of a 2×2 block.
fn half(luma: &Luma) -> Luma {
    let (w, h) = ((luma.width / 2).max(1), (luma.height / 2).max(1));
    if luma.width < 2 || luma.height < 2 {
        return luma.clone();
    }
    let src_w = luma.width as usize;
    let mut pixels = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h as usize {
        let (r0, r1) = (2 * y * src_w, (2 * y + 1) * src_w);
        for x in 0..w as usize {
            let sum = u16::from(luma.pixels[r0 + 2 * x])
                + u16::from(luma.pixels[r0 + 2 * x + 1])
                + u16::from(luma.pixels[r1 + 2 * x])
                + u16::from(luma.pixels[r1 + 2 * x + 1]);
            pixels.push((sum / 4) as u8);
        }
    }
    Luma {
        pixels,
        width: w,
        height: h,
    }
}

/// The image at double size (nearest neighbour), for small images only.
fn double(luma: &Luma) -> Luma {
    if u64::from(luma.width) * u64::from(luma.height) > 1_000_000 {
        return luma.clone();
    }
    let (w, h) = (luma.width * 2, luma.height * 2);
    let src_w = luma.width as usize;
    let mut pixels = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h as usize {
        let row = &luma.pixels[(y / 2) * src_w..(y / 2 + 1) * src_w];
        for &p in row {
            pixels.push(p);
            pixels.push(p);
        }
    }
    Luma {
        pixels,
        width: w,
        height: h,
    }
}

/// The image after a 3×3 box blur (edges clamped).
fn blur(luma: &Luma) -> Luma {
    let (w, h) = (luma.width as usize, luma.height as usize);
    let mut pixels = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0u32;
            for dy in [-1isize, 0, 1] {
                for dx in [-1isize, 0, 1] {
                    let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                    let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                    sum += u32::from(luma.pixels[yy * w + xx]);
                }
            }
            pixels[y * w + x] = (sum / 9) as u8;
        }
    }
    Luma {
        pixels,
        width: luma.width,
        height: luma.height,
    }
}

/// The image in black and white, split at Otsu's threshold.
fn otsu(luma: &Luma) -> Luma {
    let mut histogram = [0u64; 256];
    for &p in &luma.pixels {
        histogram[usize::from(p)] += 1;
    }
    let total = luma.pixels.len() as f64;
    let sum_all: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, &n)| i as f64 * n as f64)
        .sum();
    let (mut weight_b, mut sum_b, mut best, mut threshold) = (0.0, 0.0, 0.0, 0u8);
    for (i, &n) in histogram.iter().enumerate() {
        weight_b += n as f64;
        if weight_b == 0.0 {
            continue;
        }
        let weight_f = total - weight_b;
        if weight_f == 0.0 {
            break;
        }
        sum_b += i as f64 * n as f64;
        let (mean_b, mean_f) = (sum_b / weight_b, (sum_all - sum_b) / weight_f);
        let between = weight_b * weight_f * (mean_b - mean_f) * (mean_b - mean_f);
        if between > best {
            best = between;
            threshold = i as u8;
        }
    }
    Luma {
        pixels: luma
            .pixels
            .iter()
            .map(|&p| if p > threshold { 255 } else { 0 })
            .collect(),
        width: luma.width,
        height: luma.height,
    }
}
