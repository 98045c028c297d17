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
    t.expect("Activating alice@example.com (Example Bank) [Tessera]");
    t.expect("Device code:  ");
    t.expect("Press Enter once you have typed it in: ");
    t.send("\r");
    // Policy does not ask for digits only: the wording does not either.
    t.expect("Choose a PIN for your Tessera vault (at least 4 characters).");
    t.expect("New PIN: ");
    t.send("12\r"); // too short: asked again before anything is sent
    t.expect("The PIN must have at least 4 characters.");
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
fn an_account_in_the_vault_is_refused_before_any_question() {
    let d = Daemon::with_accounts();
    // Alice is in the vault already, which is unlocked: refused at once,
    // before the device code or the PIN, and not offered again.
    let payload = alice_payload();
    let t = tessera(&d, &["activate", "--uri", &payload]);
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(
        screen.contains("alice@example.com\" (Example Bank) is already in the vault"),
        "{screen}"
    );
    assert!(!screen.contains("Device code"), "{screen}");
    assert!(!screen.contains("PIN"), "{screen}");
    assert!(!screen.contains("Start over"), "{screen}");

    // Locked: known only after the vault PIN, still before the finalize code.
    assert_eq!(d.run(&["lock"]).status.code(), Some(0));
    let mut t = tessera(&d, &["activate", "--uri", &payload]);
    t.expect("Press Enter once you have typed it in: ");
    t.send("\r");
    t.expect("Vault PIN: ");
    t.send(&format!("{PIN}\r"));
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(screen.contains("is already in the vault"), "{screen}");
    assert!(!screen.contains("Finalize code"), "{screen}");
    assert!(!screen.contains("Start over"), "{screen}");
    assert_eq!(d.accounts().len(), 2);
}

#[test]
fn a_typed_entry_already_in_the_vault_starts_over_at_the_entry() {
    let d = Daemon::with_accounts();
    let mut t = tessera(&d, &["activate", "--manual"]);
    t.expect("Serial number: ");
    t.send(&format!("{ALICE_SERIAL}\r"));
    t.expect("Activation code: ");
    t.send(&format!("{}\r", activation_code(ALICE_SERIAL, ALICE_KEY)));
    t.expect("is already in the vault");
    t.expect("Start over? [y/N] ");
    t.send("y\r");
    // Back at the entry, not through the same serial again.
    t.expect("Serial number: ");
    t.send("\x03");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert_eq!(
        screen.matches("is already in the vault").count(),
        1,
        "{screen}"
    );
    assert!(!screen.contains("Device code"), "{screen}");
}

