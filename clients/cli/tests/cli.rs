//! `tessera` end to end, without a terminal, against the real `tesserad`
//! (see `common/`), one daemon per test in its own temporary folder.

mod common;

use std::process::Command;

use common::{
    ALICE_ISSUER, ALICE_KEY, ALICE_LABEL, ALICE_SERIAL, Daemon, GITHUB_SECRET, GITHUB_URI,
    NOTIFY_CONFIG, PIN, activation_code, code_after, is_grouped, json_lines, path_str, qr_png,
    states, stderr, stdout, tessera_bin, tessera_payload,
};
use serde_json::json;
use tessera_core::otp::{Algorithm, OcraInput, OcraSuite, totp};

/// A Tessera payload for an account not in [`Daemon::with_accounts`].
fn bob_payload() -> String {
    tessera_payload("TSR0000002", 0x22, Some("bob"), Some("Example Bank"))
}

#[test]
fn not_running_exits_3_with_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let out = Command::new(tessera_bin())
        .args(["--socket", path_str(&sock), "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out).trim(),
        "tessera: tesserad is not running; start it with `systemctl --user start tesserad` or `tesserad`"
    );

    let out = Command::new(tessera_bin())
        .args(["status", "--json"])
        .env("TESSERA_SOCKET", &sock)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["error"]["code"], "DAEMON_NOT_RUNNING");
    assert!(
        line["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tesserad is not running")
    );
}

