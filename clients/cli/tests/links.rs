//! Links: the terminal's desktop file that registers `x-scheme-handler/tessera` and
//! `x-scheme-handler/otpauth` runs a command line that opens the
//! activation. The test runs that command line, as a desktop would with
//! `%u` replaced by the link, against a real daemon. The link's secret
//! must not stay in any command line while the CLI waits at its prompts.

mod common;

use common::*;

/// The `Exec` line of the repository's link handler, split into words.
fn exec_words() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../systemd/org.tessera.Authenticator.OpenLink.desktop"
    );
    let desktop = std::fs::read_to_string(path).unwrap();
    assert!(
        desktop.contains("MimeType=x-scheme-handler/tessera;x-scheme-handler/otpauth;"),
        "{desktop}"
    );
    let exec = desktop
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("an Exec line");
    exec.split_whitespace().map(str::to_owned).collect()
}

/// The handler's arguments after the program, with `%u` set to `link`.
fn args_for(link: &str) -> Vec<String> {
    let words = exec_words();
    assert!(words[0].ends_with("/tessera"), "{words:?}");
    assert_eq!(words.iter().filter(|w| *w == "%u").count(), 1, "{words:?}");
    words[1..]
        .iter()
        .map(|w| {
            if w == "%u" {
                link.to_owned()
            } else {
                w.clone()
            }
        })
        .collect()
}

#[test]
fn a_tessera_link_opens_the_activation() {
    let d = Daemon::start();
    let link = "tessera://activate?sn=TSR0000001&ac=00000523310060624280605095539573136129562&lbl=alice%40example.com";
    let args = args_for(link);
    let out = d.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // Without a terminal the activation stops at the PIN, after showing
    // the device code: the link was opened as an activation.
    let text = stdout(&out);
    assert!(text.contains("Device code:"), "{text}{}", stderr(&out));
    assert!(stderr(&out).contains("--pin-file"), "{}", stderr(&out));
}

#[test]
fn an_otpauth_link_opens_the_activation() {
    let d = Daemon::start();
    let link = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let mut args = args_for(link);
    args.push("--json".into());
    let out = d.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let first = stdout(&out).lines().next().unwrap_or_default().to_owned();
    // An otpauth account has no device code: the first step is the PIN.
    assert!(
        first.contains("\"state\":\"choose_pin\""),
        "{first} / {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--pin-file") || stdout(&out).contains("--pin-file"));
}

/// The command line (`/proc/PID/cmdline`, NULs as spaces) of every process
/// whose command line holds `needle`.
fn command_lines_holding(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go; one that is gone holds nothing.
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            found.push((pid, text));
        }
    }
    found
}

/// The children of `pid` (from `/proc/PID/task/*/children`).
fn children(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return kids;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            kids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    kids
}

#[test]
fn a_link_s_secret_is_not_on_the_waiting_cli_s_command_line() {
    let d = Daemon::start();
    // A secret no other test uses, so only this link can put it anywhere.
    let secret = "KRSXG5CTMVRXEZLUKN2XAZLSONSWG4TFOQ";
    let link = format!("otpauth://totp/Links:carol?secret={secret}&issuer=Links");
    let mut cmd = std::process::Command::new(tessera_bin());
    cmd.arg("--socket")
        .arg(d.socket())
        .args(args_for(&link))
        .env_remove("TESSERA_SOCKET");
    let mut t = common::pty::Pty::spawn(cmd);
    // Waiting at the PIN prompt: the link was read and sent to the daemon.
    t.expect("New PIN: ");
    let pid = t.pid();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("tessera"), "{cmdline}");
    assert!(!cmdline.contains(secret), "pid {pid}: {cmdline}");
    for child in children(pid) {
        let c = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&c).contains(secret),
            "child {child} of {pid}"
        );
    }
    assert_eq!(
        command_lines_holding(secret),
        vec![],
        "a command line holds the secret"
    );
    t.send("cancel\n");
    t.expect("Cancel activation? Nothing will be stored. [y/N] ");
    t.send("y\n");
    let (status, screen) = t.wait();
    assert_eq!(status.code(), Some(1), "{screen}");
}

#[test]
fn a_payload_is_read_from_a_file_or_standard_input_not_the_command_line() {
    let d = Daemon::start();
    let link = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    // @FILE, with the newline an editor leaves.
    let file = d.file("link.txt", format!("{link}\n").as_bytes());
    let out = d.run(&[
        "activate",
        "--uri",
        &format!("@{}", path_str(&file)),
        "--json",
    ]);
    let first = stdout(&out).lines().next().unwrap_or_default().to_owned();
    assert!(
        first.contains("\"state\":\"choose_pin\""),
        "{first} / {}",
        stderr(&out)
    );
    // `-`: standard input.
    let out = d.run_with_stdin(&["activate", "--uri", "-", "--json"], link.as_bytes());
    let first = stdout(&out).lines().next().unwrap_or_default().to_owned();
    assert!(
        first.contains("\"state\":\"choose_pin\""),
        "{first} / {}",
        stderr(&out)
    );
    // Bounded: a file larger than any payload is refused, naming it.
    let big = d.file("big.txt", &vec![b'a'; 70 * 1024]);
    let out = d.run(&[
        "activate",
        "--uri",
        &format!("@{}", path_str(&big)),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).contains("big.txt"), "{}", stdout(&out));
    assert!(stdout(&out).contains("64 KiB"), "{}", stdout(&out));
    let out = d.run_with_stdin(
        &["activate", "--uri", "-", "--json"],
        &vec![b'a'; 70 * 1024],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("standard input is larger than 64 KiB"),
        "{}",
        stdout(&out)
    );
    // A missing file is named.
    let out = d.run(&["activate", "--uri", "@/nonexistent/link.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/link.txt"),
        "{}",
        stderr(&out)
    );
}
