//! The daemon benchmark (not a test):
//! `cargo bench -p tessera-daemon --bench daemon`.
//!
//! Starts the release `tesserad` (the one `cargo bench` builds beside this
//! benchmark) in a temporary folder with fast Argon2, activates one TOTP
//! account through gRPC, then measures:
//!
//! - `Accounts.Code` round trips from one client that keeps its connection
//!   (p50/p99 of [`LATENCY_CALLS`] calls after a warm-up), on a
//!   current-thread runtime like the `tessera` CLI;
//! - codes per second with 1, 16 and 64 concurrent clients, each on its own
//!   connection, for [`THROUGHPUT_SECS`] seconds each (multi-thread runtime);
//! - the daemon's resident memory (`VmRSS`) after start-up, once the vault is
//!   open, and idle after the load;
//! - in a second daemon with the default Argon2id cost (64 MiB), `VmRSS`
//!   after the vault is made, after a lock and an unlock, and the peak
//!   (`VmHWM`): the KDF's memory must go back to the system;
//! - the time from spawning `tesserad` to its socket accepting (median of
//!   [`STARTS`] starts, fresh folder each, no vault so no Argon2);
//! - in-process: saving a vault of [`VAULT_ACCOUNTS`] accounts (median of
//!   [`SAVES`] `Vault::update` calls: JSON, AEAD, temp file, fsync, rename).
//!
//! Prints a Markdown report and writes it between the markers
//! `<!-- daemon-bench:start -->` and `<!-- daemon-bench:end -->` in
//! `docs/benchmarks.md`. Timings are reported, never asserted. Run through
//! `cargo test --benches` (no `--bench` argument) it only does a short smoke
//! run and writes nothing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera_core::SecretBytes;
use tessera_core::otp::OtpParams;
use tessera_proto::v1 as pb;
use tessera_testkit::bench::{
    cpu_model, load_average, percentile, rustc_version, today, write_doc_section,
};
use tessera_testkit::daemon::connect;
use tesserad::account::{Account, AccountId, AccountKind};
use tesserad::vault::{KdfParams, SecretString, Vault};
use tonic::transport::Channel;

const LATENCY_CALLS: usize = 5000;
const LATENCY_WARMUP: usize = 500;
const THROUGHPUT_SECS: u64 = 3;
const CLIENTS: [usize; 3] = [1, 16, 64];
const STARTS: usize = 10;
const VAULT_ACCOUNTS: usize = 10_000;
const SAVES: usize = 10;

/// Fast Argon2 (the figures exclude it) and the defaults otherwise.
const FAST_CONFIG: &str = "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\n";
const PIN: &str = "482915";
const TOTP_URI: &str = "otpauth://totp/Example:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";

/// How much to run: the full benchmark, or a smoke run under `cargo test`.
#[derive(Clone, Copy)]
struct Plan {
    latency_calls: usize,
    warmup: usize,
    throughput: Duration,
    starts: usize,
    vault_accounts: usize,
    saves: usize,
}

const FULL: Plan = Plan {
    latency_calls: LATENCY_CALLS,
    warmup: LATENCY_WARMUP,
    throughput: Duration::from_secs(THROUGHPUT_SECS),
    starts: STARTS,
    vault_accounts: VAULT_ACCOUNTS,
    saves: SAVES,
};

