//! Unlock with the TPM slot beside the PIN slot (not a test):
//! `cargo bench -p tessera-daemon --features tpm --bench tpm_unlock`.
//!
//! In process, on a real software TPM (swtpm on loopback, as the tests;
//! so the TPM's share is relative only: a hardware TPM is slower at its
//! ECC and HMAC work, and nearer on the bus): a vault of one account made
//! with the PIN slot, another with the TPM slot ("tpm": no PIN slot), each
//! locked and unlocked [`UNLOCKS`] times with the right PIN, with the fast
//! Argon2id of the tests (64 KiB, 1 pass, so the TPM's part shows) and with
//! the default (64 MiB, 3 passes, what a user waits for); also sealing
//! (`tessera tpm enroll`'s work).
//!
//! Prints a Markdown report and writes it between `<!-- tpm-bench:start -->`
//! and `<!-- tpm-bench:end -->` in `docs/benchmarks.md`. Run through `cargo
//! test --benches` it only does a short smoke run and writes nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use tessera_core::SecretBytes;
use tessera_core::otp::OtpParams;
use tessera_testkit::bench::{
    cpu_model, load_average, percentile, rustc_version, today, write_doc_section,
};
use tessera_testkit::swtpm::Swtpm;
use tessera_tpm::{Pcrs, Tpm};
use tesserad::account::{Account, AccountId, AccountKind};
use tesserad::vault::{KdfParams, SecretString, TpmBinding, Vault};

const UNLOCKS: usize = 20;
const SEALS: usize = 10;
const PIN: &str = "482915";

fn account() -> Account {
    Account {
        id: AccountId::random(),
        label: "alice@example.com".into(),
        issuer: Some("Example".into()),
        kind: AccountKind::OtpAuth,
        secret: SecretBytes::from(&b"12345678901234567890"[..]),
        params: OtpParams::default(),
        ocra_suite: String::new(),
        created_unix: 0,
        extra: vec![],
        notifications: false,
        pin: None,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Pin,
    Tpm,
}

/// Sorted times of `n` unlocks (each after a lock) of a new vault with
/// `slot` and `kdf`.
fn unlocks(tpm: &Swtpm, slot: Slot, kdf: KdfParams, n: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let mut v = Vault::open(dir.path()).unwrap();
    v.set_tpm(Some(Tpm::new(tpm.tcti())));
    let pin = SecretString::new(PIN.into());
    match slot {
        Slot::Pin => v.create_with_pin(&pin, kdf, vec![account()]).unwrap(),
        Slot::Tpm => v
            .create_with_tpm(&pin, kdf, &binding(), vec![account()])
            .unwrap(),
    }
    let mut times = (0..n)
        .map(|_| {
            v.lock();
            let t = Instant::now();
            v.unlock_with_pin(&pin, SystemTime::now()).unwrap();
            t.elapsed()
        })
        .collect::<Vec<_>>();
    assert!(v.tpm_warning().is_none(), "{:?}", v.tpm_warning());
    times.sort();
    times
}

/// PCR 7 bound, as a fleet would.
fn binding() -> TpmBinding {
    TpmBinding {
        pcrs: Pcrs::new(&[7]).unwrap(),
        keep_pin_slot: false,
    }
}

/// Sorted times of `n` seals of a 32-byte secret (no Argon2).
fn seals(tpm: &Swtpm, n: usize) -> Vec<Duration> {
    let t = Tpm::new(tpm.tcti());
    let secret = zeroize::Zeroizing::new([7u8; 32]);
    let auth = zeroize::Zeroizing::new([9u8; 32]);
    let mut times = (0..n)
        .map(|_| {
            let start = Instant::now();
            t.seal(&secret, &auth, &binding().pcrs).unwrap();
            start.elapsed()
        })
        .collect::<Vec<_>>();
    times.sort();
    times
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn list(times: &[Duration]) -> String {
    times
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n_unlock, n_seal) = if full { (UNLOCKS, SEALS) } else { (2, 1) };
    let fast = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let default = KdfParams::default();
    let load_before = load_average();
    let tpm = Swtpm::start();
    // The default lock-out of libtpms counts nothing here (every PIN is
    // right), but a generous one keeps a mistake from locking the run out.
    tpm.set_lockout(1000, 1);
    let rows = [
        (
            "PIN slot, Argon2id 64 KiB × 1",
            unlocks(&tpm, Slot::Pin, fast, n_unlock),
        ),
        (
            "TPM slot, Argon2id 64 KiB × 1",
            unlocks(&tpm, Slot::Tpm, fast, n_unlock),
        ),
        (
            "PIN slot, Argon2id 64 MiB × 3 (default)",
            unlocks(&tpm, Slot::Pin, default, n_unlock),
        ),
        (
            "TPM slot, Argon2id 64 MiB × 3 (default)",
            unlocks(&tpm, Slot::Tpm, default, n_unlock),
        ),
    ];
    let sealing = seals(&tpm, n_seal);
    let load_after = load_average();

    let mut r = String::new();
    writeln!(
        r,
        "Measured {} on {} CPUs ({}), {}, with `cargo bench -p tessera-daemon --features tpm \
         --bench tpm_unlock`, swtpm {} on loopback TCP. Load average (1, 5, 15 min) before: \
         {load_before}; after: {load_after}.\n",
        today(),
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model(),
        rustc_version(),
        tessera_testkit::bench::command_line("swtpm", &["--version"])
            .and_then(|v| v
                .split_whitespace()
                .find(|w| w.starts_with(char::is_numeric))
                .map(|w| w.trim_end_matches(',').to_owned()))
            .unwrap_or_else(|| "(unknown version)".into()),
    )
    .unwrap();
    writeln!(
        r,
        "| unlock with the right PIN ({n_unlock} each) | median | p90 |"
    )
    .unwrap();
    writeln!(r, "| --- | --- | --- |").unwrap();
    for (name, times) in &rows {
        writeln!(
            r,
            "| {name} | {} | {} |",
            ms(percentile(times, 50.0)),
            ms(percentile(times, 90.0))
        )
        .unwrap();
    }
    writeln!(
        r,
        "| sealing a secret (storage key made, object created: `tessera tpm enroll` without its \
         Argon2id and save; {n_seal}) | {} | {} |\n",
        ms(percentile(&sealing, 50.0)),
        ms(percentile(&sealing, 90.0))
    )
    .unwrap();
    let tpm_share = percentile(&rows[1].1, 50.0).saturating_sub(percentile(&rows[0].1, 50.0));
    writeln!(
        r,
        "The TPM's part of an unlock (the TPM slot's median less the PIN slot's, fast \
         Argon2id): {}. It is the storage key made again from the owner seed (an ECC P-256 \
         key generation), a salted session (ECDH), the PolicyPCR and PolicyAuthValue \
         commands, the load and the unseal, each a round trip to swtpm.\n",
        ms(tpm_share)
    )
    .unwrap();
    writeln!(r, "Sorted times (ms):\n").unwrap();
    for (name, times) in &rows {
        writeln!(r, "- {name}: {}", list(times)).unwrap();
    }
    writeln!(r, "- sealing: {}", list(&sealing)).unwrap();
    print!("{r}");
    if full {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the daemon crate is in the workspace")
            .join("docs/benchmarks.md");
        write_doc_section(&doc, "tpm-bench", "TPM slot", &r);
    }
}
