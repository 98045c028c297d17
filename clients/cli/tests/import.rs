//! `tessera import` against the real daemon, with the fixtures of
//! `import/tests/fixtures` (made by `make_fixtures.py` from the formats'
//! public descriptions): every entry shown before anything is stored, a
//! wrong password and a missing confirmation storing nothing, the codes of
//! imported accounts those of their secrets, duplicates reported rather
//! than doubled, policy applied, and a fresh machine's first vault made by
//! an import.

mod common;

use std::path::PathBuf;

use common::*;
use tessera_core::otp::{Algorithm, totp};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../import/tests/fixtures")
        .join(name)
}

/// `issuer:label` of every account, sorted.
fn names(d: &Daemon) -> Vec<String> {
    let mut l: Vec<String> = d
        .accounts()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["issuer"].as_str().unwrap(),
                a["label"].as_str().unwrap()
            )
        })
        .collect();
    l.sort();
    l
}

const FIXTURE_PASSWORD: &[u8] = b"test-password-1234";

#[test]
fn an_encrypted_aegis_file_is_shown_then_imported_once() {
    let d = Daemon::with_accounts();
    let before = names(&d);
    let file = fixture("aegis_encrypted.json");
    let file = path_str(&file);
    let password = d.file("password", FIXTURE_PASSWORD);
    let wrong = d.file("wrong", b"not-the-password");

    // No password: it says the file is encrypted, not that it is damaged.
    let out = d.run(&["import", file, "--dry-run"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("the file is encrypted"),
        "{}",
        stderr(&out)
    );
    let out = d.run(&[
        "--json",
        "import",
        file,
        "--dry-run",
        "--password-file",
        path_str(&wrong),
    ]);
    assert_ne!(out.status.code(), Some(0));
    let error = &json_lines(&out)[0]["error"];
    assert_eq!(error["code"], "ERROR_CODE_WRONG_PASSWORD", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("password does not open"),
        "{error}"
    );

    // The dry run shows every entry: the new ones, and why the rest cannot
    // be imported.
    let out = d.run(&[
        "import",
        file,
        "--dry-run",
        "--password-file",
        path_str(&password),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("(aegis): 9 entries."), "{text}");
    assert!(text.contains("New (7):"), "{text}");
    assert!(text.contains("gamer (Steam) [Steam Guard]"), "{text}");
    assert!(text.contains("mobile (VPN) [mOTP]"), "{text}");
    assert!(text.contains("ya (Yandex) [Yandex Key]"), "{text}");
    assert!(text.contains("bob (Bank) [TOTP]"), "{text}");
    assert!(text.contains("carol (Mail) [HOTP]"), "{text}");
    assert!(text.contains("Cannot be imported (2):"), "{text}");
    assert!(text.contains("Old: md5: "), "{text}");
    assert_eq!(names(&d), before, "a dry run stores nothing");

    // Without a terminal and without --yes: refused, nothing stored.
    let out = d.run(&["import", file, "--password-file", path_str(&password)]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(names(&d), before);

    let out = d.run(&[
        "import",
        file,
        "--yes",
        "--password-file",
        path_str(&password),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Imported 7 accounts."),
        "{}",
        stdout(&out)
    );
    let after = names(&d);
    assert_eq!(after.len(), before.len() + 7, "{after:?}");
    assert!(after.contains(&"Bank:bob".to_owned()), "{after:?}");

    // Bob's code is RFC 6238's SHA-256 secret over 60 s in 8 digits, as
    // the file said.
    let out = d.run(&["code", "bob", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let code = &json_lines(&out)[0];
    let at = code["valid_from_unix"].as_u64().unwrap();
    let expected = totp(
        b"12345678901234567890123456789012",
        Algorithm::Sha256,
        at,
        60,
        8,
    );
    assert_eq!(code["code"], expected.as_str(), "{code}");

    // Again: every account is a duplicate, nothing is stored twice.
    let out = d.run(&[
        "--json",
        "import",
        file,
        "--yes",
        "--password-file",
        path_str(&password),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = &json_lines(&out)[0];
    assert_eq!(plan["added"].as_array().unwrap().len(), 0, "{plan}");
    assert_eq!(plan["duplicates"].as_array().unwrap().len(), 7, "{plan}");
    assert_eq!(plan["applied"], false, "{plan}");
    assert_eq!(names(&d), after);
}

#[test]
fn a_fresh_machine_gets_its_first_vault_from_an_import() {
    let d = Daemon::start();
    let file = fixture("uri_list.txt");
    let pin = d.file("new-pin", b"551177");
    let out = d.run(&["import", path_str(&file), "--yes"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--new-pin-file"), "{}", stderr(&out));
    assert_eq!(d.status()["exists"], false);

    let out = d.run(&[
        "import",
        path_str(&file),
        "--yes",
        "--new-pin-file",
        path_str(&pin),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("(uri-list): 4 entries."), "{text}");
    // The bad lines are named by their line number and reason.
    assert!(text.contains("Cannot be imported (2):"), "{text}");
    assert!(text.contains("line 5"), "{text}");
    assert!(text.contains("line 6"), "{text}");
    assert_eq!(names(&d), ["Example:alice@example.com", "Mail:carol"]);
    assert!(d.pin_opens_the_vault("551177"));
}

#[test]
fn policy_limits_what_an_import_stores() {
    let config = format!("{FAST_CONFIG}[accounts]\nalgorithms = [\"SHA1\", \"SHA256\"]\nmax = 2\n");
    let d = Daemon::start_with(&config);
    let pin = d.file("new-pin", b"551177");
    let pin = path_str(&pin);

    // Four usable entries, one of them SHA-512: over the limit of two, so
    // nothing at all is stored.
    let plain = fixture("aegis_plain.json");
    let out = d.run(&["import", path_str(&plain), "--yes", "--new-pin-file", pin]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("accounts.max"), "{}", stderr(&out));
    assert_eq!(d.status()["exists"], false, "nothing was stored");

    // The list's SHA-512 account is skipped with the key named; the other
    // fits.
    let list = fixture("uri_list.txt");
    let out = d.run(&["import", path_str(&list), "--yes", "--new-pin-file", pin]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "Mail: carol: it uses SHA512, which policy does not allow (accounts.algorithms"
        ),
        "{text}"
    );
    assert_eq!(names(&d), ["Example:alice@example.com"]);
}

#[test]
fn files_that_are_not_backups_are_refused_by_name() {
    let d = Daemon::with_accounts();
    let before = names(&d);
    let junk = d.file("junk.bin", b"\x00\x01 not a backup of anything");
    let out = d.run(&["import", path_str(&junk), "--dry-run"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("format was not recognised"),
        "{}",
        stderr(&out)
    );

    let out = d.run(&[
        "import",
        path_str(&junk),
        "--dry-run",
        "--format",
        "lastpass",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("there is no format \"lastpass\""),
        "{}",
        stderr(&out)
    );

    // A truncated Aegis file: damaged, said as such.
    let plain = std::fs::read(fixture("aegis_plain.json")).unwrap();
    let cut = d.file("cut.json", &plain[..plain.len() / 2]);
    let out = d.run(&["import", path_str(&cut), "--dry-run", "--format", "aegis"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("not a valid aegis backup"),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(&d), before);
    assert_eq!(
        d.run(&["status"]).status.code(),
        Some(0),
        "the daemon runs on"
    );
}

/// Steam Guard: an `otpauth://steam/` link activates an account whose
/// codes are Steam's 5 characters (as `tessera_core::otp::steam`, itself
/// checked against an independent implementation), listed as such; and
/// the Steam entry of an Aegis file imports as the same kind.
#[test]
fn steam_guard_accounts_from_a_link_and_from_a_file_give_steam_codes() {
    let d = Daemon::start();
    let pin = d.file("pin", PIN.as_bytes());
    let link = "otpauth://steam/Steam:gamer?secret=JBSWY3DPEHPK3PXP&issuer=Steam";
    let out = d.run(&["activate", "--uri", link, "--pin-file", path_str(&pin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = d.accounts();
    assert_eq!(list[0]["kind"], "steam", "{list:?}");
    let out = d.run(&["--json", "code", "gamer"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = &json_lines(&out)[0];
    let code = shown["code"].as_str().unwrap();
    let at = shown["valid_from_unix"].as_u64().unwrap();
    assert_eq!(
        code,
        tessera_core::otp::steam(GITHUB_SECRET, at).as_str(),
        "{shown}"
    );
    assert_eq!(code.len(), 5, "{shown}");
    assert!(
        code.chars()
            .all(|c| "23456789BCDFGHJKMNPQRTVWXY".contains(c)),
        "{shown}"
    );

    // The Aegis fixture's Steam entry (the same secret) is new; its twin
    // from the link is reported as already in the vault.
    let out = d.run(&[
        "--json",
        "import",
        path_str(&fixture("aegis_plain.json")),
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = &json_lines(&out)[0];
    let dup = plan["duplicates"].as_array().unwrap();
    assert!(
        dup.iter()
            .any(|a| a["label"] == "gamer" && a["issuer"] == "Steam"),
        "{plan}"
    );
}

/// Mobile-OTP and Yandex Key: the Aegis fixture's entries (each PIN
/// beside its secret) import as accounts whose codes are their kind's,
/// with the PIN in them; `tessera list` names the kinds.
#[test]
fn a_mobile_otp_account_imports_with_its_pin_and_gives_its_codes() {
    let d = Daemon::start();
    let pin = d.file("pin", PIN.as_bytes());
    let file = fixture("aegis_plain.json");
    let out = d.run(&[
        "import",
        path_str(&file),
        "--new-pin-file",
        path_str(&pin),
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = d.accounts();
    let mobile = list.iter().find(|a| a["label"] == "mobile").unwrap();
    assert_eq!(mobile["kind"], "motp", "{mobile}");
    let out = d.run(&["--json", "code", "mobile"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = &json_lines(&out)[0];
    let at = shown["valid_from_unix"].as_u64().unwrap();
    assert_eq!(
        shown["valid_until_unix"].as_u64().unwrap() - at,
        10,
        "{shown}"
    );
    let secret = [0xe3, 0x15, 0x2a, 0xfe, 0xe6, 0x25, 0x99, 0xc8];
    let want = tessera_core::otp::motp(&secret, "1234", at);
    assert_eq!(shown["code"], want.as_str(), "{shown}");
    let without_pin = tessera_core::otp::motp(&secret, "", at);
    assert_ne!(
        shown["code"],
        without_pin.as_str(),
        "the PIN is in the code"
    );

    // The Yandex Key entry: 8 letters every 30 s, from the key and PIN of
    // one of Yandex's published vectors.
    let ya = list.iter().find(|a| a["label"] == "ya").unwrap();
    assert_eq!(ya["kind"], "yandex", "{ya}");
    let out = d.run(&["--json", "code", "ya"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = &json_lines(&out)[0];
    let at = shown["valid_from_unix"].as_u64().unwrap();
    let key = data_encoding::BASE32_NOPAD
        .decode(b"LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI")
        .unwrap();
    let want = tessera_core::otp::yandex(&key[..16], "7586", at);
    assert_eq!(shown["code"], want.as_str(), "{shown}");
}
