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
//! figures go into docs/benchmarks.md between the `issuer-load` markers.

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

struct Run {
    label: String,
    count: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    statuses_ok: bool,
    service_cpu: f64,
}

/// CPU seconds (user + system) of a process so far, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

/// Runs `clients` threads for `seconds`, each sending `make(i)` requests to
/// `servers[i % n]`; returns the latencies and whether every status was
/// the expected one.
fn load(
    servers: &[Server],
    token: &str,
    clients: usize,
    seconds: u64,
    expect: u16,
    path_and_body: impl Fn(usize, usize) -> (String, String) + Sync,
) -> (Vec<Duration>, f64, bool, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(clients + 1));
    let cpu_before: f64 = servers.iter().map(|s| cpu_seconds(s.pid())).sum();
    let (lat, ok, elapsed) = std::thread::scope(|s| {
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
    let cpu_after: f64 = servers.iter().map(|s| cpu_seconds(s.pid())).sum();
    (lat, elapsed, ok, (cpu_after - cpu_before) / elapsed)
}

fn verify_run(db: &Db, instances: usize, clients: usize, seconds: u64, label: &str) -> Run {
    let token = db.token(&format!("load{instances}{}", label.len()));
    let servers: Vec<Server> = (0..instances)
        .map(|_| {
            db.serve(&[
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
    let (mut lat, elapsed, ok, cpu) = load(&servers, &token, clients, seconds, 422, |c, i| {
        targets[(c * 7919 + i) % SERIALS].clone()
    });
    lat.sort();
    Run {
        label: label.to_owned(),
        count: lat.len(),
        seconds: elapsed,
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        statuses_ok: ok,
        service_cpu: cpu,
    }
}

fn create_run(db: &Db, clients: usize, seconds: u64, label: &str) -> Run {
    let token = db.token("loadcreate");
    let servers = vec![db.serve(&["--client-rate", "0", "--serial-rate", "0"])];
    let (mut lat, elapsed, ok, cpu) = load(&servers, &token, clients, seconds, 201, |_, _| {
        ("/v1/activations".to_owned(), "{}".to_owned())
    });
    lat.sort();
    Run {
        label: label.to_owned(),
        count: lat.len(),
        seconds: elapsed,
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        statuses_ok: ok,
        service_cpu: cpu,
    }
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
            "| {what} | per second | p50 | p99 | service CPU (cores) | all answered as expected |\n| --- | --- | --- | --- | --- | --- |\n"
        );
        for r in runs {
            t.push_str(&format!(
                "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} | {} |\n",
                r.label,
                r.count as f64 / r.seconds,
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3,
                r.service_cpu,
                if r.statuses_ok { "yes" } else { "no" }
            ));
        }
        t
    };
    let report = format!(
        "`cargo bench -p tessera-issuer --bench load` ({today}): {clients} client threads \
         (ureq, keep-alive) for {seconds} s per row on the same machine as the servers and \
         PostgreSQL, {SERIALS} active serials, release build. Verifications are of codes \
         already accepted (answered 422 `code_replayed`): the row locked, the window's codes \
         computed, an audit line written and committed. PostgreSQL 15 with its defaults \
         (fsync, synchronous_commit on), one throwaway cluster. \"Service CPU\" is the \
         instances' user+system CPU time over the run's wall time (2 cores in all: the rest \
         is the clients and PostgreSQL).\n\n{}\nActivations (`POST /v1/activations`, no image):\n\n{}\n\
         Machine: {cpu}, load average before: {load}; {rustc}.\n",
        table(&runs, "verifications"),
        table(&creates, "activations"),
        today = today(),
        cpu = cpu_model(),
        load = load_average(),
        rustc = rustc_version(),
    );
    print!("{report}");
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    write_doc_section(&doc, "issuer-load", "Issuer service", &report);
}
