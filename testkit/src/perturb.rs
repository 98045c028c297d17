//! What a webcam, a printer or a photo of a screen does to a picture, for
//! the colour code's tests and benchmark (`tessera-scan`).
//!
//! Hand-written on purpose: `imageproc` has a perspective warp and noise but
//! brings `nalgebra` and `rayon` to every test build; these are a few dozen
//! lines of test-only arithmetic on RGB bytes. Noise comes from a seeded
//! generator, so every run sees the same pictures.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};

/// One perturbation, with its strength.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perturbation {
    /// Saved and read back as JPEG at this quality (1–100).
    Jpeg(u8),
    /// Gaussian blur of this sigma, in pixels.
    Blur(f32),
    /// Gaussian noise of this standard deviation, per channel, in 8-bit steps.
    Noise(f32),
    /// Display gamma: each channel raised to this power.
    Gamma(f32),
    /// White balance off: per-channel gains (a warm or cold light).
    WhiteBalance([f32; 3]),
    /// Colour crosstalk: each channel takes this share of its neighbours.
    Crosstalk(f32),
    /// A perspective view: the far edge this much narrower (0.0–0.5).
    Perspective(f32),
    /// A photo of a screen: bright and dark bands of this contrast (0–1)
    /// across the subpixel grid, then resampled to 70 %.
    Moire(f32),
    /// Scaled to this fraction (a webcam's resolution).
    Scale(f32),
    /// Printed in cyan, magenta and yellow ink and photographed: each ink
    /// also absorbs some light of the other channels (real inks' unwanted
    /// absorptions, scaled by this strength, 0–1).
    Print(f32),
}

impl Perturbation {
    /// A name for tables.
    pub fn name(&self) -> String {
        match self {
            Self::Jpeg(q) => format!("JPEG quality {q}"),
            Self::Blur(s) => format!("blur σ {s} px"),
            Self::Noise(s) => format!("noise σ {s}"),
            Self::Gamma(g) => format!("gamma {g}"),
            Self::WhiteBalance([r, g, b]) => format!("white balance ×({r}, {g}, {b})"),
            Self::Crosstalk(c) => format!("crosstalk {:.0} %", c * 100.0),
            Self::Perspective(p) => format!("perspective {:.0} %", p * 100.0),
            Self::Moire(m) => format!("moiré {:.0} %", m * 100.0),
            Self::Scale(s) => format!("scaled to {:.0} %", s * 100.0),
            Self::Print(k) => format!("CMY print, unwanted absorption ×{k}"),
        }
    }

    /// The perturbed picture; `seed` picks the noise.
    pub fn apply(&self, img: &RgbImage, seed: u64) -> RgbImage {
        match *self {
            Self::Jpeg(quality) => jpeg(img, quality),
            Self::Blur(sigma) => image::imageops::blur(img, sigma),
            Self::Noise(sigma) => noise(img, sigma, seed),
            Self::Gamma(g) => map(img, |c, v| {
                let _ = c;
                (v / 255.0).powf(g) * 255.0
            }),
            Self::WhiteBalance(gains) => map(img, |c, v| v * gains[c]),
            Self::Crosstalk(share) => crosstalk(img, share),
            Self::Perspective(narrow) => perspective(img, narrow),
            Self::Moire(contrast) => moire(img, contrast),
            Self::Scale(f) => {
                let (w, h) = img.dimensions();
                let (nw, nh) = (((w as f32) * f) as u32, ((h as f32) * f) as u32);
                image::imageops::resize(img, nw.max(1), nh.max(1), image::imageops::Triangle)
            }
            Self::Print(k) => print(img, k),
        }
    }
}

/// A picture as PNG bytes.
pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    image::load_from_memory(&out).unwrap().into_rgb8()
}

