//! `cargo bench -p tessera-issuer --bench load`: verifications per second
//! and their latency through the real `tessera-issuer serve` processes on
//! loopback, with 1, 2 and 4 instances over one PostgreSQL server (a
//! throwaway cluster, fsync and synchronous_commit on: PostgreSQL's
//! defaults), and 1 instance over SQLite; and activations per second.
//!
//! Each run lasts `TESSERA_LOAD_SECONDS` (default 5) with
//! `TESSERA_LOAD_CLIENTS` (default 32) client threads on keep-alive
//! connections, spread over the instances. A verification is of a code
//! already accepted, over 256 active serials: the same work as an
//! accepted one (token, rate limits, the row locked, every code of the
//! window computed, an audit line written, a commit) but for one
//! UPDATE, and repeatable without minting a fresh code each time. The
//! The servers log at their default level (info), as shipped. The figures
//! go into docs/benchmarks.md between the `issuer-load` markers.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Db, Server, activate, agent, totp_now};
use serde_json::json;
use tessera_testkit::bench::{
    cpu_model, load_average, percentile, rustc_version, today, write_doc_section,
};

const SERIALS: usize = 256;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One row: what a load did.
struct Run {
    label: String,
    clients: usize,
    count: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    statuses_ok: bool,
    /// CPU cores used, on average: the service instances, PostgreSQL's
    /// processes, and this process (the load's clients).
    service_cpu: f64,
    postgres_cpu: f64,
    client_cpu: f64,
}

/// CPU seconds (user + system) of a process so far, from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

/// CPU seconds of every PostgreSQL process (the bench's cluster is the only
/// one running).
fn postgres_cpu_seconds() -> f64 {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| cpu_seconds(&pid))
        .sum()
}

/// Runs `clients` threads for `seconds`, each sending `path_and_body(c,
/// i)` requests to `servers[c % n]`, and checks every status is `expect`.
fn load(
    label: &str,
    servers: &[Server],
    token: &str,
    clients: usize,
    seconds: u64,
    expect: u16,
    path_and_body: impl Fn(usize, usize) -> (String, String) + Sync,
) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(clients + 1));
    let service_cpu = || -> f64 {
        servers
            .iter()
            .map(|s| cpu_seconds(&s.pid().to_string()))
            .sum()
    };
    let before = (service_cpu(), postgres_cpu_seconds(), cpu_seconds("self"));
    let (mut lat, statuses_ok, elapsed) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (stop, barrier) = (stop.clone(), barrier.clone());
                let server = &servers[c % servers.len()];
                let path_and_body = &path_and_body;
                s.spawn(move || {
                    let agent = agent();
                    let auth = format!("Bearer {token}");
                    let mut lat = Vec::new();
                    let mut ok = true;
                    barrier.wait();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let (path, body) = path_and_body(c, i);
                        let start = Instant::now();
                        let r = agent
                            .post(format!("{}{path}", server.base))
                            .header("Authorization", &auth)
                            .content_type("application/json")
                            .send(body.as_str());
                        lat.push(start.elapsed());
                        ok &= matches!(&r, Ok(r) if r.status().as_u16() == expect);
                        i += 1;
                    }
                    (lat, ok)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        let mut ok = true;
        for h in handles {
            let (l, o) = h.join().unwrap();
            all.extend(l);
            ok &= o;
        }
        (all, ok, start.elapsed().as_secs_f64())
    });
    let per_second = |after: f64, before: f64| (after - before) / elapsed;
    let after = (service_cpu(), postgres_cpu_seconds(), cpu_seconds("self"));
    lat.sort();
    Run {
        label: label.to_owned(),
        clients,
        count: lat.len(),
        seconds: elapsed,
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        statuses_ok,
        service_cpu: per_second(after.0, before.0),
        postgres_cpu: per_second(after.1, before.1),
        client_cpu: per_second(after.2, before.2),
    }
}

