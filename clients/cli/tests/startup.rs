//! What a person sees of the daemon's start: where a detached daemon logs
//! (`tessera status`), why a vault cannot be opened (instead of
//! "tesserad is not running"), and how to get a camera when the build has
//! none.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

fn tessera(socket: &Path, args: &[&str]) -> std::process::Output {
    Command::new(tessera_bin())
        .arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("TESSERA_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_damaged_vault_s_reason_reaches_the_cli() {
    let mut d = Tesserad::start(tesserad_bin(), FAST_CONFIG);
    let pin = d.dir.path().join("pin");
    std::fs::write(&pin, PIN).unwrap();
    let link = d.dir.path().join("link");
    std::fs::write(&link, GITHUB_URI).unwrap();
    let out = tessera(
        &d.socket(),
        &[
            "activate",
            "--uri",
            &format!("@{}", path_str(&link)),
            "--pin-file",
            path_str(&pin),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    d.stop();
    // Cut the vault file short, as a full disk or a bad copy would.
    let vault = d.data_dir().join("vault");
    let bytes = std::fs::read(&vault).unwrap();
    std::fs::write(&vault, &bytes[..bytes.len() / 2]).unwrap();
    // The daemon still serves its socket (restart waits for it)…
    d.restart();
    // …and every call gets the reason, with the file named.
    let out = tessera(&d.socket(), &["list"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("tesserad cannot open the vault"), "{err}");
    assert!(err.contains(&vault.display().to_string()), "{err}");
    assert!(!err.contains("not running"), "{err}");
    let out = tessera(&d.socket(), &["status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let line = &json_lines(&out)[0];
    assert_eq!(line["error"]["code"], "ERROR_CODE_VAULT_UNUSABLE", "{line}");
    // Nothing was written: the file is as it was left.
    assert_eq!(std::fs::read(&vault).unwrap(), &bytes[..bytes.len() / 2]);
    // It still stops cleanly.
    assert!(d.stop().unwrap().success());
}

/// Where the daemon's log goes on this machine once it has detached: the
/// journal when its socket exists, else syslog, else a file in the data
/// folder.
fn expected_logs(data_dir: &Path) -> String {
    if Path::new("/run/systemd/journal/socket").exists() {
        "the journal (journalctl -t tesserad)".to_owned()
    } else if Path::new("/dev/log").exists() {
        "syslog (/dev/log, identifier tesserad)".to_owned()
    } else {
        format!("the file {}", data_dir.join("tesserad.log").display())
    }
}

/// The pids of the processes whose command line holds `needle`.
fn pids_holding(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

#[test]
fn a_detached_daemon_says_where_it_logs() {
    let d = Tesserad::new(tesserad_bin());
    d.write_config(FAST_CONFIG);
    // The testkit's command, without --foreground: it detaches.
    let fg = d.command();
    let mut cmd = Command::new(fg.get_program());
    cmd.args(fg.get_args().filter(|a| *a != "--foreground"))
        .env("RUST_LOG", "info")
        .env_remove("JOURNAL_STREAM")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("tesserad is running"),
        "{}",
        stdout(&out)
    );
    let data = d.data_dir();
    let daemons = pids_holding(&data.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    struct Term(i32);
    impl Drop for Term {
        fn drop(&mut self) {
            // SAFETY: kill(2) on the daemon this test started.
            unsafe { libc::kill(self.0, libc::SIGTERM) };
        }
    }
    let _term = Term(daemons[0]);

    let expected = expected_logs(&data);
    let status = tessera(&d.socket(), &["status", "--json"]);
    assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));
    assert_eq!(json_lines(&status)[0]["log_destination"], expected.as_str());
    let text = stdout(&tessera(&d.socket(), &["status"]));
    assert!(text.contains(&format!("Daemon logs: {expected}")), "{text}");
    if expected.starts_with("the file") {
        let log = std::fs::read_to_string(data.join("tesserad.log")).unwrap();
        assert!(log.contains("tesserad ready"), "{log}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("tesserad.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_daemon_in_the_foreground_logs_to_standard_error() {
    let d = Tesserad::start(tesserad_bin(), FAST_CONFIG);
    let out = tessera(&d.socket(), &["status", "--json"]);
    assert_eq!(json_lines(&out)[0]["log_destination"], "standard error");
}

/// The camera plugin as cargo builds it by default (without the `camera`
/// feature, a dev-dependency of this crate) tells how to build one that
/// has a camera.
#[test]
fn a_camera_without_the_feature_says_how_to_build_it() {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().unwrap();
    let built = exe.parent().and_then(Path::parent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o700)).unwrap();
    let to = plugins.join("libtessera_scanner_camera.so");
    std::fs::copy(built.join("libtessera_scanner_camera.so"), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = format!(
        "{FAST_CONFIG}[plugins]\nfolders = [\"{}\"]\n",
        plugins.display()
    );
    let mut d = Tesserad::in_dir(tesserad_bin(), dir);
    d.write_config(&config);
    d.restart();
    for args in [&["scan", "--camera"][..], &["activate", "--camera"][..]] {
        let out = tessera(&d.socket(), args);
        let err = stderr(&out);
        if err.contains("no camera found") || err.contains("camera disconnected") {
            eprintln!("SKIPPED: the camera plugin was built with the `camera` feature: {err}");
            return;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("no camera support"), "{args:?}: {err}");
        assert!(err.contains("make CAMERA=1"), "{args:?}: {err}");
        assert!(
            err.contains("--features tessera-scanner-camera/camera"),
            "{args:?}: {err}"
        );
    }
}
