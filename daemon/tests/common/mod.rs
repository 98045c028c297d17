//! A real `tesserad` on a real socket in a temporary folder, and gRPC
//! clients connected to it.

#![allow(dead_code)] // each test file uses a different part

pub mod keyring;

use std::ops::{Deref, DerefMut};

use tessera_proto::v1 as pb;
pub use tessera_testkit::daemon::Tesserad;
use tonic::transport::Channel;

/// Fast Argon2 so tests do not spend seconds per PIN.
pub const FAST_CONFIG: &str = "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\n";

/// A `tesserad` of this package in a temporary folder ([`Tesserad`]: its
/// paths, `command()`, `restart()`, `stop()`, `channel()`), with the gRPC
/// clients of these tests.
pub struct Daemon(pub Tesserad);

impl Deref for Daemon {
    type Target = Tesserad;
    fn deref(&self) -> &Tesserad {
        &self.0
    }
}

impl DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Tesserad {
        &mut self.0
    }
}

impl Daemon {
    /// A daemon in a new temporary folder, not started, no settings file.
    pub fn unstarted() -> Daemon {
        Daemon(Tesserad::new(env!("CARGO_BIN_EXE_tesserad")))
    }

    /// As [`Daemon::unstarted`], in `dir`.
    pub fn in_dir(dir: tempfile::TempDir) -> Daemon {
        Daemon(Tesserad::in_dir(env!("CARGO_BIN_EXE_tesserad"), dir))
    }

    /// Starts a daemon with `config` and waits until its socket accepts.
    pub fn start(config: &str) -> Daemon {
        Daemon(Tesserad::start(env!("CARGO_BIN_EXE_tesserad"), config))
    }

    pub async fn accounts(&self) -> pb::accounts_client::AccountsClient<Channel> {
        pb::accounts_client::AccountsClient::new(self.channel().await)
    }

    pub async fn vault(&self) -> pb::vault_client::VaultClient<Channel> {
        pb::vault_client::VaultClient::new(self.channel().await)
    }

    pub async fn backup(&self) -> pb::backup_client::BackupClient<Channel> {
        pb::backup_client::BackupClient::new(self.channel().await)
            .max_encoding_message_size(32 << 20)
    }

    pub async fn signing(&self) -> pb::signing_client::SigningClient<Channel> {
        pb::signing_client::SigningClient::new(self.channel().await)
    }

    pub async fn activation(&self) -> pb::activation_client::ActivationClient<Channel> {
        pb::activation_client::ActivationClient::new(self.channel().await)
            .max_encoding_message_size(32 << 20)
    }
}

/// Changes a byte of the vault file's encrypted accounts and writes its
/// trailing SHA-256 again, as a tool that rewrote the file would: start-up
/// reads it, only the body's tag can tell. Returns the new bytes.
pub fn damage_vault_body(vault: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(vault).unwrap();
    let body_end = bytes.len() - 32;
    bytes[body_end - 20] ^= 0x01;
    let sum = <sha2::Sha256 as sha2::Digest>::digest(&bytes[..body_end]);
    bytes[body_end..].copy_from_slice(&sum);
    std::fs::write(vault, &bytes).unwrap();
    bytes
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

/// Unlock with `pin` (method AUTO); the reply's status.
pub async fn unlock(
    vault: &mut pb::vault_client::VaultClient<tonic::transport::Channel>,
    pin: &str,
) -> Result<pb::VaultStatus, tonic::Status> {
    vault
        .unlock(pb::UnlockRequest {
            pin: pin.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// The vault's status (the call must succeed).
pub async fn vault_status(
    vault: &mut pb::vault_client::VaultClient<tonic::transport::Channel>,
) -> pb::VaultStatus {
    vault
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// Activates `payload` with `pin` through [`tessera_testkit::activation`];
/// the `activated` view.
pub async fn activate_payload(d: &Daemon, payload: &str, pin: &str) -> pb::ActivationView {
    tessera_testkit::activation::activate(d.channel().await, payload, pin).await
}

/// The code shown in a device-code or finalize-code state.
pub fn shown_code(view: &pb::ActivationView) -> String {
    use pb::activation_state::Kind as K;
    match view.state.as_ref().and_then(|s| s.kind.as_ref()) {
        Some(K::DeviceCode(c)) | Some(K::FinalizeCode(c)) => c.code.clone(),
        other => panic!("no code shown in {other:?}"),
    }
}

/// Unmounts a small tmpfs when dropped (after the daemon using it).
pub struct Mount(std::path::PathBuf);

impl Mount {
    /// A tmpfs of `size` (e.g. "512k") on `dir`, mode 0700; `None` where
    /// mounting is not allowed (not root).
    pub fn tmpfs(dir: &std::path::Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_owned()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system of `dir` until a write fails (ENOSPC).
pub fn fill(dir: &std::path::Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).and_then(|()| f.sync_data()).is_ok() {}
}
