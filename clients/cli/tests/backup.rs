//! `tessera backup list|verify|restore` against the real daemon and its
//! automatic backups: a deleted account comes back by merging, a wrong PIN
//! and a missing confirmation change nothing, replacing takes the vault
//! back to the copy, and a copy restored on a fresh machine gives the same
//! codes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

/// The newest automatic backup, once it is a copy of the vault as it is.
fn newest_copy(d: &Daemon) -> PathBuf {
    let vault = std::fs::read(d.data_dir().join("vault")).unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let out = d.run(&["backup", "list", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let list = &json_lines(&out)[0];
        if let Some(newest) = list["backups"].as_array().unwrap().last() {
            let path = PathBuf::from(newest["path"].as_str().unwrap());
            if std::fs::read(&path).unwrap() == vault {
                return path;
            }
        }
        assert!(Instant::now() < until, "no copy of the vault: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `tessera backup VERB FILE FLAGS… --pin-file PIN`.
fn backup(d: &Daemon, verb: &str, file: &Path, flags: &[&str], pin: &Path) -> Output {
    let mut args = vec!["backup", verb, path_str(file)];
    args.extend_from_slice(flags);
    args.extend(["--pin-file", path_str(pin)]);
    d.run(&args)
}

fn labels(d: &Daemon) -> Vec<String> {
    let mut l: Vec<String> = d
        .accounts()
        .iter()
        .map(|a| a["label"].as_str().unwrap().to_owned())
        .collect();
    l.sort();
    l
}

#[test]
fn a_deleted_account_comes_back_and_replacing_takes_the_vault_back() {
    let d = Daemon::with_accounts();
    let pin = d.file("pin", PIN.as_bytes());
    let both = newest_copy(&d);
    let both = d.file("both.tessera", &std::fs::read(&both).unwrap());

    let out = d.run(&["backup", "list"]);
    assert!(
        stdout(&out).contains("Automatic backups in"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("vault-"), "{}", stdout(&out));

    let out = d.run(&["delete", "github", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(labels(&d), ["alice@example.com"]);

    // Verify: what it holds, what each way would do; nothing changes.
    let out = backup(&d, "verify", &both, &[], &pin);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("holds 2 accounts"), "{text}");
    assert!(
        text.contains("Merging it would add 1 (github (GitHub))"),
        "{text}"
    );
    assert_eq!(labels(&d), ["alice@example.com"]);

    // A wrong PIN, or no --yes without a terminal: nothing changes.
    let wrong = d.file("wrong", b"000000");
    let out = backup(&d, "restore", &both, &["--merge", "--yes"], &wrong);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("the PIN does not open the backup"),
        "{}",
        stderr(&out)
    );
    let out = backup(&d, "restore", &both, &["--merge"], &pin);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let out = backup(&d, "restore", &both, &["--yes"], &pin);
    assert!(
        stderr(&out).contains("--merge or --replace"),
        "{}",
        stderr(&out)
    );
    assert_eq!(labels(&d), ["alice@example.com"]);

    // Merge: github is back, alice untouched.
    let out = backup(&d, "restore", &both, &["--merge", "--yes"], &pin);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Added: 1 (github (GitHub))"),
        "{}",
        stdout(&out)
    );
    assert_eq!(labels(&d), ["alice@example.com", "github"]);
    let again = backup(&d, "restore", &both, &["--merge", "--yes"], &pin);
    assert!(
        stdout(&again).contains("Nothing to restore"),
        "{}",
        stdout(&again)
    );

    // Replace: a rename is undone (the backup's version wins), as JSON.
    let out = d.run(&["rename", "github", "renamed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = backup(
        &d,
        "restore",
        &both,
        &["--replace", "--yes", "--json"],
        &pin,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = &json_lines(&out)[0];
    assert_eq!(plan["applied"], true, "{plan}");
    assert_eq!(plan["changed"][0]["label"], "github", "{plan}");
    assert_eq!(labels(&d), ["alice@example.com", "github"]);

    // Not a backup: named, nothing changes.
    let junk = d.file("junk", b"not a vault at all");
    let out = backup(&d, "verify", &junk, &[], &pin);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("junk"), "{}", stderr(&out));
}

#[test]
fn a_copy_restored_on_a_fresh_machine_gives_the_same_codes() {
    let d = Daemon::with_accounts();
    let copy = newest_copy(&d);
    let fresh = Daemon::start();
    let pin = fresh.file("pin", PIN.as_bytes());
    let out = backup(&fresh, "restore", &copy, &["--replace", "--yes"], &pin);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("Added: 2"), "{}", stdout(&out));
    let out = fresh.run(&["unlock", "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for _ in 0..3 {
        let a = d.run(&["code", "github", "--json"]);
        let b = fresh.run(&["code", "github", "--json"]);
        let (a, b) = (&json_lines(&a)[0], &json_lines(&b)[0]);
        if a["valid_from_unix"] == b["valid_from_unix"] {
            assert_eq!(a["code"], b["code"], "{a} {b}");
            return;
        }
    }
    panic!("never in the same TOTP window");
}

#[test]
fn a_backup_under_its_own_password_moves_to_another_machine() {
    let d = Daemon::with_accounts();
    let pin = d.file("pin", PIN.as_bytes());
    let password = d.file("password", b"correct horse battery");
    let short = d.file("short", b"tooshort");
    let only = d.dir.path().join("only-password.tessera");
    let both = d.dir.path().join("both.tessera");
    let create = |out: &Path, pw: &Path, flags: &[&str]| {
        let mut args = vec![
            "backup",
            "create",
            "--out",
            path_str(out),
            "--password-file",
            path_str(pw),
        ];
        args.extend_from_slice(flags);
        d.run(&args)
    };

    let out = create(&only, &short, &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("too short"), "{}", stderr(&out));
    assert!(!only.exists());

    let out = create(&only, &password, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 accounts); it opens with its password."),
        "{}",
        stdout(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&only).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let before = std::fs::read(&only).unwrap();
    let out = create(&only, &password, &[]);
    assert_ne!(out.status.code(), Some(0), "never over an existing file");
    assert_eq!(std::fs::read(&only).unwrap(), before);
    let out = create(&both, &password, &["--with-pin"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The password opens both; the vault's PIN only the one made --with-pin.
    for (file, secret, opens) in [
        (&only, &password, true),
        (&only, &pin, false),
        (&both, &password, true),
        (&both, &pin, true),
    ] {
        let out = backup(&d, "verify", file, &[], secret);
        assert_eq!(
            out.status.code() == Some(0),
            opens,
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
    }

    // A deleted account comes back from the password-only backup.
    let out = d.run(&["delete", "github", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = backup(&d, "restore", &only, &["--merge", "--yes"], &password);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(labels(&d), ["alice@example.com", "github"]);

    // Another machine: a password-only backup cannot become its vault; the
    // one with the PIN slot can, and the vault it makes opens by the PIN,
    // not by the backup's password.
    let fresh = Daemon::start();
    let out = backup(&fresh, "restore", &only, &["--replace", "--yes"], &password);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--merge"), "{}", stderr(&out));
    let out = backup(&fresh, "restore", &both, &["--replace", "--yes"], &password);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!fresh.pin_opens_the_vault("correct horse battery"));
    assert!(fresh.pin_opens_the_vault(PIN));
    assert_eq!(labels(&fresh), ["alice@example.com", "github"]);
}
