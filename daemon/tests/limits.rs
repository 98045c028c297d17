//! Files that are not what they should be: the daemon reads every file it
//! opens as a regular file within a size limit, so a FIFO as the vault or
//! a link to `/dev/zero` as the settings file is a clear error naming the
//! file, never a hang or unbounded memory.

mod common;

use common::*;
use tessera_proto::v1 as pb;

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[tokio::test]
async fn a_fifo_as_the_vault_is_named_and_the_daemon_keeps_serving() {
    let mut d = Daemon::unstarted();
    d.write_config(FAST_CONFIG);
    let data = d.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let vault = data.join("vault");
    mkfifo(&vault);
    // Opening a FIFO for reading without O_NONBLOCK would wait for a
    // writer for ever: the socket would never accept.
    d.restart();
    let status = d
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .expect_err("a FIFO is no vault");
    assert_eq!(
        error_code(&status),
        "ERROR_CODE_VAULT_UNUSABLE",
        "{status:?}"
    );
    let msg = status.message();
    assert!(msg.contains(&vault.display().to_string()), "{msg}");
    assert!(msg.contains("FIFO"), "{msg}");
    // Nothing was written in its place.
    let kind = std::fs::symlink_metadata(&vault).unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
}

#[test]
fn a_link_to_dev_zero_as_the_settings_file_is_refused_by_name() {
    let d = Daemon::unstarted();
    let config = d.config_path();
    std::os::unix::fs::symlink("/dev/zero", &config).unwrap();
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}