#[test]
fn manual_entry_checks_each_field_as_it_is_typed() {
    let d = Daemon::start();
    let mut t = tessera(&d, &["activate", "--manual"]);
    t.expect("Serial number: ");
    t.send("BAD\r");
    // The serial is checked before the activation code is asked.
    t.expect("SN: must be exactly 10 characters, got 3; type the serial number again.");
    t.expect("Serial number: ");
    // Lower case, with a hyphen: the same serial.
    t.send("tsr-0000042\r");
    t.expect("Activation code: ");
    // Check digits that do not match: only the code is asked again.
    let wrong = activation_code("TSR0000043", 0x42).replace('-', " ");
    t.send(&format!("{wrong}\r"));
    t.expect("check digits do not match the serial number TSR0000042");
    t.expect("Activation code: ");
    // Typed in blocks with spaces.
    let code = activation_code("TSR0000042", 0x42).replace('-', " ");
    t.send(&format!("{code}\r"));
    t.expect("Activating TSR0000042 [Tessera]\r\n");
    t.expect("Device code:  ");
    t.expect("Press Enter");
    t.send("cancel\r");
    t.expect("Cancel activation?");
    t.send("y\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(screen.contains("activation cancelled"), "{screen}");
    assert_eq!(screen.matches("Serial number: ").count(), 2, "{screen}");
    assert_eq!(d.status()["exists"], false);
}

#[test]
fn a_totp_code_shown_during_activation_counts_down_and_renews() {
    let d = Daemon::start();
    let uri = "otpauth://totp/Chat:frank?secret=JBSWY3DPEHPK3PXP&issuer=Chat&period=10";
    let mut t = tessera(&d, &["activate", "--uri", uri]);
    // The accounts being added come before the PIN.
    t.expect("Activating frank (Chat) [TOTP]");
    t.expect("New PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Repeat the PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Current code:  ");
    t.expect(" s left). Press Enter when done: ");
    // Redrawn each second down to the last one, then the next code.
    t.expect("(1 s left)");
    t.expect("(9 s left)");
    t.send("\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    let codes: Vec<&str> = screen
        .split("Current code:  ")
        .skip(1)
        .filter_map(|s| s.split("  (").next())
        .collect();
    assert!(codes.len() >= 3, "{screen}");
    assert!(
        codes.first() != codes.last(),
        "the code was renewed when it expired: {codes:?}"
    );
    assert!(screen.contains("Activated frank (Chat) [totp]"), "{screen}");
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
    // At a terminal the code is grouped for reading: "123 456".
    let code = screen.split("  (valid for ").next().unwrap().trim();
    let groups: Vec<&str> = code.split(' ').collect();
    assert!(
        groups.len() == 2
            && groups
                .iter()
                .all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit())),
        "{screen}"
    );
    assert!(screen.trim_end().ends_with(" s)"), "{screen}");
}

/// At a terminal `backup restore` asks the secret, then merge or replace
/// (asked again after a wrong answer), shows the plan, and asks to confirm.
#[test]
fn restoring_a_backup_asks_which_way_and_confirms() {
    let d = Daemon::with_accounts();
    let password = d.file("pw", b"correct horse battery");
    let file = d.dir.path().join("b.tessera");
    let out = d.run(&[
        "backup",
        "create",
        "--out",
        common::path_str(&file),
        "--password-file",
        common::path_str(&password),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let out = d.run(&["delete", "github", "--yes"]);
    assert_eq!(out.status.code(), Some(0));

    let mut t = tessera(&d, &["backup", "restore", common::path_str(&file)]);
    t.expect("The backup's password, or the vault's PIN when it was made: ");
    t.send("correct horse battery\r");
    t.expect("[m/r] ");
    t.send("x\r");
    t.expect("Please answer m or r.");
    t.send("m\r");
    t.expect("Will add: 1 (github (GitHub))");
    t.expect("Restore? [y/N] ");
    t.send("y\r");
    t.expect("Added: 1 (github (GitHub))");
    let (status, screen) = t.wait();
    assert!(status.success(), "{screen}");
    assert_eq!(d.accounts().len(), 2);
}

/// `tessera import` of an encrypted 2FAS file at a terminal: it says the
/// file is encrypted and asks for the password, shows every entry, asks to
/// confirm, and stores the four accounts it can.
#[test]
fn importing_an_encrypted_file_asks_its_password_then_confirms() {
    let d = Daemon::with_accounts();
    let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../import/tests/fixtures/2fas_encrypted.2fas");
    let mut t = tessera(&d, &["import", common::path_str(&file)]);
    t.expect("the file is encrypted");
    t.expect("The file's password: ");
    t.send("test-password-1234\r");
    t.expect("(2fas): 5 entries.");
    t.expect("bob (Bank) [TOTP]");
    t.expect("gamer (Steam) [Steam Guard]");
    t.expect("Import 4 accounts? [y/N] ");
    t.send("y\r");
    t.expect("Imported 4 accounts.");
    let (status, screen) = t.wait();
    assert!(status.success(), "{screen}");
    assert_eq!(d.accounts().len(), 6);
}

/// The QR code `tessera export --qr` drew between `from` and `to` on the
/// screen, as a PNG: each character two modules (`█` both light, `▀` the
/// top one, `▄` the bottom one, as `qrencode -t UTF8` draws), 6 pixels a
/// module, dark modules black.
fn screen_qr_png(screen: &str, from: &str, to: &str, path: &std::path::Path) {
    let start = screen.find(from).unwrap() + from.len();
    let end = start + screen[start..].find(to).unwrap();
    let lines: Vec<Vec<char>> = screen[start..end]
        .split('\n')
        .map(|l| l.trim_end_matches('\r').chars().collect::<Vec<_>>())
        .filter(|l| l.iter().any(|c| "█▀▄".contains(*c)))
        .collect();
    let width = lines.iter().map(Vec::len).max().unwrap();
    let (scale, border) = (6u32, 24u32);
    let w = width as u32 * scale + 2 * border;
    let h = lines.len() as u32 * 2 * scale + 2 * border;
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let (Some(x), Some(y)) = (x.checked_sub(border), y.checked_sub(border)) else {
            return image::Luma([255]);
        };
        let (col, row) = ((x / scale) as usize, (y / scale) as usize);
        let Some(c) = lines.get(row / 2).and_then(|l| l.get(col)) else {
            return image::Luma([255]);
        };
        let light = if row % 2 == 0 { "█▀" } else { "█▄" }.contains(*c);
        image::Luma([if light { 255 } else { 0 }])
    });
    img.save(path).unwrap();
}

