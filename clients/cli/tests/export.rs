//! `tessera export` against the real daemon: every format's file, read
//! back by `tessera import` on a fresh machine, gives the same codes; the
//! file is the user's alone (0600) and never written over; a wrong PIN, a
//! missing confirmation or policy writes nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const PASSWORD: &[u8] = b"correct horse battery";

/// `tessera export` with the vault's PIN and `extra`.
fn export(d: &Daemon, format: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let pin = d.file("pin", PIN.as_bytes());
    let mut args = vec![
        "--json",
        "export",
        "--format",
        format,
        "--out",
        path_str(out),
        "--pin-file",
        path_str(&pin),
    ];
    args.extend_from_slice(extra);
    d.run(&args)
}

/// The same TOTP code of `github` on both daemons, read in one window.
fn assert_same_github_code(a: &Daemon, b: &Daemon, what: &str) {
    for _ in 0..3 {
        let x = a.run(&["code", "github", "--json"]);
        let y = b.run(&["code", "github", "--json"]);
        assert_eq!(y.status.code(), Some(0), "{what}: {}", stderr(&y));
        let (x, y) = (&json_lines(&x)[0], &json_lines(&y)[0]);
        if x["valid_from_unix"] == y["valid_from_unix"] {
            assert_eq!(x["code"], y["code"], "{what}: {x} {y}");
            return;
        }
    }
    panic!("{what}: never in the same TOTP window");
}

#[test]
fn every_export_format_moves_the_otpauth_accounts_to_a_fresh_machine() {
    let d = Daemon::with_accounts();
    let password = d.file("password", PASSWORD);
    for format in [
        "aegis",
        "aegis-encrypted",
        "uri-list",
        "pskc",
        "pskc-encrypted",
    ] {
        let out_file = d.dir.path().join(format!("export-{format}"));
        let encrypted = format.ends_with("-encrypted");
        let extra: &[&str] = if encrypted {
            &["--password-file", path_str(&password), "--yes"]
        } else {
            &["--yes"]
        };
        let out = export(&d, format, &out_file, extra);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        let report = &json_lines(&out)[0];
        assert_eq!(report["exported"][0]["issuer"], "GitHub", "{report}");
        assert_eq!(report["exported"].as_array().unwrap().len(), 1, "{report}");
        // The Tessera account stays, with the reason.
        let left = &report["left_out"][0];
        assert!(
            left["name"].as_str().unwrap().contains(ALICE_LABEL),
            "{report}"
        );
        assert!(
            left["reason"]
                .as_str()
                .unwrap()
                .contains("bound to this device"),
            "{report}"
        );
        let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{format}: the file is the user's alone"
        );
        let text = std::fs::read(&out_file).unwrap();
        // The secret in base32 (Aegis, links) or base64 (PSKC).
        let text = String::from_utf8_lossy(&text);
        let holds_secret = text.contains("JBSWY3DPEHPK3PXP") || text.contains("SGVsbG8h3q2+7w==");
        assert_eq!(
            holds_secret, !encrypted,
            "{format}: the secret is in the clear exactly when the format is plain"
        );

        // Another machine imports it and makes the same codes.
        let fresh = Daemon::start();
        let pin = fresh.file("pin", PIN.as_bytes());
        let mut args = vec![
            "import",
            path_str(&out_file),
            "--new-pin-file",
            path_str(&pin),
            "--yes",
        ];
        if encrypted {
            args.extend(["--password-file", path_str(&password)]);
        }
        let out = fresh.run(&args);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        assert_eq!(fresh.accounts().len(), 1, "{format}");
        assert_same_github_code(&d, &fresh, format);
    }
}

#[test]
fn a_tessera_backup_export_carries_every_account() {
    let d = Daemon::with_accounts();
    let password = d.file("password", PASSWORD);
    let out_file = d.dir.path().join("all.tessera");
    let out = export(
        &d,
        "tessera-backup",
        &out_file,
        &["--password-file", path_str(&password), "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_lines(&out)[0]["accounts"], 2, "{}", stdout(&out));
    // Another machine with a vault of its own takes both accounts.
    let fresh = Daemon::start();
    let pin = fresh.file("pin", PIN.as_bytes());
    let other = "otpauth://totp/Mail:me?secret=GEZDGNBVGY3TQOJQ&issuer=Mail";
    let out = fresh.run(&["activate", "--uri", other, "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = fresh.run(&[
        "backup",
        "restore",
        path_str(&out_file),
        "--merge",
        "--yes",
        "--pin-file",
        path_str(&password),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut issuers: Vec<_> = fresh
        .accounts()
        .iter()
        .map(|a| a["issuer"].as_str().unwrap().to_owned())
        .collect();
    issuers.sort();
    assert_eq!(issuers, [ALICE_ISSUER, "GitHub", "Mail"]);
    assert_same_github_code(&d, &fresh, "tessera-backup");
}

#[test]
fn a_wrong_pin_a_missing_confirmation_or_an_existing_file_writes_nothing() {
    let d = Daemon::with_accounts();
    let out_file = d.dir.path().join("export.json");

    // No --yes without a terminal: refused before anything is asked.
    let out = export(&d, "aegis", &out_file, &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("--yes"), "{}", stdout(&out));
    assert!(!out_file.exists());

    // A wrong PIN: refused, counted, nothing written.
    let wrong = d.file("wrong", b"000000");
    let out = d.run(&[
        "--json",
        "export",
        "--format",
        "uri-list",
        "--out",
        path_str(&out_file),
        "--pin-file",
        path_str(&wrong),
        "--yes",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        json_lines(&out)[0]["error"]["code"],
        "ERROR_CODE_WRONG_PIN",
        "{}",
        stdout(&out)
    );
    assert!(!out_file.exists(), "a wrong PIN writes no file");
    assert_eq!(d.status()["failed_attempts"], 1, "{}", d.status());

    // An encrypted export under a short password: refused.
    let short = d.file("short", b"abc");
    let out = export(
        &d,
        "aegis-encrypted",
        &out_file,
        &["--password-file", path_str(&short), "--yes"],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("too short"), "{}", stdout(&out));
    assert!(!out_file.exists());

    // An existing file is never written over.
    std::fs::write(&out_file, b"keep me").unwrap();
    let out = export(&d, "aegis", &out_file, &["--yes"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("exists already"), "{}", stdout(&out));
    assert_eq!(std::fs::read(&out_file).unwrap(), b"keep me");

    // An unknown format is named with the ones there are.
    let out = export(&d, "pdf", &d.dir.path().join("x"), &["--yes"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("aegis-encrypted"), "{}", stdout(&out));
}

#[test]
fn policy_can_forbid_exports() {
    let d = Daemon::start_with(&format!("{FAST_CONFIG}[accounts]\nexport = false\n"));
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&[
        "activate",
        "--uri",
        GITHUB_URI,
        "--pin-file",
        path_str(&pin),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out_file = d.dir.path().join("export.txt");
    let out = export(&d, "uri-list", &out_file, &["--yes"]);
    assert_ne!(out.status.code(), Some(0));
    let error = &json_lines(&out)[0]["error"];
    assert_eq!(error["code"], "ERROR_CODE_POLICY", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("accounts.export"),
        "{error}"
    );
    assert!(!out_file.exists());
}