fn verify_run(db: &Db, instances: usize, clients: usize, seconds: u64, label: &str) -> Run {
    let token = db.token(&format!("load{instances}{clients}{}", label.len()));
    let servers: Vec<Server> = (0..instances)
        .map(|_| {
            db.serve_quietly(&[
                "--connections",
                "16",
                "--client-rate",
                "0",
                "--serial-rate",
                "0",
            ])
        })
        .collect();
    let mut targets = Vec::new();
    for _ in 0..SERIALS {
        let (d, _) = activate(&servers[0], &token, json!({}));
        let code = totp_now(&d.ik);
        // Accepted once; from now on every verification of it is a replay.
        let first = common::post(
            &servers[0],
            &token,
            &format!("/v1/activations/{}/verify", d.serial),
            json!({ "code": code }),
        );
        assert_eq!(first.status, 200, "{:?}", first.body);
        targets.push((
            format!("/v1/activations/{}/verify", d.serial),
            json!({ "code": code }).to_string(),
        ));
    }
    load(label, &servers, &token, clients, seconds, 422, |c, i| {
        targets[(c * 7919 + i) % SERIALS].clone()
    })
}

fn create_run(db: &Db, clients: usize, seconds: u64, label: &str) -> Run {
    let token = db.token("loadcreate");
    let servers = vec![db.serve_quietly(&["--client-rate", "0", "--serial-rate", "0"])];
    load(label, &servers, &token, clients, seconds, 201, |_, _| {
        ("/v1/activations".to_owned(), "{}".to_owned())
    })
}

