//! The CLI checks who it talks to before it sends anything: a socket or a
//! folder that is not the user's (or that others can write to), or a
//! server process of another uid, is refused with exit 4 and the reason.
//!
//! The tests that change owners need root (CI runs as root); without it
//! they say so and return.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use common::*;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Exit 4 (`UNTRUSTED_DAEMON`) with `why` in the message; in `--json` too.
fn assert_untrusted(d: &Daemon, why: &str) {
    let out = d.run(&["list"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains(why), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    let out = d.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "UNTRUSTED_DAEMON");
}

#[test]
fn a_socket_folder_others_can_write_to_is_refused() {
    let d = Daemon::start();
    // The daemon itself is fine; the folder was opened up after it started
    // (another user could now swap the socket).
    assert_eq!(d.run(&["status"]).status.code(), Some(0));
    std::fs::set_permissions(d.runtime_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_untrusted(&d, "can be written by others (mode 0777)");
    // A PIN is never read, let alone sent: the refusal comes first.
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&["unlock", "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    std::fs::set_permissions(d.runtime_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(d.run(&["status"]).status.code(), Some(0));
}

#[test]
fn a_swapped_folder_of_another_uid_is_refused() {
    if !is_root() {
        eprintln!(
            "SKIPPED: needs root to give the socket's folder to another uid (CI runs as root)"
        );
        return;
    }
    let d = Daemon::start();
    chown(d.runtime_dir(), Some(NOBODY), Some(NOBODY)).unwrap();
    assert_untrusted(&d, "belongs to uid 65534");
}

#[test]
fn a_planted_socket_of_another_uid_is_refused() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to give the socket to another uid (CI runs as root)");
        return;
    }
    // A socket that answers like tesserad, but the file is another user's.
    let d = Daemon::start();
    chown(d.socket(), Some(NOBODY), Some(NOBODY)).unwrap();
    assert_untrusted(
        &d,
        &format!("the socket {} belongs to uid 65534", d.socket().display()),
    );
}

#[test]
fn a_socket_that_is_not_a_socket_is_refused() {
    let d = Daemon::start();
    let plain = d.dir.path().join("run").join("plain");
    std::fs::write(&plain, b"").unwrap();
    let out = Command::new(tessera_bin())
        .arg("--socket")
        .arg(&plain)
        .arg("list")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a socket"), "{}", stderr(&out));
}

/// A Unix stream socket bound at `path` (the file is the caller's) but not
/// listening yet; its descriptor.
fn bound_socket(path: &std::path::Path) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket calls on a fresh descriptor and a zeroed address.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_os_str().as_bytes();
        assert!(bytes.len() < addr.sun_path.len());
        for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let rc = libc::bind(
            fd.as_raw_fd(),
            &addr as *const libc::sockaddr_un as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        fd
    }
}

/// The socket file and its folder are ours (root's), but the process that
/// listens on it runs as uid 65534: the test binds the socket as root, and
/// a child becomes `nobody`, calls listen(2) (SO_PEERCRED is the listener's
/// credentials at that call) and runs a real tesserad on it, as systemd
/// would hand it over (`LISTEN_FDS`). Only the peer's credentials tell.
#[test]
fn a_server_of_another_uid_is_refused() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to run a listener as another uid (CI runs as root)");
        return;
    }
    let mine = tempfile::tempdir().unwrap();
    let socket = mine.path().join("tessera.sock");
    let bound = bound_socket(&socket);
    // The daemon as nobody: its own folders are nobody's, in a folder of
    // root's; the socket it serves is the one passed.
    let theirs = tempfile::tempdir().unwrap();
    std::fs::set_permissions(theirs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["data", "run"] {
        std::fs::create_dir(theirs.path().join(sub)).unwrap();
        chown(theirs.path().join(sub), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let config = theirs.path().join("tesserad.toml");
    std::fs::write(&config, FAST_CONFIG).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let fd = bound.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(
            "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" --foreground --config \"$1\" \
             --data-dir \"$2\" --runtime-dir \"$3\"",
        )
        .arg(tesserad_bin())
        .arg(&config)
        .arg(theirs.path().join("data"))
        .arg(theirs.path().join("run"))
        .env("RUST_LOG", "warn")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would keep close-on-exec: clear it then.
            let passed = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if passed < 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
                || libc::listen(3, 16) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(cmd.spawn().unwrap());
    drop(bound);
    // The socket file and its folder pass; the listener does not.
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&std::fs::symlink_metadata(&socket).unwrap()),
        0
    );
    let out = Command::new(tessera_bin())
        .arg("--socket")
        .arg(&socket)
        .arg("list")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the process serving {} runs as uid 65534, not as you (uid 0)",
            socket.display()
        )),
        "{err}"
    );
}
