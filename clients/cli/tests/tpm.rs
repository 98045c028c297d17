//! `tessera tpm status|enroll|remove` and the TPM line of `tessera status`,
//! against the real daemon (built with its `tpm` feature) and a real
//! software TPM (swtpm on loopback, `tessera_testkit::swtpm`).
//!
//! Built with this crate's `tpm` feature only: scripts/test passes
//! `--features tessera-daemon/tpm,tessera-cli/tpm`.

#![cfg(feature = "tpm")]

mod common;

use common::*;
use tessera_core::otp::{Algorithm, totp};
use tessera_testkit::swtpm::Swtpm;

/// `tessera code github` gives RFC 6238's code for its own time step.
fn assert_code_is_right(d: &Daemon) {
    let out = d.run(&["code", "github", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = &json_lines(&out)[0];
    let from = v["valid_from_unix"].as_i64().unwrap() as u64;
    assert_eq!(
        v["code"],
        totp(GITHUB_SECRET, Algorithm::Sha1, from, 30, 6).as_str()
    );
}

fn tpm_json(d: &Daemon) -> serde_json::Value {
    let out = d.run(&["tpm", "status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["tpm"].clone()
}

#[test]
fn enroll_status_unlock_and_remove_through_the_cli() {
    let tpm = Swtpm::start();
    let d = Daemon::start_with(&format!(
        "{FAST_CONFIG}[tpm]\ntcti = \"{}\"\npcrs = [7]\n",
        tpm.tcti()
    ));
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&[
        "activate",
        "--uri",
        GITHUB_URI,
        "--pin-file",
        path_str(&pin),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Policy "pin" with a TPM present: the activation offers it.
    assert!(
        stderr(&out).contains("This machine has a TPM (IBM): `tessera tpm enroll` binds"),
        "{}",
        stderr(&out)
    );

    let out = d.run(&["tpm", "status"]);
    let text = stdout(&out);
    assert!(text.contains("TPM:        IBM at swtpm:"), "{text}");
    assert!(
        text.contains("Slot:       none (`tessera tpm enroll` adds one)"),
        "{text}"
    );
    assert!(text.contains("vault.protection = \"pin\""), "{text}");

    // Without a terminal the PIN must come from a file, and it says so.
    let out = d.run(&["tpm", "enroll"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--pin-file"), "{}", stderr(&out));
    let wrong = d.file("wrong", b"000000");
    let out = d.run(&["tpm", "enroll", "--pin-file", path_str(&wrong)]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).to_lowercase().contains("wrong pin"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tpm_json(&d)["enrolled"], false);

    let out = d.run(&["tpm", "enroll", "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("sealed to this machine's TPM"), "{text}");
    assert!(text.contains("bound to PCRs 7"), "{text}");
    assert!(text.contains("PIN slot:   kept beside it"), "{text}");
    let t = tpm_json(&d);
    assert_eq!(
        (t["enrolled"].as_bool(), t["pin_slot"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(t["pcrs"], serde_json::json!([7]));

    let text = stdout(&d.run(&["status"]));
    assert!(
        text.contains("Protection:  PIN, sealed to this machine's TPM"),
        "{text}"
    );
    assert!(
        text.contains("the vault key is sealed to it (PCRs 7)"),
        "{text}"
    );

    // Locked, the TPM slot opens it; a changed PCR 7 is shown, the PIN
    // slot opens it with a warning.
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let out = d.run(&["unlock", "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_code_is_right(&d);
    tpm.extend_pcr(7, 0x42);
    let text = stdout(&d.run(&["tpm", "status"]));
    assert!(text.contains("Changed:    PCRs 7 differ"), "{text}");
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let out = d.run(&["unlock", "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&d.run(&["status"]));
    assert!(
        text.contains("TPM warning: the TPM slot did not open"),
        "{text}"
    );
    assert!(text.contains("PCR 7 changed"), "{text}");

    let out = d.run(&["tpm", "remove", "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("The TPM slot is removed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(tpm_json(&d)["enrolled"], false);
    let text = stdout(&d.run(&["status"]));
    assert!(text.contains("Protection:  PIN\n"), "{text}");
    assert!(d.pin_opens_the_vault(PIN));
    assert_code_is_right(&d);
}
