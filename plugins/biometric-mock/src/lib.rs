//! `biometric-mock`: a biometric plugin whose answers a test scripts, for
//! the daemon's and the CLI's tests (no fingerprint reader exists there).
//!
//! The script is the file named by `TESSERA_BIOMETRIC_MOCK` in the daemon's
//! environment, read at every call, one instruction per line (`#` starts a
//! comment):
//!
//! ```text
//! unavailable no fingerprint reader   # availability: UNAVAILABLE, with the reason
//! enrolled 0                          # availability: fingers enrolled (default 1)
//! enroll 3                            # an enroll passes 3 stages, then succeeds
//! enroll 2 hang                       # … passes 2 stages, then waits until cancelled
//! enroll fail the sensor broke        # an enroll fails with the message
//! verify match                        # a verify: match
//! verify no-match                     # … no match
//! verify retry                        # … a retry report, then a match
//! verify timeout                      # … no finger in time
//! verify hang                         # … waits until cancelled (or its deadline)
//! verify fail the sensor broke        # … fails with the message
//! ```
//!
//! `enroll` and `verify` lines are used in order, one per call, and the
//! last one of each repeats: the used line is removed from the file while
//! another of its kind follows. Every call is appended to `<script>.log`
//! (`availability`, `enroll`, `verify match`, …, `cancelled`), so a test can
//! see what the daemon asked. Without the variable the plugin is
//! unavailable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tessera_plugin_api::{
    Availability, Biometric, BiometricCall, BiometricFailure, export_biometric,
};

/// The environment variable naming the script.
pub const SCRIPT_VARIABLE: &str = "TESSERA_BIOMETRIC_MOCK";

struct Mock {
    /// One call at a time edits the script.
    lock: Mutex<()>,
}

fn script_path() -> Result<PathBuf, BiometricFailure> {
    std::env::var_os(SCRIPT_VARIABLE)
        .map(PathBuf::from)
        .ok_or_else(|| {
            BiometricFailure::Unavailable(format!(
                "biometric-mock: no script ({SCRIPT_VARIABLE} is unset)"
            ))
        })
}

fn read(path: &Path) -> Result<Vec<String>, BiometricFailure> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_owned).collect())
        .map_err(|e| {
            BiometricFailure::Unavailable(format!(
                "biometric-mock: cannot read {}: {e}",
                path.display()
            ))
        })
}

fn log(path: &Path, line: &str) {
    let mut log = path.as_os_str().to_owned();
    log.push(".log");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The instruction of a line: (word, rest), without comments.
fn parse(line: &str) -> Option<(&str, &str)> {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() {
        return None;
    }
    Some(match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    })
}

impl Mock {
    /// Takes the next `word` instruction (removing it unless it is the last
    /// of its kind).
    fn take(&self, word: &str) -> Result<Option<String>, BiometricFailure> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let path = script_path()?;
        let mut lines = read(&path)?;
        let found: Vec<usize> = (0..lines.len())
            .filter(|&i| parse(&lines[i]).is_some_and(|(w, _)| w == word))
            .collect();
        let Some(&first) = found.first() else {
            return Ok(None);
        };
        let rest = parse(&lines[first])
            .map(|(_, r)| r.to_owned())
            .unwrap_or_default();
        if found.len() > 1 {
            lines.remove(first);
            let mut text = lines.join("\n");
            text.push('\n');
            std::fs::write(&path, text).map_err(|e| {
                BiometricFailure::Failed(format!("biometric-mock: cannot rewrite the script: {e}"))
            })?;
        }
        log(&path, format!("{word} {rest}").trim_end());
        Ok(Some(rest))
    }

    fn wait_for_cancel(&self, call: &BiometricCall<'_>) -> BiometricFailure {
        while Instant::now() < call.deadline() {
            if call.is_cancelled() {
                if let Ok(path) = script_path() {
                    log(&path, "cancelled");
                }
                return BiometricFailure::Cancelled;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        BiometricFailure::TimedOut("biometric-mock: no finger in time".into())
    }
}

impl Biometric for Mock {
    fn availability(&self, _call: &BiometricCall<'_>) -> Result<Availability, BiometricFailure> {
        let path = script_path()?;
        let lines = read(&path)?;
        log(&path, "availability");
        let mut enrolled = 1;
        for (word, rest) in lines.iter().filter_map(|l| parse(l)) {
            match word {
                "unavailable" => return Err(BiometricFailure::Unavailable(rest.to_owned())),
                "enrolled" => {
                    enrolled = rest.parse().map_err(|_| {
                        BiometricFailure::Failed(format!(
                            "biometric-mock: `enrolled {rest}` needs a number"
                        ))
                    })?
                }
                _ => {}
            }
        }
        Ok(Availability {
            device_present: true,
            enrolled,
            message: "Mock fingerprint reader".into(),
        })
    }

    fn enroll(&self, call: &BiometricCall<'_>) -> Result<(), BiometricFailure> {
        let rest = self.take("enroll")?.unwrap_or_else(|| "1".into());
        if let Some(message) = rest.strip_prefix("fail") {
            return Err(BiometricFailure::Failed(message.trim().to_owned()));
        }
        if rest == "hang" {
            return Err(self.wait_for_cancel(call));
        }
        let (rest, hang) = match rest.strip_suffix("hang") {
            Some(stages) => (stages.trim().to_owned(), true),
            None => (rest, false),
        };
        let stages: u32 = rest.parse().map_err(|_| {
            BiometricFailure::Failed(format!("biometric-mock: `enroll {rest}` needs a number"))
        })?;
        for stage in 1..=stages {
            if call.is_cancelled() {
                return Err(BiometricFailure::Cancelled);
            }
            call.stage(stage, stages, "Place your finger on the reader again");
        }
        if hang {
            return Err(self.wait_for_cancel(call));
        }
        Ok(())
    }

    fn verify(&self, call: &BiometricCall<'_>) -> Result<(), BiometricFailure> {
        let rest = self.take("verify")?.unwrap_or_else(|| "match".into());
        match rest.as_str() {
            "match" => Ok(()),
            "no-match" => Err(BiometricFailure::NoMatch(
                "the fingerprint did not match".into(),
            )),
            "retry" => {
                call.retry(0, 0, "The swipe was too short; try again");
                Ok(())
            }
            "timeout" => Err(BiometricFailure::TimedOut(
                "biometric-mock: no finger in time".into(),
            )),
            "hang" => Err(self.wait_for_cancel(call)),
            other => match other.strip_prefix("fail") {
                Some(message) => Err(BiometricFailure::Failed(message.trim().to_owned())),
                None => Err(BiometricFailure::Failed(format!(
                    "biometric-mock: unknown instruction `verify {other}`"
                ))),
            },
        }
    }
}

export_biometric! {
    name: "biometric-mock",
    version: env!("CARGO_PKG_VERSION"),
    biometric: Mock { lock: Mutex::new(()) },
}
