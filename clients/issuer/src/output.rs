//! How results are printed: text for people by default, one JSON object per
//! command with `--json`. Errors go to standard error as text; with `--json`
//! standard output also gets `{"error": …, "exit_code": …}`.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{Value, json};

use crate::store::Activation;

/// What a command prints on success.
pub struct Report {
    /// The lines for people.
    pub human: String,
    /// The object for scripts.
    pub json: Value,
}

impl Report {
    pub fn new(human: String, json: Value) -> Self {
        Self { human, json }
    }
}

/// Prints `report` in the chosen form. A closed pipe is not an error worth
/// reporting.
pub fn print(report: &Report, json: bool) {
    let mut out = io::stdout().lock();
    let _ = if json {
        writeln!(out, "{}", report.json)
    } else {
        write!(out, "{}", report.human)
    };
    let _ = out.flush();
}

/// Prints an error; with `json`, also an object on standard output.
pub fn print_error(message: &str, exit_code: u8, json: bool) {
    eprintln!("tessera-issuer: {message}");
    if json {
        println!("{}", json!({ "error": message, "exit_code": exit_code }));
    }
}

/// Aligned `name: value` lines.
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (name, value) in rows {
        let _ = writeln!(out, "{:<width$} {value}", format!("{name}:"), width = width);
    }
    out
}

/// An activation for `show --json`. Never includes key material.
pub fn activation_json(a: &Activation) -> Value {
    json!({
        "serial": a.serial.as_str(),
        "state": a.state.as_str(),
        "label": a.label,
        "issuer": a.issuer,
        "user_id": a.user_id,
        "challenge": a.challenge.as_ref().map(|c| c.as_str()),
        "otp": a.otp.to_string(),
        "hotp_counter": a.hotp_counter(),
        "last_accepted": a.last_accepted,
        "nonce": a.nonce,
        "created_at": a.created_at,
        "bound_at": a.bound_at,
        "activated_at": a.activated_at,
        "revoked_at": a.revoked_at,
        "failed_attempts": a.failed_attempts,
        "locked_until": a.locked_until,
    })
}

/// An activation in detail, for `show --serial`.
pub fn activation_detail(a: &Activation) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let time = |t: Option<i64>| t.map_or_else(|| "-".into(), utc);
    let mut rows = vec![
        ("Serial", a.serial.to_string()),
        ("State", a.state.as_str().to_owned()),
        ("Label", opt(&a.label)),
        ("Issuer", opt(&a.issuer)),
        ("User ID", opt(&a.user_id)),
        (
            "Challenge",
            a.challenge
                .as_ref()
                .map_or_else(|| "-".into(), |c| c.to_string()),
        ),
        ("OTP", a.otp.to_string()),
    ];
    if let Some(counter) = a.hotp_counter() {
        rows.push(("Next counter", counter.to_string()));
    }
    rows.extend([
        (
            "Last accepted",
            a.last_accepted
                .map_or_else(|| "-".into(), |v| v.to_string()),
        ),
        (
            "Device instance",
            a.nonce.map_or_else(|| "-".into(), |v| v.to_string()),
        ),
        ("Created", utc(a.created_at)),
        ("Bound", time(a.bound_at)),
        ("Activated", time(a.activated_at)),
    ]);
    if a.revoked_at.is_some() {
        rows.push(("Revoked", time(a.revoked_at)));
    }
    if a.failed_attempts > 0 {
        rows.push(("Failed codes", a.failed_attempts.to_string()));
    }
    if let Some(until) = a.locked_until {
        rows.push(("Locked until", utc(until)));
    }
    fields(&rows)
}

/// Activations as a table, for `show`.
pub fn activation_table(list: &[Activation]) -> String {
    let header = ["SERIAL", "STATE", "OTP", "LABEL", "CREATED"];
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|a| {
            [
                a.serial.to_string(),
                a.state.as_str().to_owned(),
                a.otp.to_string(),
                a.label.clone().unwrap_or_else(|| "-".into()),
                utc(a.created_at),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let pad = w - cell.chars().count();
                let _ = write!(text, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// `2026-05-01 12:00:00Z` for Unix time `t` (proleptic Gregorian, UTC).
pub fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(59), "1970-01-01 00:00:59Z");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(utc(1_234_567_890), "2009-02-13 23:31:30Z");
        assert_eq!(utc(4_102_444_799), "2099-12-31 23:59:59Z");
        assert_eq!(utc(-1), "1969-12-31 23:59:59Z");
    }

    #[test]
    fn fields_align() {
        let text = fields(&[("Serial", "A".into()), ("Activation code", "B".into())]);
        assert_eq!(text, "Serial:          A\nActivation code: B\n");
    }
}
