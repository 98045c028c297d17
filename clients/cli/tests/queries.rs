//! Finding accounts (a part of `issuer:label`, exact names, short ids,
//! several matches), every account's code, HOTP counters that are never
//! used up by accident (`--peek`, a failed `--copy`), renames that would
//! clash, deletes by a part of a name, the one way codes are shown, and
//! names that could pass for others: `tessera` against the real `tesserad`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::pty::Pty;
use common::{ALICE_LABEL, Daemon, GITHUB_SECRET, PIN, json_lines, path_str, stderr, stdout};
use tessera_core::otp::{Algorithm, hotp, totp};

/// An HOTP account labelled like the TOTP `github` one, under another
/// issuer; its key is RFC 4226's `12345678901234567890`.
const GITLAB_HOTP: &str =
    "otpauth://hotp/GitLab:github?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitLab&counter=5";
const RFC4226_KEY: &[u8] = b"12345678901234567890";

/// [`Daemon::with_accounts`] plus [`GITLAB_HOTP`].
fn with_hotp() -> Daemon {
    let d = Daemon::with_accounts();
    activate(&d, GITLAB_HOTP).unwrap();
    d
}

/// Activates `uri` with the vault's PIN; the error output when refused.
fn activate(d: &Daemon, uri: &str) -> Result<(), String> {
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&["activate", "--uri", uri, "--pin-file", path_str(&pin)]);
    if out.status.code() == Some(0) {
        Ok(())
    } else {
        Err(format!("{}{}", stdout(&out), stderr(&out)))
    }
}

/// The stored counter of the account with issuer `issuer`.
fn counter(d: &Daemon, issuer: &str) -> u64 {
    d.accounts()
        .iter()
        .find(|a| a["issuer"] == issuer)
        .unwrap_or_else(|| panic!("no account of {issuer}"))["counter"]
        .as_u64()
        .unwrap()
}

