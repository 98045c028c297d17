//! The figures `TESSERA_APP_BENCH=1` prints (scripts/bench-app): the time
//! from the process start to the first frame with the daemon's content,
//! and the resident memory then.

/// Milliseconds since this process started (its start time in
/// `/proc/self/stat`, against the boot clock `/proc/uptime` counts).
pub fn since_process_start_ms() -> f64 {
    let ticks = clock_ticks_per_second();
    let start = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name (in parentheses, which may
            // hold spaces); the start time is field 22 of the whole line.
            let rest = &s[s.rfind(')')? + 2..];
            rest.split(' ').nth(19)?.parse::<f64>().ok()
        })
        .unwrap_or(0.0)
        / ticks;
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    (uptime - start) * 1000.0
}

/// A size in KiB from `/proc/self/status`: `VmRSS` (resident), `RssAnon`
/// (of that, the process's own memory, not mapped files).
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn clock_ticks_per_second() -> f64 {
    // Linux has reported 100 ticks per second to user space (USER_HZ) on
    // every architecture for decades; /proc/self/stat counts in them.
    100.0
}
