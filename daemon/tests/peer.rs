//! Callers of another uid are refused: the daemon runs as `nobody` and root
//! calls it (root can open the 0600 socket, so only the peer check stops it).
//! And the daemon refuses to start where another user could swap its
//! socket: a runtime folder (or its parent) writable by others or not the
//! user's.

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

/// `tesserad --foreground` with `runtime_dir` as its runtime folder; the
/// exit status and stderr when it stops at start-up (it is killed if it
/// starts serving instead, and `None` returned).
fn start_fails(d: &Daemon, runtime_dir: &std::path::Path) -> Option<String> {
    let mut cmd = d.command();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut fixed = std::process::Command::new(cmd.get_program());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--runtime-dir" {
            fixed.arg("--runtime-dir").arg(runtime_dir);
            i += 2;
        } else {
            fixed.arg(&args[i]);
            i += 1;
        }
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => fixed.env(k, v),
            None => fixed.env_remove(k),
        };
    }
    cmd = fixed;
    cmd.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let socket = runtime_dir.join("tessera.sock");
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return Some(err);
        }
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn fast_config(d: &Daemon) {
    std::fs::write(d.config_path(), FAST_CONFIG).unwrap();
}

#[test]
fn a_runtime_folder_in_a_folder_others_can_write_to_is_refused() {
    let d = Daemon::unstarted();
    fast_config(&d);
    let open = d.dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = start_fails(&d, &open.join("tessera")).expect("refused to start");
    assert!(
        err.contains(&format!(
            "{} can be written by others (mode 0777, no sticky bit)",
            open.display()
        )),
        "{err}"
    );
    // With the sticky bit (as /tmp has) nobody else can rename our folder.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(start_fails(&d, &open.join("tessera")), None);
}

#[test]
fn a_runtime_folder_others_can_write_to_is_refused() {
    let d = Daemon::unstarted();
    fast_config(&d);
    let swapped = d.dir.path().join("run");
    std::fs::create_dir(&swapped).unwrap();
    std::fs::set_permissions(&swapped, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = start_fails(&d, &swapped).expect("refused to start");
    assert!(
        err.contains(&format!(
            "{} can be written by others (mode 0777)",
            swapped.display()
        )),
        "{err}"
    );
    // It was left as it was: the person decides.
    assert_eq!(
        std::fs::metadata(&swapped).unwrap().permissions().mode() & 0o7777,
        0o777
    );
    // Only readable by others: made private, and served.
    std::fs::set_permissions(&swapped, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(start_fails(&d, &swapped), None);
    assert_eq!(
        std::fs::metadata(&swapped).unwrap().permissions().mode() & 0o7777,
        0o700
    );
}

#[test]
fn a_runtime_folder_of_another_uid_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIPPED: needs root to give the runtime folder to another uid (CI runs as root)"
        );
        return;
    }
    let d = Daemon::unstarted();
    fast_config(&d);
    // The runtime folder swapped for another user's.
    let swapped = d.dir.path().join("run");
    std::fs::create_dir(&swapped).unwrap();
    std::fs::set_permissions(&swapped, std::fs::Permissions::from_mode(0o700)).unwrap();
    chown(&swapped, Some(NOBODY), Some(NOBODY)).unwrap();
    let err = start_fails(&d, &swapped).expect("refused to start");
    assert!(
        err.contains(&format!("{} belongs to uid 65534", swapped.display())),
        "{err}"
    );
    // Its parent another user's (not root's): refused too.
    let parent = d.dir.path().join("theirs");
    std::fs::create_dir(&parent).unwrap();
    chown(&parent, Some(NOBODY), Some(NOBODY)).unwrap();
    let err = start_fails(&d, &parent.join("tessera")).expect("refused to start");
    assert!(
        err.contains(&format!(
            "{} belongs to uid 65534, not to this user (uid 0) or root",
            parent.display()
        )),
        "{err}"
    );
}
