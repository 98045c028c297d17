//! The real `tesserad` on a real socket in a temporary folder.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};

/// How long [`Tesserad::stop`] waits after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A `tesserad` binary with its own temporary folder: the settings file
/// (`tessera.toml` unless [`with_config_name`](Self::with_config_name)),
/// `data/`, the runtime folder (`run/` unless
/// [`with_runtime_dir`](Self::with_runtime_dir)) and, when started by
/// [`restart`](Self::restart), its stderr in `tesserad.log`. Killed when
/// dropped.
pub struct Tesserad {
    pub dir: tempfile::TempDir,
    /// The running daemon, if any.
    pub child: Option<Child>,
    bin: PathBuf,
    runtime_dir: PathBuf,
    config_name: String,
    env: Vec<(OsString, OsString)>,
}

impl Tesserad {
    /// The binary `bin` on a new temporary folder; nothing written or
    /// started yet.
    pub fn new(bin: impl Into<PathBuf>) -> Tesserad {
        Tesserad::in_dir(bin, tempfile::tempdir().unwrap())
    }

    /// As [`Tesserad::new`], in `dir`.
    pub fn in_dir(bin: impl Into<PathBuf>, dir: tempfile::TempDir) -> Tesserad {
        Tesserad {
            runtime_dir: dir.path().join("run"),
            dir,
            child: None,
            bin: bin.into(),
            config_name: "tessera.toml".to_owned(),
            env: Vec::new(),
        }
    }

    /// Writes `config` as the settings file, starts the daemon and waits
    /// until its socket accepts.
    pub fn start(bin: impl Into<PathBuf>, config: &str) -> Tesserad {
        let mut d = Tesserad::new(bin);
        d.write_config(config);
        d.restart();
        d
    }

    /// Serves `runtime_dir/tessera.sock` instead of `DIR/run/tessera.sock`.
    pub fn with_runtime_dir(mut self, runtime_dir: impl Into<PathBuf>) -> Tesserad {
        self.runtime_dir = runtime_dir.into();
        self
    }

    /// Names the settings file in the folder `name`.
    pub fn with_config_name(mut self, name: &str) -> Tesserad {
        self.config_name = name.to_owned();
        self
    }

    /// Sets `key=value` in the daemon's environment (e.g.
    /// `DBUS_SESSION_BUS_ADDRESS`), in every [`command`](Self::command).
    pub fn with_env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Tesserad {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.runtime_dir.clone()
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("tessera.sock")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join(&self.config_name)
    }

    /// Where [`restart`](Self::restart) sends the daemon's stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("tesserad.log")
    }

    /// What the daemon wrote on stderr (warnings and errors), when started
    /// by [`restart`](Self::restart).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Writes the settings file.
    pub fn write_config(&self, config: &str) {
        std::fs::write(self.config_path(), config).unwrap();
    }

    /// The daemon's command line (for tests that run it themselves):
    /// `--foreground`, the settings file, the folders, `RUST_LOG=warn`, no
    /// journal, and the extra environment.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--config").arg(self.config_path());
        self.with_folders(c)
    }

    /// As [`command`](Self::command), reading the standard layers instead
    /// of one file: `DIR/root` is the configuration root (`--config-root`:
    /// `DIR/root/usr/share/tessera/tessera.toml`, `DIR/root/etc/tessera/…`)
    /// and `DIR/home` the user's `XDG_CONFIG_HOME`.
    pub fn layered_command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--config-root")
            .arg(self.dir.path().join("root"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("home"))
            .env_remove("TESSERA_CONFIG_ROOT");
        self.with_folders(c)
    }

    /// `--foreground`, the folders, `RUST_LOG=warn`, no journal, and the
    /// extra environment.
    fn with_folders(&self, mut c: Command) -> Command {
        c.arg("--foreground")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--runtime-dir")
            .arg(self.runtime_dir())
            .env("RUST_LOG", "warn")
            .env_remove("JOURNAL_STREAM");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Stops the daemon if it runs, starts [`command`](Self::command)
    /// (stdin and stdout null, stderr appended to [`log`](Self::log)) and
    /// waits until its socket accepts.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut command = self.command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.spawn(command);
    }

    /// Runs `command` (normally [`command`](Self::command), changed by the
    /// test) as this daemon and waits until its socket accepts.
    pub fn spawn(&mut self, mut command: Command) {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("tesserad ({}) starts: {e}", self.bin.display()));
        self.child = Some(child);
        self.wait_for_socket();
    }

    /// Polls the socket (30 s at most) until it accepts; panics with the
    /// exit status and the log if the daemon ends first.
    pub fn wait_for_socket(&mut self) {
        let socket = self.socket();
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            let child = self.child.as_mut().expect("tesserad was started");
            if let Some(status) = child.try_wait().unwrap() {
                panic!("tesserad exited before serving ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tesserad did not open {} in 30 s:\n{}",
                socket.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then waits (SIGKILL after 30 s); the exit status, or `None`
    /// when not running.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.stop_within(STOP_TIMEOUT)
    }

    /// SIGTERM, then waits; SIGKILL after `timeout`.
    pub fn stop_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        while let Ok(None) = child.try_wait() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(child.wait().unwrap())
    }

    /// A gRPC channel to the daemon's socket.
    pub async fn channel(&self) -> Channel {
        connect(&self.socket()).await
    }
}

impl Drop for Tesserad {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A gRPC channel over the Unix socket `socket`.
pub async fn connect(socket: &Path) -> Channel {
    let socket = socket.to_owned();
    Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .expect("connects to tesserad")
}
