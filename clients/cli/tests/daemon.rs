//! `tessera` through a whole life with the real `tesserad`: a first
//! activation, a second one, every command, and an interactive activation.
//! `tesserad` must be built (`cargo build -p tessera-daemon`; `cargo test
//! --workspace` builds it): without it these tests fail, they never skip.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::pty::Pty;
use common::{Daemon, PIN, json_lines, path_str, qr_png, states, stderr, stdout, tessera_bin};

const URI: &str = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
const URI2: &str = "otpauth://totp/Forge:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Forge";

fn activate_uri(d: &Daemon, uri: &str, pin: &Path) -> Output {
    d.run(&[
        "activate",
        "--uri",
        uri,
        "--pin-file",
        path_str(pin),
        "--method",
        "pin",
        "--notifications",
        "deny",
        "--yes",
        "--json",
    ])
}

#[test]
fn scripted_activation_then_every_command() {
    let d = Daemon::start();
    let pin = d.file("pin", format!("{PIN}\n").as_bytes());

    let out = d.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_lines(&out)[0]["exists"], false);

    let out = activate_uri(&d, URI, &pin);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let lines = json_lines(&out);
    let s = states(&lines);
    assert!(s.contains(&"choose_pin"), "{s:?}");
    assert!(s.contains(&"confirm_pin"), "{s:?}");
    let finalize = lines
        .iter()
        .find(|l| l["state"] == "finalize_code")
        .unwrap();
    assert!(!finalize["code"].as_str().unwrap().is_empty());
    let last = lines.last().unwrap();
    assert_eq!(last["state"], "activated");
    assert_eq!(last["account"]["label"], "alice@example.com");
    assert_eq!(last["account"]["issuer"], "Example");
    let id = last["account"]["id"].as_str().unwrap().to_owned();
    assert!(!stdout(&out).contains(PIN) && !stderr(&out).contains(PIN));

    // A second activation unlocks with the existing PIN.
    let out = activate_uri(&d, URI2, &pin);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let lines = json_lines(&out);
    let s = states(&lines);
    assert!(!s.contains(&"choose_pin"), "{s:?}");
    assert!(s.contains(&"enter_pin"), "{s:?}");

    let out = d.run(&["list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = &json_lines(&out)[0]["accounts"];
    assert_eq!(list.as_array().unwrap().len(), 2);
    let out = d.run(&["list"]);
    assert!(stdout(&out).starts_with("LABEL"), "{}", stdout(&out));
    assert!(stdout(&out).contains("alice@example.com"));

    let out = d.run(&["code", "alice", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let code = &json_lines(&out)[0];
    assert_eq!(code["code"].as_str().unwrap().len(), 6);
    assert!(code["valid_until_unix"].as_i64().unwrap() > 0);
    let out = d.run(&["code", &id]);
    assert_eq!(stdout(&out).trim().len(), 6, "{}", stdout(&out));

    let out = d.run(&["code", "nobody", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ERROR_CODE_NOT_FOUND");

    let out = d.run(&["rename", "bob", "bob at forge", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["account"]["label"], "bob at forge");

    // Approvals through notifications, allowed after the activation (which
    // refused them here) and refused again.
    let out = d.run(&["approvals", "allow", "bob at forge", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["account"]["notifications"], true);
    let out = d.run(&["approvals", "deny", "bob at forge"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "Approvals through notifications refused for bob at forge."
    );
    let out = d.run(&["list", "--json"]);
    let list = json_lines(&out)[0]["accounts"].clone();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("notifications").is_none()),
        "{list}"
    );
    let out = d.run(&["approvals", "allow", "nobody"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let out = d.run(&["lock"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = d.run(&["list", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        json_lines(&out)[0]["error"]["code"],
        "ERROR_CODE_VAULT_LOCKED"
    );

    let wrong = d.file("wrong", b"000111\n");
    let out = d.run(&["unlock", "--pin-file", path_str(&wrong), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ERROR_CODE_WRONG_PIN");
    let out = d.run(&["unlock", "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = d.run(&["status", "--json"]);
    let st = &json_lines(&out)[0];
    assert_eq!(st["locked"], false);
    assert_eq!(st["protection"], "pin");
    assert_eq!(st["account_count"], 2);

    let new = d.file("new", b"739155\n");
    let out = d.run(&[
        "change-pin",
        "--pin-file",
        path_str(&pin),
        "--new-pin-file",
        path_str(&new),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    d.run(&["lock"]);
    let out = d.run(&["unlock", "--pin-file", path_str(&new)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = d.run(&["delete", "bob at forge"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = d.run(&["delete", "bob at forge", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_lines(&out)[0]["deleted"]["label"], "bob at forge");
    let out = d.run(&["list", "--json"]);
    assert_eq!(json_lines(&out)[0]["accounts"].as_array().unwrap().len(), 1);
}

#[test]
fn activation_from_an_image() {
    let d = Daemon::start();
    let pin = d.file("pin", PIN.as_bytes());
    let png = d.dir.path().join("qr.png");
    qr_png(URI, &png);
    let out = d.run(&[
        "activate",
        "--image",
        path_str(&png),
        "--pin-file",
        path_str(&pin),
        "--method",
        "pin",
        "--notifications",
        "deny",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let lines = json_lines(&out);
    assert_eq!(
        lines.last().unwrap()["account"]["label"],
        "alice@example.com"
    );

    // Not an image of a code: the failure is reported, exit 2.
    let junk = d.file("junk.png", b"not an image at all");
    let out = d.run(&["activate", "--image", path_str(&junk), "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let lines = json_lines(&out);
    let err = &lines.last().unwrap()["error"];
    assert_eq!(err["code"], "ERROR_CODE_INVALID_IMAGE", "{err}");
    assert_eq!(lines[0]["state"], "failed");
    assert_eq!(lines[0]["error"]["code"], "ERROR_CODE_INVALID_IMAGE");
}

#[test]
fn interactive_activation_and_cancel() {
    let d = Daemon::start();
    let mut cmd = Command::new(tessera_bin());
    cmd.arg("--socket")
        .arg(d.socket())
        .args(["activate", "--uri", URI]);
    let mut t = Pty::spawn(cmd);
    t.expect("New PIN: ");
    t.send("\x03");
    t.expect("Cancel activation? Nothing will be stored. [y/N] ");
    t.send("n\r");
    t.expect("New PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Repeat the PIN: ");
    t.send(&format!("{PIN}\r"));
    t.expect("Press Enter when done: ");
    t.send("\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(
        screen.contains("Activated alice@example.com (Example)"),
        "{screen}"
    );
    assert!(!screen.contains(PIN), "{screen}");

    // Cancelled for good: nothing stored.
    let mut cmd = Command::new(tessera_bin());
    cmd.arg("--socket")
        .arg(d.socket())
        .args(["activate", "--uri", URI2]);
    let mut t = Pty::spawn(cmd);
    t.expect("Vault PIN: ");
    t.send("cancel\r");
    t.expect("[y/N] ");
    t.send("y\r");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
    let out = d.run(&["list", "--json"]);
    assert_eq!(json_lines(&out)[0]["accounts"].as_array().unwrap().len(), 1);
}
