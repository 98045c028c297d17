//! A real `tesserad` on a real socket in a temporary folder, and gRPC
//! clients connected to it.

#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tessera_proto::v1 as pb;
use tonic::transport::{Channel, Endpoint};

/// Fast Argon2 so tests do not spend seconds per PIN.
pub const FAST_CONFIG: &str = "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\n";

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
}

impl Daemon {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir().join("tessera.sock")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("tessera.toml")
    }

    /// Starts a daemon with `config` and waits until its socket accepts.
    pub fn start(config: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Daemon { dir, child: None };
        std::fs::write(d.config_path(), config).unwrap();
        d.restart();
        d
    }

    /// The command line of this daemon (for tests that run it themselves).
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tesserad"));
        c.arg("--foreground")
            .arg("--config")
            .arg(self.config_path())
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--runtime-dir")
            .arg(self.runtime_dir())
            .env("RUST_LOG", "warn")
            .env_remove("JOURNAL_STREAM");
        c
    }

    pub fn restart(&mut self) {
        self.stop();
        let child = self
            .command()
            .stdin(Stdio::null())
            .spawn()
            .expect("tesserad starts");
        self.child = Some(child);
        wait_for_socket(&self.socket(), self.child.as_mut().unwrap());
    }

    /// SIGTERM, then waits; returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        Some(child.wait().unwrap())
    }

    pub async fn channel(&self) -> Channel {
        connect(&self.socket()).await
    }

    pub async fn accounts(&self) -> pb::accounts_client::AccountsClient<Channel> {
        pb::accounts_client::AccountsClient::new(self.channel().await)
    }

    pub async fn vault(&self) -> pb::vault_client::VaultClient<Channel> {
        pb::vault_client::VaultClient::new(self.channel().await)
    }

    pub async fn activation(&self) -> pb::activation_client::ActivationClient<Channel> {
        pb::activation_client::ActivationClient::new(self.channel().await)
            .max_encoding_message_size(32 << 20)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn wait_for_socket(socket: &Path, child: &mut Child) {
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("tesserad exited before serving: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "tesserad did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

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

/// The typed error code of a failed call.
pub fn error_code(status: &tonic::Status) -> String {
    status
        .metadata()
        .get(pb::ERROR_CODE_METADATA)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub fn event(kind: pb::event::Kind) -> Option<pb::Event> {
    Some(pb::Event { kind: Some(kind) })
}

pub fn state_name(view: &pb::ActivationView) -> &'static str {
    use pb::activation_state::Kind as K;
    match view.state.as_ref().and_then(|s| s.kind.as_ref()) {
        Some(K::Home(_)) => "home",
        Some(K::Scanning(_)) => "scanning",
        Some(K::DeviceCode(_)) => "device_code",
        Some(K::ChoosePin(_)) => "choose_pin",
        Some(K::ConfirmPin(_)) => "confirm_pin",
        Some(K::EnterPin(_)) => "enter_pin",
        Some(K::ChooseMethod(_)) => "choose_method",
        Some(K::BiometricPermission(_)) => "biometric_permission",
        Some(K::BiometricEnroll(_)) => "biometric_enroll",
        Some(K::FinalizeCode(_)) => "finalize_code",
        Some(K::NotificationPermission(_)) => "notification_permission",
        Some(K::Activated(_)) => "activated",
        Some(K::CancelConfirm(_)) => "cancel_confirm",
        Some(K::Failed(_)) => "failed",
        None => "none",
    }
}

/// The code shown in a device-code or finalize-code state.
pub fn shown_code(view: &pb::ActivationView) -> String {
    use pb::activation_state::Kind as K;
    match view.state.as_ref().and_then(|s| s.kind.as_ref()) {
        Some(K::DeviceCode(c)) | Some(K::FinalizeCode(c)) => c.code.clone(),
        other => panic!("no code shown in {other:?}"),
    }
}
