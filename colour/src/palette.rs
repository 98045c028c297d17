//! The eight colours and their calibration from a picture.
//!
//! A picture's colours are not the palette's: a camera's white balance, a
//! screen's gamma, ink on paper and the sensor's crosstalk move them. The
//! reader measures black and white on the finder patterns (black and white in
//! every layer by construction), maps the picture onto that range, and then
//! classifies each pixel to the nearest of eight centres that start at the
//! palette's corners and follow the picture's own colour clusters (a few
//! rounds of k-means on samples from the code). Per-channel thresholds would
//! read every channel alone; the nearest centre reads all three at once, so a
//! colour pulled towards a neighbour by crosstalk still lands in its class.

/// The screen colours (RGB) of the palette indices: bit `i` set means layer
/// `i` is dark there, so channel `i` is off. In print the same image is inks:
/// cyan where layer 0 is dark, magenta for layer 1, yellow for layer 2.
pub const SCREEN: [[u8; 3]; 8] = [
    [255, 255, 255], // 0 white
    [0, 255, 255],   // 1 cyan (layer 0 dark)
    [255, 0, 255],   // 2 magenta (layer 1 dark)
    [0, 0, 255],     // 3 blue
    [255, 255, 0],   // 4 yellow (layer 2 dark)
    [0, 255, 0],     // 5 green
    [255, 0, 0],     // 6 red
    [0, 0, 0],       // 7 black
];

/// Rounds of centre refinement.
const ROUNDS: usize = 4;

/// Black and white as measured in the picture, per channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhiteBalance {
    pub black: [f32; 3],
    pub white: [f32; 3],
}

impl WhiteBalance {
    /// From samples known black and samples known white. `None` when they
    /// do not differ enough in some channel to tell the layers apart.
    pub fn from_samples(black: &[[u8; 3]], white: &[[u8; 3]]) -> Option<Self> {
        let mean = |s: &[[u8; 3]]| -> Option<[f32; 3]> {
            if s.is_empty() {
                return None;
            }
            let mut m = [0f32; 3];
            for p in s {
                for c in 0..3 {
                    m[c] += f32::from(p[c]);
                }
            }
            Some(m.map(|v| v / s.len() as f32))
        };
        let wb = Self {
            black: mean(black)?,
            white: mean(white)?,
        };
        wb.usable().then_some(wb)
    }

    /// From the picture's own range (2nd and 98th percentiles per channel),
    /// when no finder pattern was found.
    pub fn from_percentiles(samples: &[[u8; 3]]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut black = [0f32; 3];
        let mut white = [0f32; 3];
        for c in 0..3 {
            let mut histogram = [0usize; 256];
            for p in samples {
                histogram[usize::from(p[c])] += 1;
            }
            let at = |fraction: f64| {
                let target = (samples.len() as f64 * fraction) as usize;
                let mut seen = 0;
                for (v, &n) in histogram.iter().enumerate() {
                    seen += n;
                    if seen > target {
                        return v as f32;
                    }
                }
                255.0
            };
            black[c] = at(0.02);
            white[c] = at(0.98);
        }
        let wb = Self { black, white };
        wb.usable().then_some(wb)
    }

    fn usable(&self) -> bool {
        (0..3).all(|c| self.white[c] - self.black[c] >= 24.0)
    }

    /// A picture's pixel on the palette's scale (0 black, 1 white), clamped.
    pub fn normalise(&self, p: [u8; 3]) -> [f32; 3] {
        std::array::from_fn(|c| {
            ((f32::from(p[c]) - self.black[c]) / (self.white[c] - self.black[c])).clamp(0.0, 1.0)
        })
    }
}

/// The eight class centres on the normalised scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub centres: [[f32; 3]; 8],
}

/// Bins per channel of the colour histogram calibration looks for peaks in.
const BINS: usize = 16;
/// A peak holds at least this share of the samples.
const MIN_PEAK_SHARE: f32 = 0.003;
/// Two peaks closer than this (normalised units) are one colour.
const MIN_PEAK_DISTANCE: f32 = 0.2;

impl Palette {
    /// The ideal palette on the normalised scale.
    pub fn ideal() -> Self {
        Self {
            centres: std::array::from_fn(|i| SCREEN[i].map(|v| f32::from(v) / 255.0)),
        }
    }

    /// The palette as `samples` (normalised pixels from the code) show it.
    ///
    /// The picture's colours are found as the peaks of its colour histogram
    /// (apart from each other), refined as the means of the samples nearest
    /// to them, and then named: each palette index takes one found colour,
    /// or none, the eight chosen together so that the total distance to the
    /// ideal colours is least; found colours no index takes (the grey of a
    /// blurred edge) are left out. An ink that darkens a
    /// second channel (blue printed as cyan and magenta can come out at a
    /// third of full blue) therefore keeps its own class instead of being
    /// read as black, as the nearest ideal corner alone would read it.
    pub fn calibrated(samples: &[[f32; 3]]) -> Self {
        let mut palette = Self::ideal();
        let found = refine(peaks(samples), samples);
        for (index, k) in name(&found).into_iter().enumerate() {
            if let Some(k) = k {
                palette.centres[index] = found[k];
            }
        }
        palette
    }

