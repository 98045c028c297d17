//! The QR decoding benchmark (not a test): `cargo bench -p tessera-scan --bench qrbench`.
//!
//! Walks every set under `../shared/testdata/qr/` (another folder with
//! `TESSERA_QR_TESTDATA=…`), decodes each image with the shipped cascade,
//! with rxing alone and with rqrr alone, and with every candidate pass, then
//! times a synthetic 1920×1080 frame holding one code. Prints the report and
//! writes it into the marked part of `docs/benchmarks.md`. `TESSERA_BENCH_REPS` sets the
//! runs per image (default 5).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tessera_scan::{CASCADE, Luma, Pass, decode_luma, load_luma, try_pass};

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "bmp", "webp"];

struct Sample {
    name: String,
    bytes: Vec<u8>,
    expected: String,
}

#[derive(Default)]
struct Tally {
    images: usize,
    exact: usize,
    panics: usize,
    times: Vec<Duration>,
}

impl Tally {
    fn median(&self) -> f64 {
        percentile(&self.times, 0.5)
    }
    fn p95(&self) -> f64 {
        percentile(&self.times, 0.95)
    }
}

fn percentile(times: &[Duration], q: f64) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// Runs `f` `reps` times and returns its last result and the median time.
fn timed<T>(reps: usize, mut f: impl FnMut() -> T) -> (T, Duration) {
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let out = f();
        times.push(start.elapsed());
        last = Some(out);
    }
    times.sort();
    (last.expect("at least one run"), times[times.len() / 2])
}

fn load_set(dir: &Path) -> Vec<Sample> {
    let mut samples = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return samples;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if !IMAGE_EXTENSIONS.contains(&ext.as_str()) {
            continue;
        }
        let Ok(expected) = std::fs::read(path.with_extension("txt")) else {
            continue;
        };
        samples.push(Sample {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            bytes: std::fs::read(&path).expect("read the image"),
            // A trailing newline is part of the answer.
            expected: String::from_utf8_lossy(&expected).into_owned(),
        });
    }
    samples
}

struct Method {
    name: &'static str,
    passes: Vec<Pass>,
}

/// Decodes with `passes` like the cascade, counting a caught panic.
fn run(luma: &Luma, passes: &[Pass]) -> (Vec<String>, bool) {
    let mut panicked = false;
    for &pass in passes {
        match try_pass(pass, luma) {
            Ok(found) if !found.is_empty() => return (found, panicked),
            Ok(_) => {}
            Err(_) => panicked = true,
        }
    }
    (Vec::new(), panicked)
}