/// PostgreSQL alone: a verification's transaction (the row locked, an
/// audit line, a commit) run by pgbench with as many clients, on the same
/// cluster. Returns transactions per second and the mean latency (ms), or
/// `None` when pgbench is not installed.
fn pgbench(db: &Db, clients: usize, seconds: u64) -> Option<(f64, f64)> {
    let cluster = db.cluster.as_ref()?;
    let bin = tessera_testkit::postgres::bindir()?.join("pgbench");
    if !bin.exists() {
        return None;
    }
    cluster.psql(
        "issuer",
        "INSERT INTO activations (serial, otp, state, nonce, instance_key, created_at) \
         SELECT 'PGB' || lpad(i::text, 7, '0'), 'totp:SHA1:6:30', 'active', 1, '\\x00', 1 \
         FROM generate_series(1, 256) i",
    );
    let script = db.dir.path().join("verify.sql");
    std::fs::write(
        &script,
        "\\set n random(1, 256)\n\
         BEGIN;\n\
         SELECT serial, activation_key, label, issuer, user_id, challenge, otp, state, nonce, \
         instance_key, hotp_counter, last_accepted, failed_attempts, locked_until, \
         created_at, bound_at, activated_at, revoked_at FROM activations \
         WHERE serial = 'PGB' || lpad(:n::text, 7, '0') FOR UPDATE;\n\
         INSERT INTO audit_log (at, actor, serial, action, outcome) \
         VALUES (1, 'load', 'PGB' || lpad(:n::text, 7, '0'), 'verify', 'replayed');\n\
         COMMIT;\n",
    )
    .ok()?;
    let out = std::process::Command::new(bin)
        .arg("-h")
        .arg(cluster.socket_dir())
        .args(["-U", "tessera", "-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &clients.to_string(), "-T", &seconds.to_string(), "-f"])
        .arg(&script)
        .arg("issuer")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let number = |prefix: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((number("tps = ")?, number("latency average = ")?))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("load: bench");
        return;
    }
    let seconds = env_num("TESSERA_LOAD_SECONDS", 5);
    let clients = env_num("TESSERA_LOAD_CLIENTS", 32) as usize;
    let mut runs = Vec::new();
    let pg = Db::new_with(true, &[]);
    for n in [1, 2, 4] {
        let label = format!("PostgreSQL, {n} instance{}", if n > 1 { "s" } else { "" });
        eprintln!("load: {label}");
        runs.push(verify_run(&pg, n, clients, seconds, &label));
    }
    // Below saturation: the latency a lightly loaded instance gives.
    let light = (clients / 4).max(1);
    eprintln!("load: PostgreSQL, 1 instance, {light} clients");
    runs.push(verify_run(&pg, 1, light, seconds, "PostgreSQL, 1 instance"));
    eprintln!("load: pgbench");
    let alone = pgbench(&pg, clients, seconds);
    let sqlite = Db::new(false);
    eprintln!("load: SQLite");
    runs.push(verify_run(
        &sqlite,
        1,
        clients,
        seconds,
        "SQLite, 1 instance",
    ));
    eprintln!("load: activations");
    let creates = vec![
        create_run(&pg, clients, seconds, "PostgreSQL, 1 instance"),
        create_run(&sqlite, clients, seconds, "SQLite, 1 instance"),
    ];

    let table = |runs: &[Run], what: &str| {
        let mut t = format!(
            "| {what} | clients | per second | p50 | p99 | CPU: service | CPU: PostgreSQL | CPU: load clients | all answered as expected |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        );
        for r in runs {
            t.push_str(&format!(
                "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} | {:.2} | {:.2} | {} |\n",
                r.label,
                r.clients,
                r.count as f64 / r.seconds,
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3,
                r.service_cpu,
                r.postgres_cpu,
                r.client_cpu,
                if r.statuses_ok { "yes" } else { "no" }
            ));
        }
        t
    };
    // Where a verification's CPU goes (the first row: 1 instance).
    let first = &runs[0];
    let rate = first.count as f64 / first.seconds;
    let micros = |cores: f64| cores / rate * 1e6;
    let total = first.service_cpu + first.postgres_cpu + first.client_cpu;
    let budget = format!(
        "CPU per verification ({}, {} clients): service {:.0} µs, PostgreSQL {:.0} µs, \
         load clients {:.0} µs; {:.2} of the {cores} cores busy. 5,000 verifications a second \
         at that cost would need {:.1} cores.",
        first.label,
        first.clients,
        micros(first.service_cpu),
        micros(first.postgres_cpu),
        micros(first.client_cpu),
        total,
        total / rate * 5000.0,
        cores = std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let report = format!(
        "`cargo bench -p tessera-issuer --bench load` ({today}): {clients} client threads \
         (ureq, keep-alive) for {seconds} s per row on the same machine as the servers and \
         PostgreSQL, {SERIALS} active serials, release build. Verifications are of codes \
         already accepted (answered 422 `code_replayed`): the row locked, the window's codes \
         computed, an audit line written and committed. PostgreSQL 15 with its defaults \
         (fsync, synchronous_commit on), one throwaway cluster. The CPU columns are cores \
         in use on average (user+system time over the run's wall time) by the service \
         instances, PostgreSQL's processes and the load's own client threads; the machine \
         has {cores} in all.\n\n{}\n{budget}\n\n{alone}\n\nActivations (`POST /v1/activations`, no image):\n\n{}\n\
         Machine: {cpu}, load average before: {load}; {rustc}.\n",
        table(&runs, "verifications"),
        table(&creates, "activations"),
        today = today(),
        cpu = cpu_model(),
        load = load_average(),
        rustc = rustc_version(),
        cores = std::thread::available_parallelism().map_or(0, |n| n.get()),
        alone = match alone {
            Some((tps, ms)) => format!(
                "PostgreSQL alone, for scale: the same transaction (BEGIN, the row read FOR \
                 UPDATE, an audit INSERT, COMMIT) from pgbench with {clients} clients on the \
                 same cluster ran {tps:.0}/s, {ms:.2} ms on average."
            ),
            None => "(pgbench is not installed: no figure for PostgreSQL alone.)".to_owned(),
        },
    );
    print!("{report}");
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    write_doc_section(&doc, "issuer-load", "Issuer service", &report);
}