#[test]
fn default_socket_is_under_xdg_runtime_dir() {
    // The daemon serves $XDG_RUNTIME_DIR/tessera/tessera.sock, as installed.
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let d = Daemon::start_in(dir, xdg.join("tessera"), common::FAST_CONFIG);
    let out = Command::new(tessera_bin())
        .args(["status", "--json"])
        .env("XDG_RUNTIME_DIR", &xdg)
        .env_remove("TESSERA_SOCKET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_lines(&out)[0]["exists"], false);
    assert!(d.socket().starts_with(&xdg));
}

#[test]
fn scripted_activation_prints_one_json_line_per_state() {
    let d = Daemon::start_with(NOTIFY_CONFIG);
    let pin = d.file("pin", format!("{PIN}\n").as_bytes());
    let payload = tessera_payload(
        ALICE_SERIAL,
        ALICE_KEY,
        Some(ALICE_LABEL),
        Some(ALICE_ISSUER),
    );
    let out = d.run(&[
        "activate",
        "--uri",
        &payload,
        "--pin-file",
        path_str(&pin),
        "--method",
        "pin",
        "--notifications",
        "deny",
        "--yes",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(
        states(&lines),
        [
            "device_code",
            "choose_pin",
            "confirm_pin",
            "finalize_code",
            "notification_permission",
            "activated"
        ]
    );
    // "state" first, then the code and its grouped form.
    let device = lines[0]["code"].as_str().unwrap();
    let grouped = lines[0]["grouped"].as_str().unwrap();
    assert!(is_grouped(grouped, 4, 12), "{grouped}");
    assert_eq!(grouped.replace(' ', ""), device);
    assert!(
        stdout(&out).starts_with(&format!(
            r#"{{"state":"device_code","code":"{device}","grouped":"{grouped}"}}"#
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(lines[1]["min_length"], 4);
    assert!(
        is_grouped(lines[3]["grouped"].as_str().unwrap(), 4, 8),
        "{}",
        lines[3]
    );
    let activated = &lines[5];
    assert_eq!(activated["account"]["label"], ALICE_LABEL);
    assert_eq!(activated["account"]["issuer"], ALICE_ISSUER);
    assert_eq!(activated["account"]["kind"], "tessera");
    assert_eq!(activated["account"]["serial"], ALICE_SERIAL);
    let id = activated["account"]["id"].as_str().unwrap();
    assert!(activated.get("accounts").is_none());
    // Stored for real, with the PIN from the file (sent as the choice and
    // its confirmation), and the PIN never printed.
    assert_eq!(d.account_id(ALICE_LABEL), id);
    assert!(d.pin_opens_the_vault(PIN));
    assert!(!d.pin_opens_the_vault("135790"));
    assert!(!stdout(&out).contains(PIN) && !stderr(&out).contains(PIN));
}

#[test]
fn otpauth_activation_skips_the_device_code() {
    let d = Daemon::start();
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&[
        "activate",
        "--uri",
        GITHUB_URI,
        "--pin-file",
        path_str(&pin),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let lines = json_lines(&out);
    // No notification question unless the daemon's policy asks for one.
    assert_eq!(
        states(&lines),
        ["choose_pin", "confirm_pin", "finalize_code", "activated"]
    );
    // The finalize step shows the account's current code.
    let shown = lines[2]["code"].as_str().unwrap();
    assert!(is_grouped(lines[2]["grouped"].as_str().unwrap(), 3, 6));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let around: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| {
            totp(GITHUB_SECRET, Algorithm::Sha1, *t, 30, 6)
                .as_str()
                .to_owned()
        })
        .collect();
    assert!(
        around.iter().any(|c| c == shown),
        "{shown} not in {around:?}"
    );
    let account = &lines[3]["account"];
    assert_eq!(account["label"], "github");
    assert_eq!(account["issuer"], "GitHub");
    assert_eq!(account["kind"], "totp");
    assert_eq!(account["digits"], 6);
    assert_eq!(account["period"], 30);
}

#[test]
fn scripted_activation_from_an_image() {
    let d = Daemon::start_with(NOTIFY_CONFIG);
    let png = d.dir.path().join("qr.png");
    qr_png(
        &tessera_payload(
            ALICE_SERIAL,
            ALICE_KEY,
            Some(ALICE_LABEL),
            Some(ALICE_ISSUER),
        ),
        &png,
    );
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&[
        "activate",
        "--image",
        path_str(&png),
        "--pin-file",
        path_str(&pin),
        "--method",
        "pin",
        "--notifications",
        "allow",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(states(&lines)[0], "device_code");
    assert_eq!(
        states(&lines)[lines.len() - 2..],
        ["notification_permission", "activated"]
    );
    assert_eq!(lines.last().unwrap()["account"]["label"], ALICE_LABEL);
    assert_eq!(d.accounts().len(), 1);

    // The same image on standard input: read and decoded, then refused at
    // once, as alice is in the (unlocked) vault already.
    let out = d.run_with_stdin(
        &[
            "activate",
            "--image",
            "-",
            "--pin-file",
            path_str(&pin),
            "--notifications",
            "deny",
            "--json",
        ],
        &std::fs::read(&png).unwrap(),
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(states(&lines), ["failed", "<none>"]);
    assert_eq!(
        lines.last().unwrap()["error"]["code"],
        "ERROR_CODE_ALREADY_EXISTS"
    );
}

#[test]
fn scripted_activation_without_a_pin_file_names_the_flag() {
    let d = Daemon::start();
    let payload = bob_payload();
    let out = d.run(&["activate", "--uri", &payload, "--method", "pin", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    assert_eq!(states(&lines), ["device_code", "choose_pin", "<none>"]);
    let err = &lines.last().unwrap()["error"];
    assert_eq!(err["code"], "USAGE");
    assert!(err["message"].as_str().unwrap().contains("--pin-file"));

    // Without --json: the device code on stdout, the message on stderr.
    let out = d.run(&["activate", "--uri", &payload]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("tessera: "));
    assert!(stderr(&out).contains("--pin-file"), "{}", stderr(&out));
    let text = stdout(&out);
    let code = code_after(&text, "Device code:  ").unwrap_or_default();
    assert!(is_grouped(code, 4, 12), "{text}");
    assert!(text.contains("Activating bob (Example Bank)"), "{text}");
    assert_eq!(d.status()["exists"], false);
}

#[test]
fn a_refused_pin_is_not_sent_again() {
    let d = Daemon::start();
    let pin = d.file("pin", b"0000\n");
    let out = d.run(&[
        "activate",
        "--uri",
        GITHUB_URI,
        "--pin-file",
        path_str(&pin),
        "--method",
        "pin",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    // The daemon asked again once; the same PIN was not sent a second time.
    assert_eq!(states(&lines), ["choose_pin", "choose_pin", "<none>"]);
    let reason = lines[1]["reason"].as_str().unwrap();
    assert!(reason.contains("too easy to guess"), "{reason}");
    assert_eq!(lines[2]["error"]["code"], "ERROR_CODE_PIN_POLICY");
    assert!(
        lines[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains(reason)
    );
    assert_eq!(d.status()["exists"], false);
}

#[test]
fn existing_vault_asks_enter_pin_and_a_wrong_pin_exits_1() {
    let d = Daemon::with_accounts();
    let wrong = d.file("wrong", b"135790");
    let payload = bob_payload();
    let out = d.run(&[
        "activate",
        "--uri",
        &payload,
        "--pin-file",
        path_str(&wrong),
        "--method",
        "pin",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(
        states(&lines),
        ["device_code", "enter_pin", "enter_pin", "<none>"]
    );
    assert!(lines[2]["reason"].as_str().unwrap().contains("wrong PIN"));
    assert_eq!(lines[3]["error"]["code"], "ERROR_CODE_WRONG_PIN");
    assert_eq!(d.accounts().len(), 2);

    let right = d.file("right", PIN.as_bytes());
    let out = d.run(&[
        "activate",
        "--uri",
        &payload,
        "--pin-file",
        path_str(&right),
        "--method",
        "pin",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        states(&json_lines(&out)),
        ["device_code", "enter_pin", "finalize_code", "activated"]
    );
    assert_eq!(d.accounts().len(), 3);
}

#[test]
fn failed_activation_exits_1_in_scripts() {
    let d = Daemon::with_accounts();
    let pin = d.file("pin", PIN.as_bytes());
    // Alice's serial is in the vault already (unlocked): refused right
    // after decoding, before any question.
    let payload = tessera_payload(
        ALICE_SERIAL,
        ALICE_KEY,
        Some(ALICE_LABEL),
        Some(ALICE_ISSUER),
    );
    let out = d.run(&[
        "activate",
        "--uri",
        &payload,
        "--pin-file",
        path_str(&pin),
        "--json",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    // Not started over: the failure is the last state.
    assert_eq!(states(&lines), ["failed", "<none>"]);
    let failed = &lines[0]["error"];
    assert_eq!(failed["code"], "ERROR_CODE_ALREADY_EXISTS");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("already in the vault"),
        "{failed}"
    );
    assert_eq!(&lines[1]["error"], failed);
    assert_eq!(d.accounts().len(), 2);

    // Without --json: the daemon's message on stderr.
    let out = d.run(&["activate", "--uri", &payload, "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("tessera: {}\n", failed["message"].as_str().unwrap())
    );
}

#[test]
fn invalid_payload_exits_2_with_the_daemons_message() {
    let d = Daemon::start();
    let out = d.run(&["activate", "--uri", "bad", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    assert_eq!(states(&lines), ["failed", "<none>"]);
    assert_eq!(lines[0]["error"]["code"], "ERROR_CODE_INVALID_PAYLOAD");
    assert_eq!(lines[1]["error"], lines[0]["error"]);
    let message = lines[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("not a known format"), "{message}");

    let out = d.run(&["activate", "--uri", "bad"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), format!("tessera: {message}\n"));
    assert_eq!(stdout(&out), "");
}

#[test]
fn invalid_activation_code_as_a_failed_state_exits_2() {
    let d = Daemon::start();
    // Alice's activation code under another serial: the check digits fail.
    let good = tessera_payload(ALICE_SERIAL, ALICE_KEY, None, None);
    let bad = good.replace(ALICE_SERIAL, "TSR0000009");
    let out = d.run(&["activate", "--uri", &bad, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    // Nothing asked, nothing answered: the failure, then the error.
    assert_eq!(states(&lines), ["failed", "<none>"]);
    assert_eq!(lines[1]["error"]["code"], "ERROR_CODE_INVALID_PAYLOAD");
    let message = lines[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("serial number"), "{message}");
    assert_eq!(d.status()["exists"], false);
}

#[test]
fn manual_activation_from_flags() {
    let d = Daemon::start();
    let pin = d.file("pin", PIN.as_bytes());
    let serial = "TSR0000042";
    let code = activation_code(serial, 0x42);
    let out = d.run(&[
        "activate",
        "--manual",
        "--serial",
        serial,
        "--activation-code",
        &code,
        "--pin-file",
        path_str(&pin),
        "--method",
        "pin",
        "--notifications",
        "deny",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(
        states(&lines),
        [
            "device_code",
            "choose_pin",
            "confirm_pin",
            "finalize_code",
            "activated"
        ]
    );
    let account = &lines.last().unwrap()["account"];
    // No label in a manual entry: the serial names the account.
    assert_eq!(account["label"], serial);
    assert_eq!(account["serial"], serial);
    assert_eq!(account["kind"], "tessera");

    let out = d.run(&["activate", "--manual", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("--serial"));
}

#[test]
fn pin_from_standard_input() {
    let d = Daemon::start();
    let payload = tessera_payload(
        ALICE_SERIAL,
        ALICE_KEY,
        Some(ALICE_LABEL),
        Some(ALICE_ISSUER),
    );
    let out = d.run_with_stdin(
        &[
            "activate",
            "--uri",
            &payload,
            "--pin-file",
            "-",
            "--method",
            "pin",
            "--notifications",
            "deny",
        ],
        format!("{PIN}\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Activating alice@example.com (Example Bank) [Tessera]\n"),
        "{text}"
    );
    let device = code_after(&text, "Device code:  ").unwrap_or_default();
    assert!(is_grouped(device, 4, 12), "{text}");
    let finalize = code_after(&text, "Finalize code:  ").unwrap_or_default();
    assert!(is_grouped(finalize, 4, 8), "{text}");
    let id = d.account_id(ALICE_LABEL);
    assert!(
        text.contains(&format!(
            "Activated alice@example.com (Example Bank) [tessera], id {}.",
            &id[..8]
        )),
        "{text}"
    );
    assert!(!text.contains(PIN));
    assert!(d.pin_opens_the_vault(PIN));

    // An otpauth account shows its current code instead of a finalize code.
    let out = d.run_with_stdin(
        &["activate", "--uri", GITHUB_URI, "--pin-file", "-"],
        PIN.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("Device code"), "{text}");
    let current = code_after(&text, "Current code:  ").unwrap_or_default();
    assert!(is_grouped(current, 3, 6), "{text}");
    assert!(
        text.contains("Activated github (GitHub) [totp], id "),
        "{text}"
    );
}

#[test]
fn list_as_table_and_json() {
    let d = Daemon::with_accounts();
    let alice = d.account_id(ALICE_LABEL);
    let github = d.account_id("github");
    let out = d.run(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!(
            "LABEL              ISSUER        KIND     ID\n\
             alice@example.com  Example Bank  tessera  {}\n\
             github             GitHub        totp     {}\n",
            &alice[..8],
            &github[..8]
        )
    );
    let out = d.run(&["list", "--json"]);
    let v = &json_lines(&out)[0];
    assert_eq!(v["accounts"].as_array().unwrap().len(), 2);
    assert_eq!(v["accounts"][1]["label"], "github");
    assert_eq!(v["accounts"][1]["kind"], "totp");
    assert_eq!(v["accounts"][0]["serial"], ALICE_SERIAL);

    // No vault yet: refused with the daemon's code.
    let empty = Daemon::start();
    let out = empty.run(&["list"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        json_lines(&empty.run(&["list", "--json"]))[0]["error"]["code"],
        "ERROR_CODE_NO_VAULT"
    );
}

/// The RFC 6238 code of the github account for the window starting at `from`.
fn github_code(from: i64) -> String {
    totp(GITHUB_SECRET, Algorithm::Sha1, from as u64, 30, 6)
        .as_str()
        .to_owned()
}

#[test]
fn code_plain_json_and_errors() {
    let d = Daemon::with_accounts();
    let out = d.run(&["code", "git"]);
    assert_eq!(out.status.code(), Some(0));
    // Not a terminal: the code alone.
    let plain = stdout(&out);
    assert!(
        plain.len() == 7 && plain[..6].chars().all(|c| c.is_ascii_digit()) && plain.ends_with('\n'),
        "{plain:?}"
    );
    let out = d.run(&["code", "github", "--json"]);
    let v = &json_lines(&out)[0];
    let from = v["valid_from_unix"].as_i64().unwrap();
    assert_eq!(v["valid_until_unix"].as_i64().unwrap(), from + 30);
    assert_eq!(v["code"], github_code(from));
    let left = v["seconds_left"].as_i64().unwrap();
    assert!((0..=30).contains(&left), "{left}");
    assert_eq!(v["account"]["label"], "github");

    let out = d.run(&["code", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("tessera: ") && err.contains("nobody") && err.ends_with('\n'),
        "{err}"
    );
    let out = d.run(&["code", "nobody", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        json_lines(&out)[0],
        json!({"error":{"code":"ERROR_CODE_NOT_FOUND","message":err.trim_end().strip_prefix("tessera: ").unwrap()}})
    );
}

#[test]
fn code_copy_uses_a_clipboard_tool() {
    let d = Daemon::with_accounts();
    let bin = tempfile::tempdir().unwrap();
    let sink = bin.path().join("clipboard");
    let script = bin.path().join("xclip");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > '{0}.args'\ncat > '{0}'\n",
            sink.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d
        .command(&["code", "github", "--copy", "--json"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = &json_lines(&out)[0];
    assert_eq!(v["copied"], true);
    let code = github_code(v["valid_from_unix"].as_i64().unwrap());
    assert_eq!(v["code"], code);
    assert_eq!(std::fs::read_to_string(&sink).unwrap(), code);
    assert_eq!(
        std::fs::read_to_string(format!("{}.args", sink.display())).unwrap(),
        "-selection clipboard\n"
    );

    let out = d
        .command(&["code", "github", "--copy"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let copied = std::fs::read_to_string(&sink).unwrap();
    assert!(stdout(&out).starts_with("Copied the code for github to the clipboard"));
    assert!(!stdout(&out).contains(&copied), "{}", stdout(&out));

    // No tool at all.
    let empty = tempfile::tempdir().unwrap();
    let out = d
        .command(&["code", "github", "--copy", "--json"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = &json_lines(&out)[0];
    assert_eq!(v["error"]["code"], "CLIPBOARD");
    assert!(v["error"]["message"].as_str().unwrap().contains("wl-copy"));
}

#[test]
fn respond_rename_delete() {
    let d = Daemon::with_accounts();
    let suite = "OCRA-1:HOTP-SHA256-8:QN08";
    let expected = suite
        .parse::<OcraSuite>()
        .unwrap()
        .respond(GITHUB_SECRET, &OcraInput::new("12345678"))
        .unwrap();
    let out = d.run(&["respond", "github", "12345678"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}\n", expected.as_str()));
    let out = d.run(&["respond", "github", "12345678", "--json"]);
    assert_eq!(
        json_lines(&out)[0],
        json!({"response":expected.as_str(),"suite":suite})
    );
    // Alice's key is derived during activation: 8 digits, same suite.
    let out = d.run(&["respond", "alice", "12345678", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = &json_lines(&out)[0];
    assert_eq!(v["suite"], suite);
    assert_eq!(v["response"].as_str().unwrap().len(), 8);
    // A challenge the suite cannot take (QN08: up to 8 digits).
    let out = d.run(&["respond", "github", "abc", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = &json_lines(&out)[0]["error"];
    assert_eq!(err["code"], "ERROR_CODE_INVALID_ARGUMENT");
    let out = d.run(&["respond", "github", "abc"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!("tessera: {}\n", err["message"].as_str().unwrap())
    );

    let out = d.run(&["rename", "github", "GitHub work", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out)[0]["account"]["label"], "GitHub work");
    let out = d.run(&["rename", "GitHub work", "GitHub work 2"]);
    assert_eq!(stdout(&out), "Renamed to GitHub work 2.\n");

    // No terminal and no --yes: refused before anything is deleted.
    let out = d.run(&["delete", "GitHub work 2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(d.accounts().len(), 2);

    let github = d.account_id("GitHub work 2");
    let out = d.run(&["delete", "GitHub work 2", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out)[0]["deleted"]["id"], github.as_str());
    let left = d.accounts();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["label"], ALICE_LABEL);
}

#[test]
fn lock_unlock_status_change_pin() {
    let d = Daemon::with_accounts();
    let out = d.run(&["status"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("unlocked, 2 accounts"),
        "{}",
        stdout(&out)
    );
    let out = d.run(&["lock", "--json"]);
    assert_eq!(json_lines(&out)[0]["locked"], true);
    let out = d.run(&["status"]);
    assert!(stdout(&out).contains("locked (unlock it with `tessera unlock`)"));

    let out = d.run(&["list", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = &json_lines(&out)[0]["error"];
    assert_eq!(err["code"], "ERROR_CODE_VAULT_LOCKED");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("locked"), "{message}");
    let out = d.run(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), format!("tessera: {message}\n"));

    let out = d.run(&["unlock"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--pin-file"));

    let wrong = d.file("wrong", b"135790\n");
    let out = d.run(&["unlock", "--pin-file", path_str(&wrong), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ERROR_CODE_WRONG_PIN");
    assert_eq!(d.status()["failed_attempts"], 1);

    let right = d.file("right", format!("{PIN}\n").as_bytes());
    let out = d.run(&["unlock", "--pin-file", path_str(&right)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "Vault unlocked, 2 accounts.\n");

    let mut status = d.status();
    // The TPM part depends on the machine (tests/tpm.rs looks at it).
    let tpm = status.as_object_mut().unwrap().remove("tpm").unwrap();
    assert_eq!(tpm["enrolled"], false, "{tpm}");
    assert_eq!(
        status,
        json!({"exists":true,"locked":false,"protection":"pin","failed_attempts":0,
               "retry_after_seconds":0,"account_count":2,"auto_lock_minutes":15,
               "log_destination":"standard error","settings_warnings":[]})
    );

    let new = d.file("new", b"777111\n");
    let out = d.run(&[
        "change-pin",
        "--pin-file",
        path_str(&right),
        "--new-pin-file",
        path_str(&new),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "PIN changed.\n");
    assert!(!d.pin_opens_the_vault(PIN));
    assert!(d.pin_opens_the_vault("777111"));

    // Both from standard input: old, then new.
    let out = d.run_with_stdin(
        &["change-pin", "--pin-file", "-", "--new-pin-file", "-"],
        b"777111\n135790\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(d.pin_opens_the_vault("135790"));

    // A wrong current PIN changes nothing.
    let out = d.run(&[
        "change-pin",
        "--pin-file",
        path_str(&right),
        "--new-pin-file",
        path_str(&new),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ERROR_CODE_WRONG_PIN");
    assert!(d.pin_opens_the_vault("135790"));
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(tessera_bin())
        .args(["activate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(tessera_bin())
        .args(["activate", "--image", "-", "--pin-file", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("standard input"));
    // Bad input is reported before the daemon is asked: exit 2 even with no
    // daemon at all (not 3).
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(tessera_bin())
        .args(["--socket", path_str(&dir.path().join("none.sock"))])
        .args(["activate", "--image", "/nonexistent/qr.png", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = &json_lines(&out)[0];
    assert_eq!(v["error"]["code"], "USAGE");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/qr.png")
    );
}

/// `tessera … | head -0`: stdout is a pipe nobody reads. The output is lost,
/// quietly: no panic, exit 0; a failure keeps its exit code.
#[test]
fn a_closed_stdout_exits_quietly() {
    let d = Daemon::with_accounts();
    for (args, exit) in [
        (&["list"][..], 0),
        (&["list", "--json"], 0),
        (&["status"], 0),
        (&["code", "github"], 0),
        (&["code", "nobody", "--json"], 2),
    ] {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills two descriptors that we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors from pipe(2), each owned once.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd;
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        drop(read); // closed before tessera writes anything
        let out = d
            .command(args)
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(exit), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn an_image_that_is_a_fifo_is_refused_without_waiting() {
    let d = Daemon::start();
    let fifo = d.dir.path().join("code.png");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    // No writer ever opens it: a blocking open would wait for ever.
    let out = d.run(&["activate", "--image", fifo.to_str().unwrap()]);
    // Exit 2: the user's input is at fault (the CLI's exit codes).
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&fifo.display().to_string()), "{err}");
    assert!(err.contains("FIFO"), "{err}");
}

/// `--image -` reads at most the image limit: an endless stream (here
/// /dev/zero) is refused at 20 MiB, naming the limit, not read for ever.
#[test]
fn an_endless_image_on_standard_input_is_cut_at_the_limit() {
    let d = Daemon::start();
    let out = d
        .command(&["activate", "--image", "-", "--json"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the image from standard input is larger than 20 MiB"),
        "{}",
        stdout(&out)
    );
}

/// `activate --attach` with an id the daemon does not know says so and
/// stores nothing (the desktop app's tests attach to a real one).
#[test]
fn attach_to_an_unknown_activation_is_refused() {
    let d = Daemon::start();
    let out = d.run(&[
        "activate",
        "--attach",
        "0123456789abcdef0123456789abcdef",
        "--json",
    ]);
    assert!(!out.status.success());
    // With --json the error is a JSON line on stdout.
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(err.contains("NOT_FOUND") || err.contains("ENDED"), "{err}");
    assert!(err.to_lowercase().contains("activation"), "{err}");
    let status = d.run(&["--json", "status"]);
    assert!(
        stdout(&status).contains("\"exists\":false")
            || stdout(&status).contains("\"exists\": false"),
        "{}",
        stdout(&status)
    );
}
