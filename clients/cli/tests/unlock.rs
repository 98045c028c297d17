//! `tessera unlock`, `change-pin` and a locked vault, as a person meets
//! them at a terminal (a pseudo-terminal against the real `tesserad`) and
//! as a script does (no terminal): wrong PINs are asked again until a delay,
//! an unlocked vault still checks the PIN, a locked vault offers to unlock.

mod common;

use std::process::Command;

use common::pty::Pty;
use common::{Daemon, FAST_CONFIG, GITHUB_URI, PIN, json_lines, path_str, stderr, stdout};

fn tessera(d: &Daemon, args: &[&str]) -> Pty {
    let mut cmd = Command::new(common::tessera_bin());
    cmd.arg("--socket").arg(d.socket()).args(args);
    cmd.env_remove("TESSERA_SOCKET");
    Pty::spawn(cmd)
}

fn locked_vault() -> Daemon {
    let d = Daemon::with_accounts();
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    d
}

#[test]
fn unlock_at_a_terminal_asks_again_after_a_wrong_pin() {
    let d = locked_vault();
    let mut t = tessera(&d, &["unlock"]);
    t.expect("Vault PIN: ");
    t.send("000000\r");
    t.expect("tessera: wrong PIN (1 failed try); 4 more tries before a delay");
    t.expect("Vault PIN: ");
    t.send(&format!("{PIN}\r"));
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("Vault unlocked, 2 accounts."), "{screen}");
    assert!(
        !screen.contains(PIN) && !screen.contains("000000"),
        "{screen}"
    );
    assert_eq!(d.status()["failed_attempts"], 0);
}

#[test]
fn unlock_at_a_terminal_stops_when_the_delay_starts() {
    let d = Daemon::start_with(&format!(
        "{FAST_CONFIG}[pin]\nfree_attempts = 2\ndelay_seconds = 600\n"
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
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let mut t = tessera(&d, &["unlock"]);
    t.expect("Vault PIN: ");
    t.send("000000\r");
    t.expect("1 more try before a delay");
    t.expect("Vault PIN: ");
    t.send("111111\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(
        screen.contains("tessera: wrong PIN (2 failed tries); try again in 10 min"),
        "{screen}"
    );
    assert_eq!(screen.matches("Vault PIN: ").count(), 2, "{screen}");
    assert_eq!(d.status()["locked"], true);
}

#[test]
fn unlocking_an_unlocked_vault_checks_the_pin() {
    let d = Daemon::with_accounts();
    assert_eq!(d.status()["locked"], false);
    let wrong = d.file("wrong", b"000000\n");
    let out = d.run(&["unlock", "--pin-file", path_str(&wrong), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ERROR_CODE_WRONG_PIN");
    assert_eq!(d.status()["failed_attempts"], 1, "counted");
    assert_eq!(d.status()["locked"], false);

    let right = d.file("right", format!("{PIN}\n").as_bytes());
    let out = d.run(&["unlock", "--pin-file", path_str(&right)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "The vault was already unlocked; the PIN is right. 2 accounts.\n"
    );
    let out = d.run(&["unlock", "--pin-file", path_str(&right), "--json"]);
    assert_eq!(json_lines(&out)[0]["already_unlocked"], true);
}

#[test]
fn a_command_on_a_locked_vault_offers_to_unlock_at_a_terminal() {
    let d = locked_vault();
    let mut t = tessera(&d, &["code", "github"]);
    t.expect("The vault is locked.");
    t.expect("Vault PIN: ");
    t.send("000000\r");
    t.expect("wrong PIN");
    t.expect("Vault PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("  (valid for ");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert_eq!(d.status()["locked"], false);

    // Without a terminal nothing is asked: the typed error.
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let out = d.run(&["code", "github", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_lines(&out)[0]["error"]["code"],
        "ERROR_CODE_VAULT_LOCKED"
    );
    let out = d.run(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
}

#[test]
fn change_pin_checks_the_current_pin_before_asking_the_new_one() {
    let d = Daemon::with_accounts();
    let mut t = tessera(&d, &["change-pin"]);
    t.expect("Current PIN: ");
    t.send("000000\r");
    t.expect("wrong PIN (1 failed try)");
    t.expect("Current PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("New PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Repeat the new PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("the new PIN is the same as the current one; choose a different PIN");
    t.expect("New PIN: ");
    t.send("735190\r");
    t.expect("Repeat the new PIN: ");
    t.send("735190\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("PIN changed."), "{screen}");
    // The wrong current PIN came before any new PIN was asked.
    let wrong = screen.find("wrong PIN").unwrap();
    let first_new = screen.find("New PIN: ").unwrap();
    assert!(wrong < first_new, "{screen}");
    assert!(d.pin_opens_the_vault("735190"));

    // Scripted: the same PIN is refused with the policy's error.
    let same = d.file("same", b"735190\n");
    let out = d.run(&[
        "change-pin",
        "--pin-file",
        path_str(&same),
        "--new-pin-file",
        path_str(&same),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        json_lines(&out)[0]["error"]["code"],
        "ERROR_CODE_PIN_POLICY"
    );
}

#[test]
fn pin_rules_are_worded_as_policy_has_them() {
    let d = Daemon::start_with(&format!(
        "{FAST_CONFIG}[pin]\nmin_length = 6\ndigits_only = true\n"
    ));
    let uri = "otpauth://totp/Chat:gina?secret=JBSWY3DPEHPK3PXP&issuer=Chat";
    let mut t = tessera(&d, &["activate", "--uri", uri]);
    t.expect("Choose a PIN for your Tessera vault (at least 6 digits).");
    t.expect("New PIN: ");
    t.send("12\r");
    t.expect("The PIN must have at least 6 digits.");
    t.expect("New PIN: ");
    t.send("\x03");
    t.expect("Cancel activation?");
    t.send("y\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
}