/// `tessera export --qr` at a terminal: it warns and asks, takes the PIN,
/// pages through Google Authenticator's export codes (five accounts each),
/// and the code drawn on the screen, read as an image by another machine's
/// daemon (`tessera activate --image`), gives it the same accounts and
/// codes; the Tessera account is left out with the reason.
#[test]
fn export_qr_pages_through_codes_another_device_scans() {
    let d = Daemon::with_accounts();
    let pin = d.file("pin", PIN.as_bytes());
    for n in 1..=5 {
        let uri = format!("otpauth://totp/Site{n}:user{n}?secret=GEZDGNBVGY3TQOJQ&issuer=Site{n}");
        let out = d.run(&[
            "activate",
            "--uri",
            &uri,
            "--pin-file",
            common::path_str(&pin),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    }
    let mut t = tessera(&d, &["export", "--qr"]);
    t.expect("anyone who sees or photographs the screen");
    t.expect("Show them? [y/N] ");
    t.send("y\r");
    t.expect("PIN");
    t.send(&format!("{PIN}\r"));
    t.expect("left out  Example Bank: alice@example.com: a Tessera account");
    t.expect("Code 1 of 2: github (GitHub)");
    t.expect("Enter: the next code, q: stop.");
    let screen = t.screen();
    t.send("\r");
    t.expect("Code 2 of 2: ");
    t.expect("Shown: 6 accounts in 2 codes.");
    let (status, end) = t.wait();
    assert!(status.success(), "{end}");

    let png = d.dir.path().join("screen-qr.png");
    screen_qr_png(&screen, "Code 1 of 2", "Enter: the next code", &png);
    let fresh = Daemon::start();
    let fresh_pin = fresh.file("pin", PIN.as_bytes());
    let out = fresh.run(&[
        "activate",
        "--image",
        common::path_str(&png),
        "--pin-file",
        common::path_str(&fresh_pin),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
    assert_eq!(fresh.accounts().len(), 5, "the first code's five accounts");
    for _ in 0..3 {
        let a = d.run(&["code", "github", "--json"]);
        let b = fresh.run(&["code", "github", "--json"]);
        let (a, b) = (&common::json_lines(&a)[0], &common::json_lines(&b)[0]);
        if a["valid_from_unix"] == b["valid_from_unix"] {
            assert_eq!(a["code"], b["code"], "{a} {b}");
            return;
        }
    }
    panic!("never in the same TOTP window");
}
