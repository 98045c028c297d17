//! The memory figures `TESSERA_APP_BENCH=1` prints at the first frame with
//! the daemon's content (`cargo bench -p tessera-app --bench startup`
//! times the process itself).

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
