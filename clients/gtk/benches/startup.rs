//! `cargo bench -p tessera-app --bench startup`: the desktop app's start
//! to its first frame showing 100 accounts, and its RSS then, on the real
//! daemon in a private session (tests/session). Writes the "Desktop app"
//! section of docs/benchmarks.md.

#[path = "../tests/session/mod.rs"]
mod session;

use std::time::Duration;

use session::{FAST_CONFIG, Session};
use tessera_testkit::bench::{command_line, percentile, write_doc_section};

const RUNS: usize = 15;
/// Accounts in the vault; `TESSERA_BENCH_ACCOUNTS` changes it (a multiple
/// of 25, 0 for the empty vault's page).
fn accounts() -> usize {
    std::env::var("TESSERA_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

fn main() {
    let s = Session::new(FAST_CONFIG);
    // Exports (otpauth-migration://) of 25 accounts each, one activation
    // each (a payload holds 4 KiB at most).
    let exports: Vec<String> = (0..accounts())
        .step_by(25)
        .map(|first| export(first..first + 25))
        .collect();
    let refs: Vec<&str> = exports.iter().map(String::as_str).collect();
    s.add_accounts(&refs, "482915");
    // One run to warm the caches (fonts, icons, the binary itself).
    s.bench_app_start();
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    let mut anon = Vec::new();
    for _ in 0..RUNS {
        let (wall, kib, anon_kib) = s.bench_app_start();
        walls.push(wall);
        rss.push(kib);
        anon.push(anon_kib);
    }
    walls.sort();
    rss.sort();
    anon.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    #[allow(non_snake_case)]
    let ACCOUNTS = accounts();
    let renderer = std::env::var("GSK_RENDERER").unwrap_or_else(|_| "cairo".into());
    let report = format!(
        "`cargo bench -p tessera-app --bench startup`: {RUNS} starts of `tessera-app` (after one \
         warm-up) on Xvfb against the real `tesserad` on a private bus, the vault unlocked \
         with {ACCOUNTS} TOTP accounts. \"First frame\" is from spawning the process to the \
         first frame painted with the account list (the app says so from GTK's frame \
         clock, `TESSERA_APP_BENCH=1`, then quits); that frame holds the first 20 rows, the \
         rest are added on idle turns right after. GTK renderer: `{renderer}` (`GSK_RENDERER`; \
         Xvfb has no GPU, so `gl` is Mesa's software rasteriser).\n\n\
         | measure | p50 | p90 | max |\n| --- | --- | --- | --- |\n\
         | first frame, spawn to paint (ms) | {:.0} | {:.0} | {:.0} |\n\
         | RSS at the first frame (MiB) | {:.1} | {:.1} | {:.1} |\n\
         | of it anonymous, not mapped files (`RssAnon`, MiB) | {:.1} | {:.1} | {:.1} |\n\n\
         Targets: under 300 ms to the first frame, under 60 MB RSS. GNOME Authenticator is not \
         packaged in Debian 12, so it could not be measured beside it here.\n\nMachine: {}\n",
        ms(percentile(&walls, 50.0)),
        ms(percentile(&walls, 90.0)),
        ms(*walls.last().unwrap()),
        rss[RUNS / 2] as f64 / 1024.0,
        rss[RUNS * 9 / 10] as f64 / 1024.0,
        *rss.last().unwrap() as f64 / 1024.0,
        anon[RUNS / 2] as f64 / 1024.0,
        anon[RUNS * 9 / 10] as f64 / 1024.0,
        *anon.last().unwrap() as f64 / 1024.0,
        command_line("uname", &["-srm"]).unwrap_or_default(),
    );
    println!("{report}");
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    write_doc_section(&doc, "desktop-app", "Desktop app", &report);
}

/// An `otpauth-migration://` export of the accounts `range`.
fn export(range: std::ops::Range<usize>) -> String {
    let batch = tessera_core::payload::MigrationBatch {
        accounts: range
            .map(|i| tessera_core::payload::OtpAuthAccount {
                issuer: Some(format!("Issuer{i:03}")),
                account: format!("user{i}@example.com"),
                secret: tessera_core::SecretBytes::from(&b"12345678901234567890"[..]),
                params: "totp:SHA1:6".parse().unwrap(),
                pin: None,
            })
            .collect(),
        version: 1,
        batch_size: 1,
        batch_index: 0,
        batch_id: 1,
    };
    tessera_core::payload::migration::write(&batch).unwrap()
}