fn id_of(d: &Daemon, issuer: &str) -> String {
    d.accounts()
        .iter()
        .find(|a| a["issuer"] == issuer)
        .unwrap_or_else(|| panic!("no account of {issuer}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn hotp_code(counter: u64) -> String {
    hotp(RFC4226_KEY, Algorithm::Sha1, counter, 6)
        .as_str()
        .to_owned()
}

fn github_code(from: i64) -> String {
    totp(GITHUB_SECRET, Algorithm::Sha1, from as u64, 30, 6)
        .as_str()
        .to_owned()
}

#[test]
fn a_query_is_a_part_of_issuer_and_label_or_the_short_id() {
    let d = Daemon::with_accounts();
    // "bank" is in the issuer (Example Bank), not at the start of the label.
    let out = d.run(&["code", "bank", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["account"]["label"], ALICE_LABEL);
    // The 8 characters `tessera list` prints, in any case.
    let github = d.account_id("github");
    let out = d.run(&["code", &github[..8].to_uppercase(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["account"]["id"], github.as_str());
    // The full id, and issuer:label.
    let out = d.run(&["respond", &github, "12345678"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = d.run(&[
        "approvals",
        "deny",
        "example bank:ALICE@example.com",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["account"]["label"], ALICE_LABEL);
}

#[test]
fn several_matches_are_listed_and_nothing_is_done() {
    let d = with_hotp();
    let before = counter(&d, "GitLab");
    let gitlab = id_of(&d, "GitLab");
    let github = id_of(&d, "GitHub");
    // The same label under two issuers, and a part of both names.
    for query in ["github", "git"] {
        let out = d.run(&["code", query]);
        assert_eq!(out.status.code(), Some(2), "{query}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("matches 2 accounts"), "{err}");
        assert!(
            err.contains(&format!("GitHub:github  (id {})", &github[..8])),
            "{err}"
        );
        assert!(
            err.contains(&format!("GitLab:github  (id {})", &gitlab[..8])),
            "{err}"
        );
        assert!(!err.contains("alice"), "{err}");
        let out = d.run(&["code", query, "--json"]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(json_lines(&out)[0]["error"]["code"], "ERROR_CODE_AMBIGUOUS");
    }
    for args in [
        &["rename", "git", "x"][..],
        &["delete", "git", "--yes"],
        &["approvals", "deny", "git"],
    ] {
        let out = d.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(counter(&d, "GitLab"), before, "no counter advanced");
    assert_eq!(d.accounts().len(), 3);
    // Both stay reachable: issuer:label exactly, or the short id.
    let out = d.run(&["code", "GitLab:github", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["code"], hotp_code(before));
    let out = d.run(&["code", &github[..8], "--json"]);
    assert_eq!(json_lines(&out)[0]["account"]["issuer"], "GitHub");
}

#[test]
fn code_without_a_query_shows_every_code_and_uses_up_no_counter() {
    let d = with_hotp();
    let before = counter(&d, "GitLab");
    let gitlab = id_of(&d, "GitLab");
    for args in [&["code", "--json"][..], &["code", "--all", "--json"]] {
        let out = d.run(args);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        let codes = json_lines(&out)[0]["codes"].as_array().unwrap().clone();
        assert_eq!(codes.len(), 3);
        let github = codes
            .iter()
            .find(|c| c["account"]["issuer"] == "GitHub")
            .unwrap();
        let from = github["valid_from_unix"].as_i64().unwrap();
        assert_eq!(github["code"], github_code(from));
        let hotp = codes
            .iter()
            .find(|c| c["account"]["issuer"] == "GitLab")
            .unwrap();
        assert!(hotp["code"].is_null(), "{hotp}");
        assert_eq!(hotp["counter"], before);
    }
    let out = d.run(&["code"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("ACCOUNT"), "{text}");
    let hotp_line = text
        .lines()
        .find(|l| l.starts_with("GitLab:github "))
        .unwrap_or_else(|| panic!("no GitLab line: {text}"));
    assert!(
        hotp_line.ends_with(&format!("[HOTP: tessera code {}]", &gitlab[..8])),
        "{text}"
    );
    assert!(text.contains("Example Bank:alice@example.com  "), "{text}");
    assert_eq!(counter(&d, "GitLab"), before);
    // --all takes no query.
    assert_eq!(d.run(&["code", "--all", "git"]).status.code(), Some(2));
}

#[test]
fn peek_shows_the_next_hotp_code_without_using_it() {
    let d = with_hotp();
    let n = counter(&d, "GitLab");
    for _ in 0..2 {
        let out = d.run(&["code", "gitlab", "--peek", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        let v = &json_lines(&out)[0];
        assert_eq!(v["code"], hotp_code(n));
        assert_eq!(v["counter"], n);
        assert_eq!(v["peeked"], true);
    }
    assert_eq!(counter(&d, "GitLab"), n);
    // The peeked code is the one a plain `code` then uses.
    let out = d.run(&["code", "gitlab"]);
    assert_eq!(stdout(&out), format!("{}\n", hotp_code(n)));
    assert_eq!(counter(&d, "GitLab"), n + 1);
}

/// A folder with an `xclip` that runs `body` (a shell script).
fn fake_xclip(body: &str) -> tempfile::TempDir {
    let bin = tempfile::tempdir().unwrap();
    let script = bin.path().join("xclip");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn copy(d: &Daemon, query: &str, path: &Path) -> std::process::Output {
    d.command(&["code", query, "--copy"])
        .env("PATH", path)
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

#[test]
fn a_failed_copy_uses_up_no_hotp_code() {
    let d = with_hotp();
    let n = counter(&d, "GitLab");
    // No clipboard tool at all.
    let none = tempfile::tempdir().unwrap();
    let out = copy(&d, "gitlab", none.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("xclip"), "{}", stderr(&out));
    assert_eq!(counter(&d, "GitLab"), n);
    // A tool that fails.
    let failing = fake_xclip("cat >/dev/null; exit 1");
    let out = copy(&d, "gitlab", failing.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(counter(&d, "GitLab"), n);
    // A tool that works: the code at the old counter, which is now used.
    let sink = tempfile::tempdir().unwrap();
    let clipboard = sink.path().join("clipboard");
    let working = fake_xclip(&format!("cat > '{}'", clipboard.display()));
    let path = format!("{}:/usr/bin:/bin", working.path().display());
    let out = copy(&d, "gitlab", Path::new(&path));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&clipboard).unwrap(), hotp_code(n));
    assert_eq!(counter(&d, "GitLab"), n + 1);
}

#[test]
fn a_rename_onto_an_existing_name_is_refused() {
    let d = Daemon::with_accounts();
    activate(
        &d,
        "otpauth://totp/GitHub:work?secret=MFRGGZDFMZTWQ2LK&issuer=GitHub",
    )
    .unwrap();
    let out = d.run(&["rename", "work", "GitHub", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = &json_lines(&out)[0]["error"];
    assert_eq!(err["code"], "ERROR_CODE_ALREADY_EXISTS");
    assert!(
        err["message"].as_str().unwrap().contains("GitHub:github"),
        "{err}"
    );
    assert!(d.accounts().iter().any(|a| a["label"] == "work"));
    // Its own label in another case, or a label free under the issuer: fine.
    let out = d.run(&["rename", "github:github", "GitHub"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = d.run(&["rename", "work", "alice@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn delete_by_a_part_of_a_name_never_deletes_unasked() {
    let d = Daemon::with_accounts();
    let alice = d.account_id(ALICE_LABEL);
    // --yes with a part of the name: refused, nothing deleted.
    let out = d.run(&["delete", "example", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("exact"), "{err}");
    assert!(err.contains("Example Bank:alice@example.com"), "{err}");
    // No terminal to ask on and no --yes: the account is named.
    let out = d.run(&["delete", "example"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("Example Bank:alice@example.com"), "{err}");
    assert!(err.contains(&alice[..8]), "{err}");
    assert_eq!(d.accounts().len(), 2);
    // The short id is exact.
    let out = d.run(&["delete", &alice[..8], "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_lines(&out)[0]["deleted"]["id"], alice.as_str());
    assert_eq!(d.accounts().len(), 1);
}

#[test]
fn a_delete_by_a_part_of_a_name_names_the_account_and_asks() {
    let d = Daemon::with_accounts();
    let mut cmd = std::process::Command::new(common::tessera_bin());
    cmd.arg("--socket").arg(d.socket()).args(["delete", "exam"]);
    cmd.env_remove("TESSERA_SOCKET");
    let mut t = Pty::spawn(cmd);
    t.expect("Delete account alice@example.com (Example Bank)? [y/N] ");
    t.send("y\r");
    let (status, screen) = t.wait();
    assert!(status.success(), "{screen}");
    assert_eq!(d.accounts().len(), 1);
}

#[test]
fn codes_are_grouped_for_people_and_whole_for_scripts() {
    let d = Daemon::with_accounts();
    let out = d.run(&["code", "github", "--json"]);
    let v = &json_lines(&out)[0];
    let code = v["code"].as_str().unwrap();
    assert_eq!(v["display"], format!("{} {}", &code[..3], &code[3..]));
    // Piped: the digits alone.
    let out = d.run(&["code", "github"]);
    let piped = stdout(&out);
    assert!(
        piped.len() == 7 && piped[..6].bytes().all(|b| b.is_ascii_digit()),
        "{piped:?}"
    );
    // At a terminal: `123 456  (valid for N s)`; 8 digits as 4 + 4.
    activate(
        &d,
        "otpauth://totp/Eight:eight?secret=MFRGGZDFMZTWQ2LK&issuer=Eight&digits=8",
    )
    .unwrap();
    for (query, digits) in [("github", 6), ("eight", 8)] {
        let mut cmd = std::process::Command::new(common::tessera_bin());
        cmd.arg("--socket").arg(d.socket()).args(["code", query]);
        cmd.env_remove("TESSERA_SOCKET");
        let mut t = Pty::spawn(cmd);
        t.expect("(valid for");
        let (_, screen) = t.wait();
        let shown = screen.trim_start().split("  (").next().unwrap().to_owned();
        let (first, second) = shown.split_once(' ').unwrap_or(("", ""));
        assert_eq!(first.len(), digits / 2, "{screen:?}");
        assert_eq!(second.len(), digits / 2, "{screen:?}");
        assert!(
            format!("{first}{second}")
                .bytes()
                .all(|b| b.is_ascii_digit()),
            "{screen:?}"
        );
    }
}

#[test]
fn names_that_could_pass_for_others_are_refused() {
    let d = Daemon::with_accounts();
    // A right-to-left override in the issuer, a zero-width space in the label.
    for (uri, field, code) in [
        (
            "otpauth://totp/x?secret=MFRGGZDFMZTWQ2LK&issuer=Pay%E2%80%AEkcab",
            "issuer",
            "U+202E",
        ),
        (
            "otpauth://totp/git%E2%80%8Bhub?secret=MFRGGZDFMZTWQ2LK",
            "label",
            "U+200B",
        ),
    ] {
        let err = activate(&d, uri).unwrap_err();
        assert!(err.contains(field), "{err}");
        assert!(err.contains(code), "{err}");
    }
    assert_eq!(d.accounts().len(), 2);
    for (label, code) in [
        ("git\u{200B}hub", "U+200B"),
        ("a\u{2067}b", "U+2067"),
        ("\u{FEFF}x", "U+FEFF"),
        ("bell\u{7}", "U+0007"),
    ] {
        let out = d.run(&["rename", "github", label]);
        assert_eq!(out.status.code(), Some(2), "{label:?}");
        let err = stderr(&out);
        assert!(err.contains("label") && err.contains(code), "{err}");
    }
    assert!(d.accounts().iter().any(|a| a["label"] == "github"));
}
