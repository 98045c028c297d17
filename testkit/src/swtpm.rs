//! A real software TPM (swtpm 0.7, libtpms) per test, on loopback TCP: a
//! fresh state folder (or a kept one, for a "reboot"), a free port pair,
//! killed when dropped. tss-esapi 7 reaches it as `swtpm:host=…,port=…`
//! (it does not parse the Unix-socket form), and tpm2-tools through
//! `TPM2TOOLS_TCTI`.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running swtpm. Its state folder lives as long as the value (or is
/// handed on by [`Swtpm::reboot`]).
pub struct Swtpm {
    /// `Some` until [`Swtpm::reboot`] hands it to the next run.
    state: Option<tempfile::TempDir>,
    port: u16,
    child: Child,
}

impl Swtpm {
    /// A TPM with a fresh state: its own storage key, PCRs at zero, the
    /// libtpms lock-out defaults (3 tries, 1000 s) relaxed to `max_tries`
    /// wrong tries and a 1000 s recovery unless the test sets them.
    pub fn start() -> Swtpm {
        let state = tempfile::tempdir().expect("a state folder for swtpm");
        Self::start_in(state)
    }

    fn start_in(mut state: tempfile::TempDir) -> Swtpm {
        assert!(
            which("swtpm"),
            "swtpm is not installed: scripts/test installs swtpm, swtpm-tools and tpm2-tools"
        );
        for _ in 0..20 {
            let port = free_port_pair();
            let mut command = Command::new("swtpm");
            // tpm2-tss opens its sockets without close-on-exec: a test that
            // talks to one swtpm while another test starts its own would hand
            // the new swtpm that connection, which then holds the first
            // swtpm's one-client control port for ever (a hang). The child
            // keeps only its standard streams.
            // SAFETY: close_range is async-signal-safe and touches no memory.
            unsafe {
                command.pre_exec(|| {
                    libc::close_range(3, libc::c_uint::MAX, 0);
                    Ok(())
                });
            }
            let child = command
                .arg("socket")
                .arg("--tpm2")
                .arg("--tpmstate")
                .arg(format!("dir={}", state.path().display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .args(["--flags", "startup-clear"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start swtpm");
            let mut tpm = Swtpm {
                state: Some(state),
                port,
                child,
            };
            if tpm.wait_ready() {
                return tpm;
            }
            // The port was taken between the probe and the start: retry.
            state = tpm.take_state();
        }
        panic!("swtpm did not start on any of 20 ports");
    }

    /// Stops swtpm and keeps its state folder.
    fn take_state(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.state.take().expect("the state is kept until taken")
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The TCTI string for tss-esapi (`tpm.tcti` in Tessera's settings).
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The state folder (NVRAM: the seeds, hence the storage key).
    pub fn state_dir(&self) -> &Path {
        self.state.as_ref().expect("kept while running").path()
    }

    /// A power cycle: swtpm is stopped and started again on the same state,
    /// so the storage key is the same and the PCRs are back at zero.
    pub fn reboot(self) -> Swtpm {
        let state = self.take_state();
        Self::start_in(state)
    }

    /// Runs a tpm2-tools command against this TPM; panics with its output
    /// when it fails.
    pub fn tool(&self, program: &str, args: &[&str]) -> Output {
        let out = self.try_tool(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs a tpm2-tools command and returns its output, failed or not.
    pub fn try_tool(&self, program: &str, args: &[&str]) -> Output {
        // tpm2-tools talks to swtpm through libtss2-tcti-swtpm.
        Command::new(program)
            .args(args)
            .env("TPM2TOOLS_TCTI", self.tcti())
            .output()
            .unwrap_or_else(|e| panic!("run {program} (tpm2-tools): {e}"))
    }

    /// Sets the dictionary-attack parameters: `max_tries` wrong
    /// authValues before the lock-out, `recovery_s` seconds for one to
    /// expire.
    pub fn set_lockout(&self, max_tries: u32, recovery_s: u32) {
        self.tool(
            "tpm2_dictionarylockout",
            &[
                "--setup-parameters",
                "--max-tries",
                &max_tries.to_string(),
                "--recovery-time",
                &recovery_s.to_string(),
                "--lockout-recovery-time",
                "1",
            ],
        );
    }

    /// Extends a SHA-256 PCR with a value (as a boot component would).
    pub fn extend_pcr(&self, pcr: u8, byte: u8) {
        let value = hex32(byte);
        self.tool("tpm2_pcrextend", &[&format!("{pcr}:sha256={value}")]);
    }

    /// Gives the owner hierarchy a password.
    pub fn set_owner_password(&self, password: &str) {
        self.tool("tpm2_changeauth", &["-c", "owner", password]);
    }

    /// A path for tpm2-tools' output files, in a folder beside the state.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.state_dir().join("scratch");
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir.join(name)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex32(byte: u8) -> String {
    format!("{byte:02x}").repeat(32)
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// A port P with P + 1 free too (swtpm's control port), both on loopback.
fn free_port_pair() -> u16 {
    loop {
        let first = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
        let port = first.local_addr().expect("local address").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}