const SMOKE: Plan = Plan {
    latency_calls: 50,
    warmup: 5,
    throughput: Duration::from_millis(200),
    starts: 2,
    vault_accounts: 100,
    saves: 2,
};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full { FULL } else { SMOKE };
    let load_before = load_average();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");

    let daemon = Daemon::start(FAST_CONFIG);
    let rss_started = daemon.rss_kib();
    let id = runtime.block_on(activate(&daemon.socket()));
    std::thread::sleep(Duration::from_millis(300));
    let rss_open = daemon.rss_kib();
    // One thread, like the `tessera` CLI: no hand-over between client threads
    // in the round trip.
    let cpu_before = daemon.cpu();
    let mut latency = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(measure_latency(&daemon.socket(), &id, plan));
    latency.daemon_cpu = daemon.cpu().saturating_sub(cpu_before);
    let throughput = runtime.block_on(async {
        let mut throughput = Vec::new();
        for clients in CLIENTS {
            let cpu_before = daemon.cpu();
            let mut t = measure_throughput(&daemon.socket(), &id, clients, plan).await;
            t.daemon_cpu = daemon.cpu().saturating_sub(cpu_before);
            throughput.push(t);
        }
        throughput
    });
    // Idle again: the clients are gone; give the daemon a moment.
    std::thread::sleep(Duration::from_secs(1));
    let rss_after = daemon.rss_kib();
    drop(daemon);

    let kdf_memory = runtime.block_on(measure_kdf_memory());
    let starts = measure_starts(plan.starts);
    let save = measure_vault_save(plan.vault_accounts, plan.saves);
    let import = runtime.block_on(measure_import(plan.vault_accounts));
    let load_after = load_average();

    let report = Report {
        latency,
        throughput,
        rss_started,
        rss_open,
        rss_after,
        kdf_memory,
        starts,
        save,
        import,
        load_before,
        load_after,
        plan,
    }
    .markdown();
    print!("{report}");
    if full {
        write_doc_section(&docs_benchmarks(), "daemon-bench", "Daemon", &report);
    } else {
        eprintln!("smoke run (no --bench argument): docs/benchmarks.md left as it is");
    }
}

// ---------------------------------------------------------------------------
// The daemon

struct Daemon {
    dir: tempfile::TempDir,
    child: Child,
}

fn tesserad() -> &'static str {
    // Cargo builds the package's binaries with the benchmark's profile
    // (release settings) and passes their paths to benchmarks.
    env!("CARGO_BIN_EXE_tesserad")
}

impl Daemon {
    /// Starts `tesserad` in a fresh folder and waits until its socket accepts.
    fn start(config: &str) -> Daemon {
        let (dir, mut child) = spawn(config);
        wait_for_socket(&socket_in(dir.path()), &mut child);
        Daemon { dir, child }
    }

    fn socket(&self) -> PathBuf {
        socket_in(self.dir.path())
    }

    fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }

    fn cpu(&self) -> Duration {
        cpu_time(self.child.id())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn socket_in(dir: &Path) -> PathBuf {
    dir.join("run").join("tessera.sock")
}

/// Spawns `tesserad` on a new temporary folder (no vault yet).
fn spawn(config_text: &str) -> (tempfile::TempDir, Child) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = dir.path().join("tessera.toml");
    std::fs::write(&config, config_text).expect("writes the config");
    let child = Command::new(tesserad())
        .arg("--foreground")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--runtime-dir")
        .arg(dir.path().join("run"))
        .env("RUST_LOG", "warn")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tesserad()));
    (dir, child)
}

