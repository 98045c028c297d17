//! `tessera activate --method biometric`, `tessera unlock` with a finger
//! and its fall-back to the PIN, and `tessera biometrics
//! enable|disable|status`, against the real daemon with the
//! `biometric-mock` plugin (scripted through `TESSERA_BIOMETRIC_MOCK`) and
//! the real Secret Service of the test's session bus (`scripts/test` runs
//! the suite inside `dbus-run-session` with gnome-keyring).
//!
//! One test: the script's path is in this process's environment, which the
//! daemon inherits.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::*;

fn mock_library() -> PathBuf {
    let name = "libtessera_plugin_biometric_mock.so";
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let out = deps.parent().unwrap().to_path_buf();
    [deps.join(name), out.join(name)]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("cargo built libtessera_plugin_biometric_mock.so (a dev-dependency)")
}

#[test]
fn activate_with_a_finger_unlock_with_it_and_fall_back_to_the_pin() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "this test needs a session bus with a Secret Service: run it with scripts/test"
    );
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(
        mock_library(),
        plugins.join("libtessera_plugin_biometric_mock.so"),
    )
    .unwrap();
    let script = dir.path().join("script");
    std::fs::write(&script, "enrolled 1\nverify match\n").unwrap();
    // SAFETY: the only test of this binary, before any thread reads it.
    unsafe { std::env::set_var("TESSERA_BIOMETRIC_MOCK", &script) };
    let d = Daemon::start_with(&format!(
        "{FAST_CONFIG}[plugins]\nfolders = [{:?}]\n[biometrics]\nmax_failures = 2\n",
        plugins.to_str().unwrap()
    ));
    let pin = d.file("pin", PIN.as_bytes());
    let pin = path_str(&pin);

    let out = d.run(&[
        "activate",
        "--uri",
        GITHUB_URI,
        "--pin-file",
        pin,
        "--method",
        "biometric",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let lines = json_lines(&out);
    let seen = states(&lines);
    for state in [
        "choose_method",
        "biometric_permission",
        "finalize_code",
        "activated",
    ] {
        assert!(seen.contains(&state), "{state} in {seen:?}");
    }

    let out = d.run(&["biometrics", "status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["biometrics"]["enabled"], true, "{status}");
    assert_eq!(status["biometrics"]["plugin"], "biometric-mock");

    // A finger opens the vault; no PIN is needed.
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let out = d.run(&["unlock"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("Vault unlocked"),
        "{}",
        stdout(&out)
    );

    // Two no-matches (the policy's limit): then the PIN is needed, and
    // without a terminal that is a missing --pin-file.
    std::fs::write(&script, "enrolled 1\nverify no-match\n").unwrap();
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let out = d.run(&["unlock"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the fingerprint did not match (1 of 2 tries); try again"),
        "{err}"
    );
    assert!(err.contains("(2 of 2 tries): unlock with the PIN"), "{err}");
    assert!(err.contains("--pin-file"), "{err}");
    let out = d.run(&["unlock", "--pin", "--pin-file", pin]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Off, and on again later with the PIN (the vault locked).
    let out = d.run(&["biometrics", "disable"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Biometrics: off"), "{}", stdout(&out));
    std::fs::write(&script, "enrolled 1\nverify match\n").unwrap();
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let out = d.run(&["biometrics", "enable"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "locked, no PIN: {}",
        stderr(&out)
    );
    let out = d.run(&["biometrics", "enable", "--pin-file", pin]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Biometrics: on"), "{}", stdout(&out));
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    assert_eq!(d.run(&["unlock"]).status.code(), Some(0));
    // Tidy the keyring of this vault.
    assert_eq!(d.run(&["biometrics", "disable"]).status.code(), Some(0));
    drop(d);

    // At a terminal: choose biometrics, allow the reader, enroll (no finger
    // yet); later two no-matches, then the PIN is asked.
    std::fs::write(&script, "enrolled 0\nenroll 3\nverify no-match\n").unwrap();
    let d = Daemon::start_with(&format!(
        "{FAST_CONFIG}[plugins]\nfolders = [{:?}]\n[biometrics]\nmax_failures = 2\n",
        plugins.to_str().unwrap()
    ));
    let mut t = tessera_pty(&d, &["activate", "--uri", GITHUB_URI]);
    t.expect("New PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Repeat the PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Protect this account with biometrics (fingerprint) too? [y/N] ");
    t.send("y\r");
    t.expect("fprintd lets your user verify");
    t.expect("Allow Tessera to use your fingerprint reader? [Y/n] ");
    t.send("y\r");
    t.expect("Press Enter when done: ");
    t.send("\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    let log = std::fs::read_to_string(dir.path().join("script.log")).unwrap();
    assert!(log.contains("enroll 3"), "{log}");

    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let mut t = tessera_pty(&d, &["unlock"]);
    t.expect("Touch the fingerprint reader");
    t.expect("(1 of 2 tries); try again");
    t.expect("(2 of 2 tries): unlock with the PIN");
    t.expect("Vault PIN: ");
    t.send(&format!("{PIN}\r"));
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("Vault unlocked"), "{screen}");
    assert!(!screen.contains(PIN), "the PIN was echoed:\n{screen}");
    assert_eq!(d.run(&["biometrics", "disable"]).status.code(), Some(0));
}

fn tessera_pty(d: &Daemon, args: &[&str]) -> common::pty::Pty {
    let mut cmd = std::process::Command::new(tessera_bin());
    cmd.arg("--socket").arg(d.socket()).args(args);
    cmd.env_remove("TESSERA_SOCKET");
    common::pty::Pty::spawn(cmd)
}
