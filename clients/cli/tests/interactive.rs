//! `tessera` at a terminal: the binary runs on a pseudo-terminal against the
//! real `tesserad`; the test types into it (Enter, PINs, `cancel`, Ctrl-C)
//! and reads the screen.

mod common;

use std::process::Command;

use common::pty::Pty;
use common::{
    ALICE_ISSUER, ALICE_KEY, ALICE_LABEL, ALICE_SERIAL, Daemon, NOTIFY_CONFIG, PIN,
    activation_code, code_after, is_grouped, tessera_payload,
};

fn tessera(d: &Daemon, args: &[&str]) -> Pty {
    let mut cmd = Command::new(common::tessera_bin());
    cmd.arg("--socket").arg(d.socket()).args(args);
    cmd.env_remove("TESSERA_SOCKET");
    Pty::spawn(cmd)
}

fn alice_payload() -> String {
    tessera_payload(
        ALICE_SERIAL,
        ALICE_KEY,
        Some(ALICE_LABEL),
        Some(ALICE_ISSUER),
    )
}

#[test]
fn interactive_activation_walks_through_every_step() {
    let d = Daemon::start_with(NOTIFY_CONFIG);
    let payload = alice_payload();
    let mut t = tessera(&d, &["activate", "--uri", &payload]);
    t.expect("Activating alice@example.com (Example Bank)");
    t.expect("Device code:  ");
    t.expect("Press Enter once you have typed it in: ");
    t.send("\r");
    t.expect("Choose a PIN for your Tessera vault (at least 4 digits).");
    t.expect("New PIN: ");
    t.send("12\r"); // too short: asked again before anything is sent
    t.expect("at least 4 digits");
    t.expect("New PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Repeat the PIN: ");
    t.send("999999\r"); // mismatch: the daemon asks again
    t.expect("the two PINs did not match; choose a PIN again");
    t.expect("New PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Repeat the PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Finalize code:  ");
    t.expect("Press Enter when done: ");
    t.send("\r");
    t.expect("Allow Tessera to show notifications");
    t.send("n\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    let device = code_after(&screen, "Device code:  ").unwrap();
    assert!(is_grouped(device, 4, 12), "{screen}");
    let finalize = code_after(&screen, "Finalize code:  ").unwrap();
    assert!(is_grouped(finalize, 4, 8), "{screen}");
    assert!(
        screen.contains("Activated alice@example.com (Example Bank) [tessera]"),
        "{screen}"
    );
    assert!(!screen.contains(PIN), "the PIN was echoed:\n{screen}");
    assert!(!screen.contains("999999"), "the PIN was echoed:\n{screen}");
    // Stored, with the PIN that was typed twice and confirmed.
    assert_eq!(d.accounts().len(), 1);
    assert!(d.pin_opens_the_vault(PIN));
}

#[test]
fn ctrl_c_and_the_word_cancel_ask_to_cancel() {
    let d = Daemon::start();
    let payload = alice_payload();
    let mut t = tessera(&d, &["activate", "--uri", &payload]);
    t.expect("Press Enter once you have typed it in: ");
    t.send("\r");
    t.expect("New PIN: ");
    t.send("\x03"); // Ctrl-C
    t.expect("Cancel activation? Nothing will be stored. [y/N] ");
    t.send("n\r");
    // Back where it was.
    t.expect("New PIN: ");
    t.send("cancel\r");
    t.expect("Cancel activation? Nothing will be stored. [y/N] ");
    t.send("y\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(
        screen.contains("tessera: activation cancelled; nothing was stored"),
        "{screen}"
    );
    assert_eq!(d.status()["exists"], false);
}

#[test]
fn a_failure_offers_start_over() {
    let d = Daemon::with_accounts();
    // Alice is in the vault already: the daemon refuses to store her again.
    let payload = alice_payload();
    let mut t = tessera(&d, &["activate", "--uri", &payload]);
    t.expect("Press Enter once you have typed it in: ");
    t.send("\r");
    t.expect("Vault PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Press Enter when done: ");
    t.send("\r");
    t.expect("Activation failed: ");
    t.expect("already in the vault");
    t.expect("Start over? [y/N] ");
    t.send("y\r");
    // The same source is read again: a new device code.
    t.expect("Device code:  ");
    t.expect("Press Enter");
    t.send("\x03");
    t.expect("Cancel activation?");
    t.send("\x03"); // Ctrl-C at the cancel question: yes
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(
        screen.contains("tessera: activation cancelled; nothing was stored"),
        "{screen}"
    );
    assert_eq!(screen.matches("Device code:  ").count(), 2, "{screen}");
    assert!(!screen.contains(PIN), "{screen}");

    // Declining to start over ends the run.
    let mut t = tessera(&d, &["activate", "--uri", &payload]);
    t.expect("Press Enter");
    t.send("\r");
    t.expect("Vault PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Press Enter when done: ");
    t.send("\r");
    t.expect("Start over? [y/N] ");
    t.send("\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(
        screen.contains("tessera: activation failed; nothing was stored"),
        "{screen}"
    );
    assert_eq!(d.accounts().len(), 2);
}

#[test]
fn manual_entry_is_asked_again_after_a_failure() {
    let d = Daemon::start();
    let mut t = tessera(&d, &["activate", "--manual"]);
    t.expect("Serial number: ");
    t.send("BAD\r");
    t.expect("Activation code: ");
    t.send("1\r");
    t.expect("Activation failed: ");
    t.expect("10 characters");
    t.expect("Start over? [y/N] ");
    t.send("y\r");
    t.expect("Serial number: ");
    t.send("TSR0000042\r");
    t.expect("Activation code: ");
    // Typed in blocks with spaces.
    let code = activation_code("TSR0000042", 0x42).replace('-', " ");
    t.send(&format!("{code}\r"));
    t.expect("Activating TSR0000042\r\n");
    t.expect("Device code:  ");
    t.expect("Press Enter");
    t.send("cancel\r");
    t.expect("Cancel activation?");
    t.send("y\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(screen.contains("activation cancelled"), "{screen}");
    assert_eq!(d.status()["exists"], false);
}

#[test]
fn an_invalid_payload_is_not_offered_start_over() {
    let d = Daemon::start();
    let t = tessera(&d, &["activate", "--uri", "bad"]);
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(2), "{screen}");
    assert!(
        screen.contains("tessera: payload: not a known format"),
        "{screen}"
    );
    assert!(!screen.contains("Start over"), "{screen}");
}

#[test]
fn delete_asks_to_confirm() {
    let d = Daemon::with_accounts();
    let mut t = tessera(&d, &["delete", "github"]);
    t.expect("Delete account github (GitHub)? [y/N] ");
    t.send("\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(screen.contains("nothing was deleted"));
    assert_eq!(d.accounts().len(), 2);

    let mut t = tessera(&d, &["delete", "github"]);
    t.expect("[y/N] ");
    t.send("y\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("Deleted github."));
    let left = d.accounts();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["label"], ALICE_LABEL);
}

#[test]
fn unlock_and_change_pin_ask_without_echo() {
    let d = Daemon::with_accounts();
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let mut t = tessera(&d, &["unlock"]);
    t.expect("Vault PIN: ");
    t.send(&format!("{PIN}\r"));
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("Vault unlocked, 2 accounts."), "{screen}");
    assert!(!screen.contains(PIN), "{screen}");

    let mut t = tessera(&d, &["change-pin"]);
    t.expect("Current PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("New PIN: ");
    t.send("1357\r");
    t.expect("Repeat the new PIN: ");
    t.send("1358\r");
    t.expect("did not match");
    t.expect("New PIN: ");
    t.send("1357\r");
    t.expect("Repeat the new PIN: ");
    t.send("1357\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("PIN changed."), "{screen}");
    assert!(
        !screen.contains("1357") && !screen.contains(PIN),
        "{screen}"
    );
    assert!(!d.pin_opens_the_vault(PIN));
    assert!(d.pin_opens_the_vault("1357"));

    // Ctrl-C at a PIN prompt outside activation: cancelled, echo restored.
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let mut t = tessera(&d, &["unlock"]);
    t.expect("Vault PIN: ");
    t.send("\x03");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(screen.contains("tessera: cancelled"), "{screen}");
    assert_eq!(d.status()["locked"], true);
}

#[test]
fn code_on_a_terminal_shows_the_time_left() {
    let d = Daemon::with_accounts();
    let mut t = tessera(&d, &["code", "github"]);
    t.expect("  (valid for ");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    let code = screen.split("  (valid for ").next().unwrap().trim();
    assert!(
        code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()),
        "{screen}"
    );
    assert!(screen.trim_end().ends_with(" s)"), "{screen}");
}