/// SIGTERM, then waits; SIGKILL after 5 s. (A SIGTERM that comes right as
/// the socket starts accepting, before `tesserad` listens for signals, can
/// be lost; the start measurement stops daemons at just that moment.)
fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "tesserad {} ignored SIGTERM for 5 s; killing it",
        child.id()
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls the socket until it accepts; returns when it does.
fn wait_for_socket(socket: &Path, child: &mut Child) {
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        if let Some(status) = child.try_wait().expect("waits on tesserad") {
            panic!("tesserad exited before serving: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "tesserad did not start in 30 s"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// A `kB` line of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time used so far by all threads of a process (scheduler statistics,
/// nanoseconds; the first field of each `/proc/PID/task/TID/schedstat`).
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// Activates the otpauth TOTP account as a first activation (choose and
/// confirm the PIN); returns the account's id.
async fn activate(socket: &Path) -> String {
    let view = tessera_testkit::activation::activate(connect(socket).await, TOTP_URI, PIN).await;
    match view.state.and_then(|s| s.kind) {
        Some(pb::activation_state::Kind::Activated(done)) => done.accounts[0].id.clone(),
        other => unreachable!("activate returns the activated view, not {other:?}"),
    }
}

/// Resident memory around Argon2id at the default cost (no fast config).
struct KdfMemory {
    before_kib: u64,
    made_kib: u64,
    unlocked_kib: u64,
    peak_kib: u64,
}

async fn measure_kdf_memory() -> KdfMemory {
    let daemon = Daemon::start("");
    let settle = || std::thread::sleep(Duration::from_millis(300));
    let before_kib = daemon.rss_kib();
    activate(&daemon.socket()).await;
    settle();
    let made_kib = daemon.rss_kib();
    let mut vault = pb::vault_client::VaultClient::new(connect(&daemon.socket()).await);
    vault.lock(pb::LockRequest {}).await.expect("locks");
    vault
        .unlock(pb::UnlockRequest {
            pin: PIN.into(),
            ..Default::default()
        })
        .await
        .expect("unlocks with the PIN");
    settle();
    KdfMemory {
        before_kib,
        made_kib,
        unlocked_kib: daemon.rss_kib(),
        peak_kib: proc_status_kib(daemon.child.id(), "VmHWM:"),
    }
}

async fn code(client: &mut pb::accounts_client::AccountsClient<Channel>, id: &str) {
    let reply = client
        .code(pb::AccountRef {
            account: id.to_owned(),
        })
        .await
        .expect("a code")
        .into_inner();
    assert_eq!(reply.code.len(), 6);
}

// ---------------------------------------------------------------------------
// Measurements

struct Latency {
    calls: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
    /// CPU time the daemon used over the timed calls and the warm-up.
    daemon_cpu: Duration,
}

async fn measure_latency(socket: &Path, id: &str, plan: Plan) -> Latency {
    let mut client = pb::accounts_client::AccountsClient::new(connect(socket).await);
    for _ in 0..plan.warmup {
        code(&mut client, id).await;
    }
    let mut times = Vec::with_capacity(plan.latency_calls);
    for _ in 0..plan.latency_calls {
        let t = Instant::now();
        code(&mut client, id).await;
        times.push(t.elapsed());
    }
    let total: Duration = times.iter().sum();
    times.sort();
    Latency {
        calls: times.len(),
        p50: percentile(&times, 50.0),
        p90: percentile(&times, 90.0),
        p99: percentile(&times, 99.0),
        max: *times.last().expect("some calls"),
        mean: total / times.len() as u32,
        daemon_cpu: Duration::ZERO,
    }
}

struct Throughput {
    clients: usize,
    codes: u64,
    elapsed: Duration,
    /// CPU time the daemon used over the run (connecting included).
    daemon_cpu: Duration,
}

impl Throughput {
    fn per_second(&self) -> f64 {
        self.codes as f64 / self.elapsed.as_secs_f64()
    }
}

/// `clients` tasks, each on its own connection, call `Code` back to back for
/// `plan.throughput` after a short warm-up.
async fn measure_throughput(socket: &Path, id: &str, clients: usize, plan: Plan) -> Throughput {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut c = pb::accounts_client::AccountsClient::new(connect(socket).await);
        code(&mut c, id).await;
        connections.push(c);
    }
    let go = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for mut c in connections {
        let (go, stop, count, id) = (go.clone(), stop.clone(), count.clone(), id.to_owned());
        tasks.push(tokio::spawn(async move {
            go.wait().await;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                code(&mut c, &id).await;
                n += 1;
            }
            count.fetch_add(n, Ordering::Relaxed);
        }));
    }
    go.wait().await;
    let start = Instant::now();
    tokio::time::sleep(plan.throughput).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a client task");
    }
    Throughput {
        clients,
        codes: count.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        daemon_cpu: Duration::ZERO,
    }
}

struct Starts {
    times: Vec<Duration>,
}

/// Spawn → socket accepts, each time in a fresh folder (no vault: no Argon2).
fn measure_starts(n: usize) -> Starts {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let (dir, mut child) = spawn(FAST_CONFIG);
        wait_for_socket(&socket_in(dir.path()), &mut child);
        times.push(t.elapsed());
        stop(&mut child);
    }
    times.sort();
    Starts { times }
}

struct VaultSave {
    accounts: usize,
    file_bytes: u64,
    create: Duration,
    times: Vec<Duration>,
    /// Automatic backups of the same file (`vault::backups::write`), sorted.
    backups: Vec<Duration>,
}

fn bench_account(i: usize) -> Account {
    let params: OtpParams = "totp:SHA1:6:30".parse().expect("valid parameters");
    Account {
        id: AccountId::random(),
        label: format!("user{i}@example.com"),
        issuer: Some("Example".into()),
        kind: AccountKind::OtpAuth,
        secret: SecretBytes::from(&rand::random::<[u8; 20]>()[..]),
        params,
        ocra_suite: String::new(),
        created_unix: 1_700_000_000 + i as i64,
        extra: vec![],
        notifications: false,
        pin: None,
    }
}

