//! Callers of another uid are refused: the daemon runs as `nobody` and root
//! calls it (root can open the 0600 socket, so only the peer check stops it).

mod common;

use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;

use common::*;
use tessera_proto::v1 as pb;

const NOBODY: u32 = 65534;

#[tokio::test]
async fn a_caller_of_another_uid_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root to run the daemon as another user (CI runs as root)");
        return;
    }
    let mut d = Daemon::unstarted();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.config_path(), FAST_CONFIG).unwrap();
    std::fs::set_permissions(d.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    for dir in [d.data_dir(), d.runtime_dir()] {
        std::fs::create_dir(&dir).unwrap();
        chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mut cmd = d.command();
    cmd.uid(NOBODY).gid(NOBODY);
    d.spawn(cmd);

    let e = d
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    assert_eq!(error_code(&e), "ERROR_CODE_PERMISSION_DENIED");
    assert!(
        e.message().contains("serves only uid 65534"),
        "{}",
        e.message()
    );
    let e = d
        .accounts()
        .await
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    // The daemon lives on after refusing.
    assert!(d.child.as_mut().unwrap().try_wait().unwrap().is_none());
}
