//! The D-Bus benchmark (not a test): `cargo bench -p tessera-daemon --bench dbus`.
//!
//! Starts a private `dbus-daemon` and the release `tesserad` on it (fast
//! Argon2), activates one TOTP account over D-Bus, then measures round
//! trips from one client on a current-thread runtime, interleaved in blocks
//! so both see the same machine: `GetCode` (a code from the vault) and
//! `Ping` (a method of the same interface that only admits the caller: the
//! floor of a round trip through the bus). Both go through the bus daemon
//! (client → dbus-daemon → tesserad and back).
//!
//! Prints a Markdown report and writes it between
//! `<!-- dbus-bench:start -->` and `<!-- dbus-bench:end -->` in
//! `docs/benchmarks.md`. Timings are reported, never asserted. Run through
//! `cargo test --benches` (no `--bench` argument) it does a short smoke run
//! and writes nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use tessera_testkit::bench::{command_line, percentile, write_doc_section};
use tessera_testkit::bus::PrivateBus;
use tessera_testkit::daemon::Tesserad;
use tesserad::dbus::types::{Code, View};
use zbus::zvariant::{OwnedValue, Value};

const CALLS: usize = 20_000;
const WARMUP: usize = 1_000;
const BLOCK: usize = 500;
const FAST_CONFIG: &str = "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\n";
const PIN: &str = "482915";
const TOTP_URI: &str = "otpauth://totp/Example:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (calls, warmup) = if full { (CALLS, WARMUP) } else { (200, 20) };
    let bus = PrivateBus::start();
    let mut daemon = Tesserad::new(env!("CARGO_BIN_EXE_tesserad"))
        .with_env("DBUS_SESSION_BUS_ADDRESS", bus.address());
    daemon.write_config(FAST_CONFIG);
    daemon.restart();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (ping, code) = runtime.block_on(measure(&bus, calls, warmup));
    daemon.stop();
    let report = markdown(&ping, &code, calls);
    print!("{report}");
    if full {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the daemon crate is in the workspace")
            .join("docs/benchmarks.md");
        write_doc_section(&doc, "dbus-bench", "D-Bus", &report);
    } else {
        eprintln!("smoke run (no --bench argument): docs/benchmarks.md left as it is");
    }
}

async fn measure(bus: &PrivateBus, calls: usize, warmup: usize) -> (Vec<Duration>, Vec<Duration>) {
    bus.wait_for_name(tesserad::dbus::BUS_NAME).await;
    let c = bus.connect().await;
    let p = zbus::Proxy::new(
        &c,
        tesserad::dbus::BUS_NAME,
        tesserad::dbus::PATH,
        "org.tessera.Authenticator1",
    )
    .await
    .unwrap();
    // Activate one account.
    let source = HashMap::from([(
        "payload".to_owned(),
        OwnedValue::try_from(Value::from(TOTP_URI)).unwrap(),
    )]);
    let mut v: View = p.call("StartActivation", &(source,)).await.unwrap();
    while v.state != "activated" {
        let (event, arg) = match v.state.as_str() {
            "choose_pin" | "confirm_pin" => ("pin", PIN),
            "finalize_code" => ("continue", ""),
            other => panic!("unexpected state {other}"),
        };
        v = p
            .call("SendEvent", &(v.id.as_str(), 0u64, event, arg))
            .await
            .unwrap();
    }
    for _ in 0..warmup {
        let _: () = p.call("Ping", &()).await.unwrap();
        let _: Code = p.call("GetCode", &("alice",)).await.unwrap();
    }
    let mut ping = Vec::with_capacity(calls);
    let mut code = Vec::with_capacity(calls);
    while ping.len() < calls {
        let n = BLOCK.min(calls - ping.len());
        for _ in 0..n {
            let t = Instant::now();
            let _: () = p.call("Ping", &()).await.unwrap();
            ping.push(t.elapsed());
        }
        for _ in 0..n {
            let t = Instant::now();
            let c: Code = p.call("GetCode", &("alice",)).await.unwrap();
            code.push(t.elapsed());
            assert_eq!(c.code.len(), 6);
        }
    }
    (ping, code)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn markdown(ping: &[Duration], code: &[Duration], calls: usize) -> String {
    let mut ping = ping.to_vec();
    let mut code = code.to_vec();
    ping.sort();
    code.sort();
    let (p50, p99) = (percentile(&ping, 50.0), percentile(&ping, 99.0));
    let (c50, c99) = (percentile(&code, 50.0), percentile(&code, 99.0));
    let ratio = c50.as_secs_f64() / p50.as_secs_f64();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{calls} calls each from one client (current-thread runtime), in alternating \
         blocks of {BLOCK}, through a private `dbus-daemon`; release `tesserad`; {}; {}; \
         {} CPUs.\n",
        command_line("date", &["-u", "+%Y-%m-%d"]).unwrap_or_default(),
        command_line("dbus-daemon", &["--version"])
            .and_then(|v| v.lines().next().map(str::to_owned))
            .unwrap_or_default(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let _ = writeln!(out, "| method | p50 | p99 | |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    let _ = writeln!(
        out,
        "| `Ping` (the floor: admit the caller, no work) | {} | {} | |",
        us(p50),
        us(p99)
    );
    let _ = writeln!(
        out,
        "| `GetCode` | {} | {} | p50 {ratio:.2}× the floor (target ≤ 1.5×) {} |",
        us(c50),
        us(c99),
        if ratio <= 1.5 { "✓" } else { "✗" }
    );
    out
}