/// In-process: a vault of `accounts` accounts, then `saves` renames of one
/// account (each one full save).
fn measure_vault_save(accounts: usize, saves: usize) -> VaultSave {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut vault = Vault::open(dir.path()).expect("opens the vault folder");
    let kdf = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let list: Vec<Account> = (0..accounts).map(bench_account).collect();
    let t = Instant::now();
    vault
        .create_with_pin(&SecretString::from(PIN), kdf, list)
        .expect("creates the vault");
    let create = t.elapsed();
    let mut times = Vec::with_capacity(saves);
    for i in 0..saves {
        let t = Instant::now();
        vault
            .update(|a| {
                a[0].label = format!("renamed {i}");
                Ok(())
            })
            .expect("saves the vault");
        times.push(t.elapsed());
    }
    times.sort();
    let file_bytes = std::fs::metadata(vault.path()).map_or(0, |m| m.len());
    // What the backup thread does after each save: the file's bytes to a
    // new copy in the backup folder (temp file, fsync, rename, fsync), then
    // the oldest pruned.
    let bytes = std::fs::read(vault.path()).expect("reads the vault file");
    let policy = tesserad::vault::BackupPolicy {
        folder: dir.path().join("backups"),
        keep: 3,
    };
    let mut backups: Vec<Duration> = (0..saves)
        .map(|_| {
            let t = Instant::now();
            tesserad::vault::backups::write(&bytes, &policy).expect("writes a backup");
            t.elapsed()
        })
        .collect();
    backups.sort();
    VaultSave {
        accounts,
        file_bytes,
        create,
        times,
        backups,
    }
}

/// A plain Aegis file of `entries` TOTP accounts (the shape of
/// `import/tests/fixtures/aegis_plain.json`), each with its own secret.
fn aegis_file(entries: usize) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = (0..entries)
        .map(|i| {
            let secret = data_encoding::BASE32_NOPAD.encode(&rand::random::<[u8; 20]>());
            serde_json::json!({
                "type": "totp", "uuid": format!("00000000-0000-4000-8000-{i:012}"),
                "name": format!("user{i}@example.com"), "issuer": "Example", "note": "",
                "icon": null,
                "info": {"secret": secret, "algo": "SHA1", "digits": 6, "period": 30},
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "version": 1,
        "header": {"slots": null, "params": null},
        "db": {"version": 2, "entries": entries},
    }))
    .expect("encodes the file")
}

struct Import {
    entries: usize,
    file_bytes: usize,
    /// `tessera_import::import` alone, in process, sorted.
    parse: Vec<Duration>,
    /// `Backup.Import` without `apply` (read, checked against the vault
    /// and policy), request to reply, sorted.
    preview: Vec<Duration>,
    /// `Backup.Import` with `apply`: the same plus the one save.
    apply: Duration,
}

/// A plain Aegis file of `entries` accounts imported into a running
/// daemon's vault (one account), over gRPC as `tessera import` does it.
async fn measure_import(entries: usize) -> Import {
    const RUNS: usize = 5;
    let file = aegis_file(entries);
    let parse = {
        let mut t: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let (_, read) = tessera_import::import(None, &file, None).expect("reads the file");
                assert_eq!(read.accounts.len(), entries);
                t.elapsed()
            })
            .collect();
        t.sort();
        t
    };
    let daemon = Daemon::start(FAST_CONFIG);
    activate(&daemon.socket()).await;
    let mut client = pb::backup_client::BackupClient::new(connect(&daemon.socket()).await)
        .max_encoding_message_size(32 << 20);
    let request = |apply| pb::ImportRequest {
        file: file.clone(),
        apply,
        ..Default::default()
    };
    let mut preview = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let plan = client.import(request(false)).await.expect("previews");
        preview.push(t.elapsed());
        assert_eq!(plan.into_inner().added.len(), entries);
    }
    preview.sort();
    let t = Instant::now();
    let done = client.import(request(true)).await.expect("imports");
    let apply = t.elapsed();
    assert!(done.into_inner().applied);
    Import {
        entries,
        file_bytes: file.len(),
        parse,
        preview,
        apply,
    }
}