fn map(img: &RgbImage, f: impl Fn(usize, f32) -> f32) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in 0..3 {
            p.0[c] = f(c, f32::from(p.0[c])).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// xorshift64*: a seeded source for noise, no dependency.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((v >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    /// A standard normal sample (Box–Muller).
    fn normal(&mut self) -> f32 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

fn noise(img: &RgbImage, sigma: f32, seed: u64) -> RgbImage {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in 0..3 {
            p.0[c] = (f32::from(p.0[c]) + sigma * rng.normal()).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn crosstalk(img: &RgbImage, share: f32) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let v = p.0.map(f32::from);
        for c in 0..3 {
            let (a, b) = (v[(c + 1) % 3], v[(c + 2) % 3]);
            p.0[c] =
                ((1.0 - share) * v[c] + share * 0.6 * a + share * 0.4 * b).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Bilinear sample at (x, y); white outside the picture.
fn sample(img: &RgbImage, x: f32, y: f32) -> [u8; 3] {
    let (w, h) = img.dimensions();
    if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
        return [255, 255, 255];
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |x, y, c: usize| f32::from(img.get_pixel(x, y).0[c]);
    std::array::from_fn(|c| {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
        let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
        (top * (1.0 - fy) + bottom * fy) as u8
    })
}

/// The picture seen from below and a little to the side: rows shrink
/// towards the top, the far edge `narrow` narrower, on a white ground.
fn perspective(img: &RgbImage, narrow: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut out = RgbImage::new(w, h);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let t = 1.0 - y as f32 / h as f32; // 1 at the top, 0 at the bottom
        let scale = 1.0 - narrow * t;
        let shift = 0.15 * narrow * t * w as f32;
        let cx = w as f32 / 2.0 + shift;
        let sx = (x as f32 - cx) / scale + w as f32 / 2.0;
        // Rows bunch up towards the far edge.
        let sy = h as f32 * (1.0 - (1.0 - y as f32 / h as f32).powf(1.0 + narrow));
        p.0 = sample(img, sx, sy);
    }
    out
}

/// Subtractive mixing of three inks whose coverage is 1 − the channel:
/// cyan takes red and some green and blue, magenta green and a lot of
/// blue, yellow blue and a little green (after typical process inks).
fn print(img: &RgbImage, k: f32) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let [c, m, y] = p.0.map(|v| 1.0 - f32::from(v) / 255.0);
        let r = (1.0 - c) * (1.0 - 0.10 * k * m) * (1.0 - 0.02 * k * y);
        let g = (1.0 - 0.35 * k * c) * (1.0 - m) * (1.0 - 0.10 * k * y);
        let b = (1.0 - 0.15 * k * c) * (1.0 - 0.55 * k * m) * (1.0 - y);
        p.0 = [r, g, b].map(|v| (v * 255.0).clamp(0.0, 255.0) as u8);
    }
    out
}

fn moire(img: &RgbImage, contrast: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut banded = img.clone();
    let period = 7.3f32;
    let angle = 0.21f32;
    for (x, y, p) in banded.enumerate_pixels_mut() {
        let phase = (x as f32 * angle.cos() + y as f32 * angle.sin()) / period;
        for c in 0..3 {
            // Each subpixel column lit a third of a period apart.
            let band = 0.5 + 0.5 * (std::f32::consts::TAU * (phase + c as f32 / 3.0)).sin();
            p.0[c] = (f32::from(p.0[c]) * (1.0 - contrast * band)).clamp(0.0, 255.0) as u8;
        }
    }
    let (nw, nh) = ((w as f32 * 0.7) as u32, (h as f32 * 0.7) as u32);
    image::imageops::resize(&banded, nw.max(1), nh.max(1), image::imageops::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_perturbation_changes_the_picture_and_noise_is_repeatable() {
        let mut img = RgbImage::from_pixel(64, 64, image::Rgb([255, 0, 0u8]));
        for y in 0..32 {
            for x in 0..64 {
                img.put_pixel(x, y, image::Rgb([0, 200, 255]));
            }
        }
        for p in [
            Perturbation::Jpeg(20),
            Perturbation::Blur(1.5),
            Perturbation::Noise(20.0),
            Perturbation::Gamma(2.2),
            Perturbation::WhiteBalance([1.0, 0.8, 0.6]),
            Perturbation::Crosstalk(0.2),
            Perturbation::Perspective(0.2),
            Perturbation::Moire(0.3),
            Perturbation::Scale(0.5),
            Perturbation::Print(1.0),
        ] {
            assert_ne!(p.apply(&img, 1), img, "{}", p.name());
        }
        let n = Perturbation::Noise(10.0);
        assert_eq!(n.apply(&img, 7), n.apply(&img, 7));
        assert_ne!(n.apply(&img, 7), n.apply(&img, 8));
    }
}