    /// How light layer `layer` is at a normalised pixel, 0 (dark) to 1: the
    /// distance to the nearest centre dark in that layer over the sum of it
    /// and the distance to the nearest centre light in it. A pixel on a
    /// module's edge, between two colours, stays in between, so the QR
    /// reader's own binarizer still sees where the edge is.
    pub fn lightness(&self, p: [f32; 3], layer: usize) -> f32 {
        let (mut dark, mut light) = (f32::INFINITY, f32::INFINITY);
        for (k, centre) in self.centres.iter().enumerate() {
            let d = distance2(p, *centre).sqrt();
            if k & (1 << layer) != 0 {
                dark = dark.min(d);
            } else {
                light = light.min(d);
            }
        }
        if dark + light == 0.0 {
            0.5
        } else {
            dark / (dark + light)
        }
    }

    /// The palette index nearest to a normalised pixel.
    pub fn classify(&self, p: [f32; 3]) -> u8 {
        let mut best = (f32::INFINITY, 0u8);
        for (k, centre) in self.centres.iter().enumerate() {
            let d = distance2(p, *centre);
            if d < best.0 {
                best = (d, k as u8);
            }
        }
        best.1
    }
}

fn distance2(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum()
}

/// The colours the samples gather at: local maxima of a 16³ histogram,
/// largest first, each at least [`MIN_PEAK_DISTANCE`] from a larger one, at
/// most [`MAX_PEAKS`].
fn peaks(samples: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let bin = |v: f32| ((v * BINS as f32) as usize).min(BINS - 1);
    let at = |r: usize, g: usize, b: usize| (r * BINS + g) * BINS + b;
    let mut counts = vec![0u32; BINS * BINS * BINS];
    for s in samples {
        counts[at(bin(s[0]), bin(s[1]), bin(s[2]))] += 1;
    }
    let least = ((samples.len() as f32 * MIN_PEAK_SHARE) as u32).max(1);
    let mut candidates = Vec::new();
    for r in 0..BINS {
        for g in 0..BINS {
            for b in 0..BINS {
                let n = counts[at(r, g, b)];
                if n < least {
                    continue;
                }
                let mut highest = true;
                'around: for dr in -1i32..=1 {
                    for dg in -1i32..=1 {
                        for db in -1i32..=1 {
                            let (rr, gg, bb) = (r as i32 + dr, g as i32 + dg, b as i32 + db);
                            let inside = |v: i32| (0..BINS as i32).contains(&v);
                            if (dr, dg, db) == (0, 0, 0)
                                || !inside(rr)
                                || !inside(gg)
                                || !inside(bb)
                            {
                                continue;
                            }
                            let m = counts[at(rr as usize, gg as usize, bb as usize)];
                            // Ties go to the first bin in scan order.
                            let earlier = (dr, dg, db) < (0, 0, 0);
                            if m > n || (m == n && earlier) {
                                highest = false;
                                break 'around;
                            }
                        }
                    }
                }
                if highest {
                    let centre = |i: usize| (i as f32 + 0.5) / BINS as f32;
                    candidates.push((n, [centre(r), centre(g), centre(b)]));
                }
            }
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut out: Vec<[f32; 3]> = Vec::new();
    for (_, c) in candidates {
        if out
            .iter()
            .all(|o| distance2(*o, c) >= MIN_PEAK_DISTANCE.powi(2))
        {
            out.push(c);
            if out.len() == MAX_PEAKS {
                break;
            }
        }
    }
    out
}

/// Each centre moved to the mean of the samples nearest to it (a few
/// rounds); a centre no sample is nearest to stays.
fn refine(mut centres: Vec<[f32; 3]>, samples: &[[f32; 3]]) -> Vec<[f32; 3]> {
    for _ in 0..ROUNDS {
        let mut sums = vec![[0f32; 3]; centres.len()];
        let mut counts = vec![0usize; centres.len()];
        for &s in samples {
            let k = (0..centres.len())
                .min_by(|&a, &b| distance2(s, centres[a]).total_cmp(&distance2(s, centres[b])))
                .unwrap_or(0);
            counts[k] += 1;
            for c in 0..3 {
                sums[k][c] += s[c];
            }
        }
        for (k, centre) in centres.iter_mut().enumerate() {
            if counts[k] > 0 {
                *centre = sums[k].map(|v| v / counts[k] as f32);
            }
        }
    }
    centres
}

/// Most histogram peaks considered: the eight colours and a few edge
/// mixtures (a blurred border between black and white peaks in grey).
const MAX_PEAKS: usize = 12;
/// The cost of leaving a palette index without a found colour (its ideal
/// colour is kept): a distance of 0.71 on the normalised scale.
const UNNAMED_COST: f32 = 0.5;

/// The found colour each palette index takes (or none), so that the total
/// squared distance to the ideal colours is least: an assignment over the
/// subsets of found colours already used (at most 2^12 × 8 states). A
/// colour no index takes (an edge mixture) is left out.
fn name(found: &[[f32; 3]]) -> [Option<usize>; 8] {
    let ideal = Palette::ideal().centres;
    let n = found.len().min(MAX_PEAKS);
    let states = 1usize << n;
    // best[i][used]: least cost of naming indices i.. with `used` taken.
    let mut best = vec![vec![0f32; states]; 9];
    let mut choice = vec![vec![None; states]; 8];
    for i in (0..8).rev() {
        for used in 0..states {
            let mut b = (UNNAMED_COST + best[i + 1][used], None);
            for (k, colour) in found.iter().enumerate().take(n) {
                if used & (1 << k) == 0 {
                    let cost = distance2(*colour, ideal[i]) + best[i + 1][used | (1 << k)];
                    if cost < b.0 {
                        b = (cost, Some(k));
                    }
                }
            }
            best[i][used] = b.0;
            choice[i][used] = b.1;
        }
    }
    let mut names = [None; 8];
    let mut used = 0usize;
    for (i, name) in names.iter_mut().enumerate() {
        *name = choice[i][used];
        if let Some(k) = *name {
            used |= 1 << k;
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palette_is_the_eight_corners() {
        for (i, colour) in SCREEN.iter().enumerate() {
            for (layer, &value) in colour.iter().enumerate() {
                let dark = i & (1 << layer) != 0;
                assert_eq!(value == 0, dark, "index {i} channel {layer}");
            }
            assert_eq!(
                Palette::ideal().classify(colour.map(|v| f32::from(v) / 255.0)),
                i as u8
            );
        }
    }

    #[test]
    fn white_balance_undoes_a_tint() {
        let wb = WhiteBalance::from_samples(&[[40, 30, 60]], &[[230, 200, 180]]).unwrap();
        let n = wb.normalise([230, 30, 180]);
        assert_eq!(Palette::ideal().classify(n), 2); // magenta
        assert!(WhiteBalance::from_samples(&[[100, 100, 100]], &[[110, 200, 200]]).is_none());
    }

    #[test]
    fn calibration_follows_crosstalk_that_thresholds_misread() {
        // Green leaks into red's pixels: red reads (0.9, 0.55, 0.05). A
        // threshold at 0.5 (the ideal palette's nearest corner) calls it
        // yellow; the calibrated centres, pulled to the picture's clusters,
        // keep red and yellow apart.
        let red = [0.9, 0.55, 0.05];
        let yellow = [1.0, 1.0, 0.0];
        assert_eq!(
            Palette::ideal().classify(red),
            4,
            "the ideal palette misreads it"
        );
        let mut samples = vec![[0.95, 0.45, 0.05]; 50];
        samples.extend(vec![yellow; 50]);
        samples.extend(vec![[1.0, 1.0, 1.0]; 100]);
        samples.extend(vec![[0.0, 0.0, 0.0]; 100]);
        let palette = Palette::calibrated(&samples);
        assert_eq!(palette.classify(red), 6);
        assert_eq!(palette.classify(yellow), 4);
        assert_eq!(palette.classify([0.97, 0.97, 0.97]), 0);
        assert_eq!(palette.classify([0.03, 0.03, 0.03]), 7);
    }

    #[test]
    fn a_dim_blue_is_named_blue_not_black() {
        // Printed blue at 0.38 of full blue is nearer black's corner than
        // blue's; found as its own colour, it is named blue.
        let colours = [
            [1.0, 1.0, 1.0],
            [0.0, 0.65, 0.85],
            [0.9, 0.0, 0.45],
            [0.0, 0.0, 0.38],
            [0.98, 0.9, 0.0],
            [0.0, 0.58, 0.0],
            [0.88, 0.0, 0.0],
            [0.0, 0.0, 0.0],
        ];
        assert_eq!(Palette::ideal().classify(colours[3]), 7);
        let samples: Vec<[f32; 3]> = colours.iter().flat_map(|c| vec![*c; 40]).collect();
        let palette = Palette::calibrated(&samples);
        for (i, c) in colours.iter().enumerate() {
            assert_eq!(usize::from(palette.classify(*c)), i, "{c:?}");
        }
    }

    #[test]
    fn no_samples_leave_the_ideal_palette() {
        assert_eq!(Palette::calibrated(&[]), Palette::ideal());
    }
}