fn synthetic_frame() -> (Vec<u8>, String) {
    let text = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let code = qrcode::QrCode::new(text.as_bytes()).expect("encode the code");
    let qr = code
        .render::<image::Luma<u8>>()
        .module_dimensions(6, 6)
        .build();
    let (w, h) = (1920u32, 1080u32);
    // A lit desk: a gradient with sensor noise, the code off-centre.
    let mut seed = 0x2545_f491_u32;
    let mut frame = image::GrayImage::from_fn(w, h, |x, _y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed % 21) as i32 - 10;
        image::Luma([(110 + (x * 80 / w) as i32 + noise).clamp(0, 255) as u8])
    });
    let (ox, oy) = (1100, 380);
    for (x, y, p) in qr.enumerate_pixels() {
        if ox + x < w && oy + y < h {
            let v = if p.0[0] < 128 { 30 } else { 215 };
            frame.put_pixel(ox + x, oy + y, image::Luma([v]));
        }
    }
    let mut png = Vec::new();
    frame
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode the frame");
    (png, text.to_owned())
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = std::env::var_os("TESSERA_QR_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/testdata/qr"));
    let reps: usize = std::env::var("TESSERA_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);

    let mut sets: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();

    let methods = vec![
        Method {
            name: "cascade",
            passes: CASCADE.to_vec(),
        },
        Method {
            name: "rxing alone",
            passes: vec![Pass::Rxing],
        },
        Method {
            name: "rqrr alone",
            passes: vec![Pass::Rqrr],
        },
    ];

    // (set, method) → tally; per pass: decodes alone, and decodes rxing missed.
    let mut tallies: BTreeMap<(String, usize), Tally> = BTreeMap::new();
    let mut loads: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut pass_exact: BTreeMap<Pass, (usize, Vec<String>, Vec<Duration>)> = BTreeMap::new();
    let mut missed_by_cascade = Vec::new();
    let mut total_images = 0;

    for set in &sets {
        let set_name = set.file_name().unwrap().to_string_lossy().into_owned();
        let samples = load_set(set);
        if samples.is_empty() {
            continue;
        }
        for sample in &samples {
            total_images += 1;
            let (luma, load_time) = timed(reps, || load_luma(&sample.bytes));
            loads.entry(set_name.clone()).or_default().push(load_time);
            let Ok(luma) = luma else {
                eprintln!("{set_name}/{}: cannot be loaded", sample.name);
                continue;
            };
            for (m, method) in methods.iter().enumerate() {
                let ((found, panicked), time) = timed(reps, || run(&luma, &method.passes));
                let tally = tallies.entry((set_name.clone(), m)).or_default();
                tally.images += 1;
                tally.times.push(time);
                tally.panics += usize::from(panicked);
                let exact = found.contains(&sample.expected);
                tally.exact += usize::from(exact);
                if m == 0 && !exact {
                    missed_by_cascade.push(format!("{set_name}/{}", sample.name));
                }
            }
            let rxing_exact = try_pass(Pass::Rxing, &luma)
                .unwrap_or_default()
                .contains(&sample.expected);
            for &pass in Pass::ALL {
                let (found, time) = timed(reps, || try_pass(pass, &luma).unwrap_or_default());
                let exact = found.contains(&sample.expected);
                let entry = pass_exact.entry(pass).or_default();
                entry.0 += usize::from(exact);
                if exact && !rxing_exact {
                    entry.1.push(format!("{set_name}/{}", sample.name));
                }
                entry.2.push(time);
            }
        }
    }

    let (frame, frame_text) = synthetic_frame();
    let frame_luma = load_luma(&frame).expect("load the frame");
    let mut frame_rows = Vec::new();
    for method in &methods {
        let ((found, _), _) = timed(1, || run(&frame_luma, &method.passes));
        let decode_times: Vec<Duration> = (0..reps.max(5))
            .map(|_| timed(1, || run(&frame_luma, &method.passes)).1)
            .collect();
        let full_times: Vec<Duration> = (0..reps.max(5))
            .map(|_| {
                timed(1, || {
                    let luma = load_luma(&frame).expect("load the frame");
                    decode_luma(&luma, &method.passes)
                })
                .1
            })
            .collect();
        frame_rows.push((
            method.name,
            found.contains(&frame_text),
            percentile(&decode_times, 0.5),
            percentile(&full_times, 0.5),
        ));
    }

    // The report.
    let mut out = String::new();
    let _ = writeln!(out, "# Scanner benchmark\n");
    let _ = writeln!(
        out,
        "Written by `cargo bench -p tessera-scan --bench qrbench` (release build, \
         thin LTO) from the images under `../shared/testdata/qr/` ({total_images} \
         images: ZXing's blackbox QR sets, Apache-2.0, see its README) and one \
         synthetic frame made by the benchmark itself. A decode is exact when the \
         text equals the image's `.txt` file byte for byte (a trailing newline \
         included). Times are per image: the median of {reps} runs of the \
         decoder on the grey-scale image (file decoding excluded; it is the \
         `load` line), then the median and the 95th percentile over the set's \
         images. Measured on a shared 2-core machine.\n"
    );
    let _ = writeln!(
        out,
        "The cascade shipped (`tessera_scan::CASCADE`): {}.\n",
        CASCADE
            .iter()
            .map(|p| format!("`{}`", p.name()))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let _ = writeln!(
        out,
        "| set | decoder | exact / images | rate | median ms | p95 ms | panics caught |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    let mut totals: Vec<Tally> = methods.iter().map(|_| Tally::default()).collect();
    let set_names: Vec<String> = loads.keys().cloned().collect();
    for set_name in &set_names {
        for (m, method) in methods.iter().enumerate() {
            let Some(t) = tallies.get(&(set_name.clone(), m)) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {set_name} | {} | {} / {} | {:.0}% | {:.2} | {:.2} | {} |",
                method.name,
                t.exact,
                t.images,
                100.0 * t.exact as f64 / t.images as f64,
                t.median(),
                t.p95(),
                t.panics
            );
            totals[m].images += t.images;
            totals[m].exact += t.exact;
            totals[m].panics += t.panics;
            totals[m].times.extend_from_slice(&t.times);
        }
        let load = &loads[set_name];
        let _ = writeln!(
            out,
            "| {set_name} | load (file → grey) | | | {:.2} | {:.2} | |",
            percentile(load, 0.5),
            percentile(load, 0.95)
        );
    }
    for (m, method) in methods.iter().enumerate() {
        let t = &totals[m];
        let _ = writeln!(
            out,
            "| **all** | {} | {} / {} | {:.0}% | {:.2} | {:.2} | {} |",
            method.name,
            t.exact,
            t.images,
            100.0 * t.exact as f64 / t.images.max(1) as f64,
            t.median(),
            t.p95(),
            t.panics
        );
    }

    let _ = writeln!(out, "\n## Candidate passes\n");
    let _ = writeln!(
        out,
        "Each pass alone over all sets, and the exact decodes it adds to rxing \
         alone (a pass joins the cascade only when it adds some).\n"
    );
    let _ = writeln!(
        out,
        "| pass | exact alone | adds to rxing | median ms | p95 ms |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
    for &pass in Pass::ALL {
        let (exact, added, times) = &pass_exact[&pass];
        let _ = writeln!(
            out,
            "| `{}` | {exact} / {total_images} | {} | {:.2} | {:.2} |",
            pass.name(),
            if added.is_empty() {
                "none".to_owned()
            } else {
                added.join(", ")
            },
            percentile(times, 0.5),
            percentile(times, 0.95)
        );
    }

    let _ = writeln!(out, "\n## A 1920×1080 frame with one code\n");
    let _ = writeln!(
        out,
        "A synthetic camera frame (grey gradient with noise, one 6-pixel-module \
         `otpauth://` code off-centre), median of {} runs.\n",
        reps.max(5)
    );
    let _ = writeln!(
        out,
        "| decoder | exact | decode ms (grey frame) | PNG file → texts ms |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for (name, exact, decode, full) in &frame_rows {
        let _ = writeln!(
            out,
            "| {name} | {} | {decode:.2} | {full:.2} |",
            if *exact { "yes" } else { "no" }
        );
    }
    if !missed_by_cascade.is_empty() {
        let _ = writeln!(
            out,
            "\nImages the cascade does not decode exactly: {}.",
            missed_by_cascade.join(", ")
        );
    }

    print!("{out}");
    // `cargo bench` passes --bench; `cargo test --benches` (a debug build)
    // must not put its timings in the docs.
    if std::env::args().any(|a| a == "--bench") {
        tessera_testkit::bench::write_doc_section(
            &root.join("docs/benchmarks.md"),
            "scanner-bench",
            "QR decoding",
            &out,
        );
    } else {
        eprintln!("smoke run (no --bench argument): docs/benchmarks.md left as it is");
    }
}