/// The middle value; the mean of the two middle ones for an even count.
fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n.is_multiple_of(2) {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    } else {
        sorted[n / 2]
    }
}

// ---------------------------------------------------------------------------
// The report

struct Report {
    latency: Latency,
    throughput: Vec<Throughput>,
    rss_started: u64,
    rss_open: u64,
    rss_after: u64,
    kdf_memory: KdfMemory,
    starts: Starts,
    save: VaultSave,
    import: Import,
    load_before: String,
    load_after: String,
    plan: Plan,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `12345.6` → `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

impl Report {
    fn markdown(&self) -> String {
        let mut out = String::new();
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let _ = writeln!(
            out,
            "Measured {} on {cpus} CPUs ({}), {}, with `cargo bench -p tessera-daemon --bench daemon`. \
             Load average (1, 5, 15 min) before: {}; after: {}. The clients run on the same \
             machine as the daemon and share its cores.\n",
            today(),
            cpu_model(),
            rustc_version(),
            self.load_before,
            self.load_after,
        );

        let l = &self.latency;
        let by = |n: usize| self.throughput.iter().find(|t| t.clients == n);
        let per_s = |n: usize| by(n).map_or(0.0, Throughput::per_second);
        let start_median = median(&self.starts.times);
        let save_median = median(&self.save.times);
        let rss_idle = self.rss_open.max(self.rss_after);
        let _ = writeln!(out, "| measure | result | target | |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        let _ = writeln!(
            out,
            "| `Code` round trip, one kept connection, p50 | {:.0} µs | < 200 µs | {} |",
            us(l.p50),
            verdict(l.p50 < Duration::from_micros(200))
        );
        let _ = writeln!(out, "| `Code` round trip, p99 | {:.0} µs | | |", us(l.p99));
        for t in &self.throughput {
            let target = if t.clients == 16 {
                format!("≥ 10,000/s | {}", verdict(per_s(16) >= 10_000.0))
            } else {
                " | ".into()
            };
            let _ = writeln!(
                out,
                "| codes per second, {} client{} | {} | {target} |",
                t.clients,
                if t.clients == 1 { "" } else { "s" },
                thousands(t.per_second()),
            );
        }
        let _ = writeln!(
            out,
            "| idle RSS (the larger of vault open and after the load) | {:.1} MiB ({:.1} MB) | < 15 MB | {} |",
            mib(rss_idle),
            rss_idle as f64 * 1024.0 / 1e6,
            verdict(rss_idle * 1024 < 15_000_000)
        );
        let k = &self.kdf_memory;
        let _ = writeln!(
            out,
            "| RSS idle after an Argon2id unlock at the default 64 MiB | {:.1} MiB ({:.1} MB) | < 15 MB (the idle target) | {} |",
            mib(k.unlocked_kib),
            k.unlocked_kib as f64 * 1024.0 / 1e6,
            verdict(k.unlocked_kib * 1024 < 15_000_000)
        );
        let _ = writeln!(
            out,
            "| start to socket accepting, median | {:.1} ms | < 50 ms | {} |",
            ms(start_median),
            verdict(start_median < Duration::from_millis(50))
        );
        let _ = writeln!(
            out,
            "| save a vault of {} accounts, median | {:.1} ms | < 100 ms | {} |",
            thousands(self.save.accounts as f64),
            ms(save_median),
            verdict(save_median < Duration::from_millis(100))
        );
        let backup_median = median(&self.save.backups);
        let _ = writeln!(
            out,
            "| automatic backup of that vault, median (off the request path) | {:.1} ms | < 200 ms | {} |",
            ms(backup_median),
            verdict(backup_median < Duration::from_millis(200))
        );

        let i = &self.import;
        let _ = writeln!(
            out,
            "| import a plain Aegis file of {} entries (read, checked, stored in one save) | {:.0} ms | < 1 s | {} |",
            thousands(i.entries as f64),
            ms(i.apply),
            verdict(i.apply < Duration::from_secs(1))
        );

        let _ = writeln!(out, "\nDetails:\n");
        let _ = writeln!(
            out,
            "- `Code` round trip: {} calls after {} warm-up calls on one connection, the client \
             on a current-thread runtime (as the `tessera` CLI): \
             p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs, mean {:.0} µs; \
             the daemon used {:.1} µs of CPU per call (all its threads, warm-up included).",
            l.calls,
            self.plan.warmup,
            us(l.p50),
            us(l.p90),
            us(l.p99),
            us(l.max),
            us(l.mean),
            us(l.daemon_cpu) / (l.calls + self.plan.warmup) as f64
        );
        let runs: Vec<String> = self
            .throughput
            .iter()
            .map(|t| {
                format!(
                    "{} client{}: {} codes in {:.2} s, daemon CPU {:.1} µs per code",
                    t.clients,
                    if t.clients == 1 { "" } else { "s" },
                    thousands(t.codes as f64),
                    t.elapsed.as_secs_f64(),
                    us(t.daemon_cpu) / t.codes.max(1) as f64
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "- Throughput: each client its own connection, all clients on one multi-thread \
             runtime (2 threads), calls back to back; {}.",
            runs.join("; ")
        );
        let _ = writeln!(
            out,
            "- RSS (`VmRSS`): {:.1} MiB just started (no vault), {:.1} MiB with the vault \
             open and idle, {:.1} MiB idle 1 s after the load.",
            mib(self.rss_started),
            mib(self.rss_open),
            mib(self.rss_after)
        );
        let _ = writeln!(
            out,
            "- Argon2id at the default cost (64 MiB, a second daemon): RSS {:.1} MiB just started, \
             {:.1} MiB 0.3 s after the activation made the vault, {:.1} MiB 0.3 s after a lock \
             and an unlock; peak (`VmHWM`) {:.1} MiB.",
            mib(k.before_kib),
            mib(k.made_kib),
            mib(k.unlocked_kib),
            mib(k.peak_kib)
        );
        let starts: Vec<String> = self
            .starts
            .times
            .iter()
            .map(|t| format!("{:.1}", ms(*t)))
            .collect();
        let _ = writeln!(
            out,
            "- Start: spawn to the first accepted connection, fresh folder, no vault \
             (no Argon2), sorted ms: {}.",
            starts.join(", ")
        );
        let saves: Vec<String> = self
            .save
            .times
            .iter()
            .map(|t| format!("{:.1}", ms(*t)))
            .collect();
        let _ = writeln!(
            out,
            "- Vault save, in process (`Vault::update` renaming one account: clone, JSON, \
             XChaCha20-Poly1305, temp file, fsync, rename, fsync of the folder), file {:.2} MiB, \
             sorted ms: {}; creating it took {:.1} ms (Argon2 at 64 KiB).",
            self.save.file_bytes as f64 / (1024.0 * 1024.0),
            saves.join(", "),
            ms(self.save.create)
        );
        let backups: Vec<String> = self
            .save
            .backups
            .iter()
            .map(|t| format!("{:.1}", ms(*t)))
            .collect();
        let _ = writeln!(
            out,
            "- Automatic backup (`vault::backups::write`: the saved file's bytes to a new copy, \
             temp file, fsync, rename, fsync of the folder, the oldest beyond 3 removed), \
             sorted ms: {}. The daemon does it on its backup thread after the save has \
             returned, so no request waits for it.",
            backups.join(", ")
        );
        let list = |l: &[Duration]| -> String {
            l.iter()
                .map(|t| format!("{:.1}", ms(*t)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "- Import (`Backup.Import` over gRPC into a vault of one account, as `tessera import` \
             sends it): a plain Aegis file of {} TOTP entries, {:.2} MiB. Reading it alone \
             (`tessera_import::import`, in process), sorted ms: {}; the preview (read, names and \
             policy checked, duplicates looked up), request to reply, sorted ms: {}; applying \
             (the same and one save of {} accounts) {:.1} ms.",
            thousands(i.entries as f64),
            i.file_bytes as f64 / (1024.0 * 1024.0),
            list(&i.parse),
            list(&i.preview),
            thousands((i.entries + 1) as f64),
            ms(i.apply)
        );
        out
    }
}

/// `docs/benchmarks.md` of the workspace.
fn docs_benchmarks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the daemon crate is in the workspace")
        .join("docs/benchmarks.md")
}
