//! The real `tesserad` on a real socket in a temporary folder, and the
//! `tessera` binary run against it.
//!
//! `tesserad` is found next to this test executable (`target/debug/tesserad`,
//! built by `cargo build -p tessera-daemon` or `cargo test --workspace`) or at
//! `$TESSERAD_BIN`. A missing daemon fails the test: it is never skipped.

#![allow(dead_code)] // each test file uses a different part

pub mod pty;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tessera_core::activation::{ActivationCode, ActivationKey, Serial};
use tessera_core::payload::{Form, TesseraPayload};
pub use tessera_testkit::daemon::Tesserad;

/// Fast Argon2, so that a PIN costs milliseconds; auto-lock after 15 min.
pub const FAST_CONFIG: &str =
    "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\nauto_lock_minutes = 15\n";

/// [`FAST_CONFIG`] plus the notification question at the end of an
/// activation (off by default in the daemon).
pub const NOTIFY_CONFIG: &str = "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\n\
     auto_lock_minutes = 15\n[activation]\nnotifications = true\n";

/// The vault PIN of [`Daemon::with_accounts`] (and of most tests).
pub const PIN: &str = "482913";

/// The Tessera account of [`Daemon::with_accounts`].
pub const ALICE_SERIAL: &str = "TSR0000001";
pub const ALICE_KEY: u8 = 0x11;
pub const ALICE_LABEL: &str = "alice@example.com";
pub const ALICE_ISSUER: &str = "Example Bank";

/// The otpauth account of [`Daemon::with_accounts`]; its secret is
/// [`GITHUB_SECRET`].
pub const GITHUB_URI: &str = "otpauth://totp/GitHub:github?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";
pub const GITHUB_SECRET: &[u8] = b"Hello!\xde\xad\xbe\xef";

pub fn tessera_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tessera")
}

/// The `tesserad` binary: `$TESSERAD_BIN`, or `target/debug/tesserad`.
pub fn tesserad_bin() -> PathBuf {
    tessera_testkit::bins::workspace_bin("tesserad")
}

/// A running `tesserad` ([`Tesserad`]: `dir`, `socket()`, `log()`, …) with
/// its own data, runtime and config in a temporary folder; stopped
/// (SIGTERM) when dropped.
pub struct Daemon(Tesserad);

impl Deref for Daemon {
    type Target = Tesserad;
    fn deref(&self) -> &Tesserad {
        &self.0
    }
}

impl Daemon {
    /// A daemon with no vault yet, and the daemon's default of no
    /// notification question.
    pub fn start() -> Daemon {
        Self::start_with(FAST_CONFIG)
    }

    /// A daemon with `config` as its settings file; waits until its socket
    /// accepts connections.
    pub fn start_with(config: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("run");
        Self::start_in(dir, runtime, config)
    }

    /// As [`Daemon::start_with`], serving `runtime/tessera.sock`.
    pub fn start_in(dir: tempfile::TempDir, runtime: PathBuf, config: &str) -> Daemon {
        let mut d = Tesserad::in_dir(tesserad_bin(), dir)
            .with_runtime_dir(runtime)
            .with_config_name("tesserad.toml");
        d.write_config(config);
        d.restart();
        Daemon(d)
    }

    /// A daemon whose vault has the PIN [`PIN`] and two accounts, unlocked:
    /// `alice@example.com` (Example Bank, Tessera, serial [`ALICE_SERIAL`])
    /// then `github` (GitHub, TOTP), both activated with `tessera` itself.
    pub fn with_accounts() -> Daemon {
        let d = Daemon::start();
        let pin = d.file("pin", PIN.as_bytes());
        let alice = tessera_payload(
            ALICE_SERIAL,
            ALICE_KEY,
            Some(ALICE_LABEL),
            Some(ALICE_ISSUER),
        );
        for payload in [alice.as_str(), GITHUB_URI] {
            let out = d.run(&["activate", "--uri", payload, "--pin-file", path_str(&pin)]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "seeding {payload}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
        d
    }

    /// `tessera --socket SOCKET ARGS…` without a terminal (stdin is null).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(tessera_bin());
        c.arg("--socket").arg(self.socket()).args(args);
        c.env_remove("TESSERA_SOCKET");
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `tessera ARGS…` with `input` on its standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Writes a file in the daemon's temporary folder.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `tessera list --json`'s accounts.
    pub fn accounts(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["list", "--json"]);
        assert_eq!(out.status.code(), Some(0), "list: {}", stdout(&out));
        json_lines(&out)[0]["accounts"].as_array().unwrap().clone()
    }

    /// The id of the account labelled `label`.
    pub fn account_id(&self, label: &str) -> String {
        self.accounts()
            .iter()
            .find(|a| a["label"] == label)
            .unwrap_or_else(|| panic!("no account {label}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `tessera status --json`.
    pub fn status(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        assert_eq!(out.status.code(), Some(0), "status: {}", stdout(&out));
        json_lines(&out)[0].clone()
    }

    /// Whether `tessera unlock` takes `pin` (the vault is locked first).
    pub fn pin_opens_the_vault(&self, pin: &str) -> bool {
        let out = self.run(&["lock"]);
        assert_eq!(out.status.code(), Some(0), "lock: {}", stderr(&out));
        let file = self.file("pin-check", pin.as_bytes());
        let out = self.run(&["unlock", "--pin-file", path_str(&file), "--json"]);
        out.status.code() == Some(0)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.0.stop_within(Duration::from_secs(5));
    }
}

/// A Tessera payload in its tag form (`<QRCode><SN>…</SN><AC>…</AC>…`), with
/// the activation key `[key; 16]`.
pub fn tessera_payload(serial: &str, key: u8, label: Option<&str>, issuer: Option<&str>) -> String {
    let serial: Serial = serial.parse().unwrap();
    let code = ActivationCode::new(&serial, &ActivationKey::from_bytes([key; 16]));
    let mut p = TesseraPayload::new(serial, code);
    p.label = label.map(str::to_owned);
    p.issuer = issuer.map(str::to_owned);
    p.write(Form::Tag)
}

/// The activation code for `serial` and the key `[key; 16]`, in the blocks
/// a person types.
pub fn activation_code(serial: &str, key: u8) -> String {
    let serial: Serial = serial.parse().unwrap();
    ActivationCode::new(&serial, &ActivationKey::from_bytes([key; 16])).grouped()
}

/// A PNG of a QR code holding `text`.
pub fn qr_png(text: &str, path: &Path) {
    std::fs::write(path, tessera_testkit::images::qr_png(text)).unwrap();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON lines of stdout.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// The `state` of each JSON line (`<none>` for the final error line).
pub fn states(lines: &[serde_json::Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["state"].as_str().unwrap_or("<none>"))
        .collect()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether `s` is `total` digits in blocks of `block` joined by spaces
/// (`0123 4567 8998`), as the daemon groups every code.
pub fn is_grouped(s: &str, block: usize, total: usize) -> bool {
    let digits: String = s.chars().filter(|c| *c != ' ').collect();
    digits.len() == total
        && digits.chars().all(|c| c.is_ascii_digit())
        && s.split(' ').all(|b| b.len() == block)
}

/// The digits and single spaces right after `label` in `text` (a code on
/// screen).
pub fn code_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let start = text.find(label)? + label.len();
    let rest = &text[start..];
    let bytes = rest.as_bytes();
    let mut end = 0;
    while end < bytes.len()
        && (bytes[end].is_ascii_digit()
            || (bytes[end] == b' ' && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)))
    {
        end += 1;
    }
    Some(&rest[..end])
}
