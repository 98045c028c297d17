//! What the benchmarks share: percentiles, a program's answer for the
//! report's header, and their marked section of `docs/benchmarks.md`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The `p`-th percentile (0 < `p` ≤ 100) of `sorted` samples, by nearest
/// rank: the smallest sample with at least `p`% of the samples at or below.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What `program args` prints on stdout, trimmed; `None` when it cannot run.
pub fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Puts `report` between the markers `<!-- {name}:start -->` and
/// `<!-- {name}:end -->` of `doc`, or appends a section headed `heading`
/// with the markers when `doc` has none. Says on stderr what it did.
pub fn write_doc_section(doc: &Path, name: &str, heading: &str, report: &str) {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let old = std::fs::read_to_string(doc).unwrap_or_default();
    let section = format!("{start}\n{report}{end}");
    let new = match (old.find(&start), old.find(&end)) {
        (Some(s), Some(e)) if s < e => {
            format!("{}{section}{}", &old[..s], &old[e + end.len()..])
        }
        _ => format!("{old}\n## {heading}\n\n{section}\n"),
    };
    match std::fs::write(doc, new) {
        Ok(()) => eprintln!("wrote {}", doc.display()),
        Err(e) => eprintln!("cannot write {}: {e}", doc.display()),
    }
}

/// The 1, 5 and 15 minute load averages, "1.10, 1.75, 1.37".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The CPU's model name from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `rustc --version` of the compiler cargo uses.
pub fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    command_line(&rustc, &["--version"]).unwrap_or_else(|| "rustc (unknown version)".into())
}

/// Today's date (UTC), 2026-12-07.
pub fn today() -> String {
    command_line("date", &["-u", "+%Y-%m-%d"]).unwrap_or_else(|| "(unknown date)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&ms, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&ms, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&ms[..1], 50.0), Duration::from_millis(1));
    }

    #[test]
    fn a_section_is_replaced_or_appended() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("b.md");
        std::fs::write(&doc, "# B\n\n<!-- x:start -->\nold\n<!-- x:end -->\ntail\n").unwrap();
        write_doc_section(&doc, "x", "X", "new\n");
        assert_eq!(
            std::fs::read_to_string(&doc).unwrap(),
            "# B\n\n<!-- x:start -->\nnew\n<!-- x:end -->\ntail\n"
        );
        write_doc_section(&doc, "y", "Y", "why\n");
        assert!(
            std::fs::read_to_string(&doc)
                .unwrap()
                .ends_with("tail\n\n## Y\n\n<!-- y:start -->\nwhy\n<!-- y:end -->\n")
        );
    }
}
