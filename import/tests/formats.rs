//! The importers on fixtures written by `fixtures/make_fixtures.py` from
//! the formats' public descriptions with independent cryptography (Python's
//! scrypt and AES-GCM): the accounts read, the entries skipped with their
//! reasons, detection, and the errors a user meets (no password, a wrong
//! one, a damaged file, scrypt parameters out of bounds).

use tessera_core::SecretString;
use tessera_core::otp::{Algorithm, OtpKind, OtpParams};
use tessera_import::{ImportError, import};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn password() -> SecretString {
    SecretString::new("test-password-1234".to_owned())
}

/// (issuer, name, algorithm, digits, kind) of an account.
type Summary = (String, String, Algorithm, u32, OtpKind);

fn summary(a: &tessera_core::payload::OtpAuthAccount) -> Summary {
    (
        a.issuer.clone().unwrap_or_default(),
        a.account.clone(),
        a.params.algorithm(),
        a.params.digits(),
        a.params.kind(),
    )
}

fn aegis_accounts() -> Vec<Summary> {
    vec![
        (
            "Example".into(),
            "alice@example.com".into(),
            Algorithm::Sha1,
            6,
            OtpKind::Totp { period: 30 },
        ),
        (
            "Bank".into(),
            "bob".into(),
            Algorithm::Sha256,
            8,
            OtpKind::Totp { period: 60 },
        ),
        (
            "Mail".into(),
            "carol".into(),
            Algorithm::Sha512,
            7,
            OtpKind::Hotp { counter: 10300 },
        ),
        (
            "NameInIssuer".into(),
            "NameInIssuer".into(),
            Algorithm::Sha1,
            6,
            OtpKind::Totp { period: 30 },
        ),
        steam(),
        motp(),
        yandex(),
    ]
}

/// The Yandex Key entry of the Aegis and Stratum fixtures.
fn yandex() -> Summary {
    (
        "Yandex".into(),
        "ya".into(),
        Algorithm::Sha256,
        8,
        OtpKind::Totp { period: 30 },
    )
}

/// Checks the Yandex account read: its kind, its 16-byte key (the file's
/// 26 bytes less the checksum), its PIN, and a published vector's code.
fn assert_yandex(accounts: &[tessera_core::payload::OtpAuthAccount], what: &str) {
    let a = accounts
        .iter()
        .find(|a| a.account == "ya")
        .unwrap_or_else(|| panic!("{what}: no Yandex account"));
    assert_eq!(a.params, OtpParams::yandex(), "{what}");
    assert_eq!(a.secret.expose().len(), 16, "{what}");
    let pin = a.pin.as_ref().map(|p| p.expose());
    assert_eq!(pin, Some("7586"), "{what}");
    let code = a
        .params
        .code_with_pin(a.secret.expose(), pin, 1_581_064_020);
    assert_eq!(code.as_str(), "oactmacq", "{what}");
}

/// The Mobile-OTP entry of the Aegis and Stratum fixtures.
fn motp() -> Summary {
    (
        "VPN".into(),
        "mobile".into(),
        Algorithm::Sha1,
        6,
        OtpKind::Totp { period: 10 },
    )
}

/// Checks the mOTP account read is one: its kind, PIN and the code Python's
/// hashlib gives its secret and PIN at a time (core/src/otp/mod.rs).
fn assert_motp(accounts: &[tessera_core::payload::OtpAuthAccount], what: &str) {
    let a = accounts
        .iter()
        .find(|a| a.account == "mobile")
        .unwrap_or_else(|| panic!("{what}: no mOTP account"));
    assert_eq!(a.params, OtpParams::motp(), "{what}");
    assert_eq!(
        a.secret.expose(),
        hex::decode("e3152afee62599c8").unwrap(),
        "{what}"
    );
    let pin = a.pin.as_ref().map(|p| p.expose());
    assert_eq!(pin, Some("1234"), "{what}");
    let code = a
        .params
        .code_with_pin(a.secret.expose(), pin, 1_433_844_640);
    assert_eq!(code.as_str(), "6b741e", "{what}");
}

/// The Steam Guard entry every fixture but FreeOTP+'s holds.
fn steam() -> Summary {
    (
        "Steam".into(),
        "gamer".into(),
        Algorithm::Sha1,
        5,
        OtpKind::Totp { period: 30 },
    )
}

/// Checks the Steam account read is one: Steam's parameters, and the code
/// steam-totp (npm, an independent implementation) gives its secret
/// (JBSWY3DPEHPK3PXP) at time 0.
fn assert_steam(accounts: &[tessera_core::payload::OtpAuthAccount], what: &str) {
    let a = accounts
        .iter()
        .find(|a| a.account == "gamer")
        .unwrap_or_else(|| panic!("{what}: no Steam account"));
    assert_eq!(a.params, OtpParams::steam(), "{what}");
    assert_eq!(
        a.params.code(a.secret.expose(), 0).as_str(),
        "VH8YJ",
        "{what}"
    );
}

#[test]
fn aegis_plain_and_encrypted_give_the_same_accounts_and_skips() {
    let (format, plain) = import(None, &fixture("aegis_plain.json"), None).unwrap();
    assert_eq!(format, "aegis", "detected");
    let (_, encrypted) = import(None, &fixture("aegis_encrypted.json"), Some(&password())).unwrap();
    for got in [&plain, &encrypted] {
        let accounts: Vec<_> = got.accounts.iter().map(summary).collect();
        assert_eq!(accounts, aegis_accounts());
        assert_steam(&got.accounts, "aegis");
        assert_motp(&got.accounts, "aegis");
        assert_yandex(&got.accounts, "aegis");
        assert_eq!(got.accounts[0].secret.expose(), b"12345678901234567890");
        let skipped: Vec<_> = got
            .skipped
            .iter()
            .map(|s| (s.name.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped[0].0 == "Nowhere: broken" && skipped[0].1.contains("base32"),
            "{skipped:?}"
        );
        assert!(
            skipped[1].0 == "Old: md5" && skipped[1].1.contains("MD5"),
            "{skipped:?}"
        );
    }
}

#[test]
fn an_encrypted_aegis_file_says_what_is_wrong() {
    let file = fixture("aegis_encrypted.json");
    assert_eq!(
        import(None, &file, None).unwrap_err(),
        ImportError::NeedsPassword("aegis")
    );
    let wrong = SecretString::new("not the password".to_owned());
    assert_eq!(
        import(None, &file, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("aegis")
    );

    // The database changed after the slot: damaged, not a wrong password.
    let mut v: serde_json::Value = serde_json::from_slice(&file).unwrap();
    let db = v["db"].as_str().unwrap().to_owned();
    let first = if db.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &db[1..]);
    v["db"] = flipped.into();
    let e = import(
        Some("aegis"),
        &serde_json::to_vec(&v).unwrap(),
        Some(&password()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");

    // scrypt asked for 64 GiB: refused before it runs.
    let mut v: serde_json::Value = serde_json::from_slice(&file).unwrap();
    v["header"]["slots"][0]["n"] = (1u64 << 26).into();
    let e = import(None, &serde_json::to_vec(&v).unwrap(), Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("65536 MiB"), "{e}");
}

#[test]
fn a_uri_list_reads_each_line_and_names_the_bad_ones() {
    let (format, got) = import(None, &fixture("uri_list.txt"), None).unwrap();
    assert_eq!(format, "uri-list");
    let accounts: Vec<_> = got.accounts.iter().map(summary).collect();
    assert_eq!(
        accounts,
        [aegis_accounts()[0].clone(), aegis_accounts()[2].clone()]
    );
    let lines: Vec<_> = got.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(lines, ["line 5", "line 6"]);
}

#[test]
fn unknown_files_and_formats_are_named() {
    assert_eq!(
        import(None, b"hello", None).unwrap_err(),
        ImportError::Unknown
    );
    let e = import(Some("authy"), b"{}", None).unwrap_err();
    assert!(
        e.to_string().contains(
            "aegis, 2fas, raivo, andotp, bitwarden, bitwarden-csv, ente, freeotp, freeotp-plus, proton, pskc, stratum, uri-list"
        ),
        "{e}"
    );
    let e = import(Some("aegis"), b"{not json", None).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::Malformed {
                format: "aegis",
                ..
            }
        ),
        "{e}"
    );
    let big = vec![b'x'; tessera_import::MAX_FILE_BYTES + 1];
    assert!(matches!(
        import(None, &big, None),
        Err(ImportError::TooLarge(_))
    ));
}

/// The three accounts the other formats' fixtures hold (FreeOTP+'s).
fn three_accounts() -> Vec<Summary> {
    aegis_accounts()[..3].to_vec()
}

/// [`three_accounts`] and the Steam one: the rest of the fixtures.
fn four_accounts() -> Vec<Summary> {
    let mut v = three_accounts();
    v.push(steam());
    v
}

/// The accounts and the skipped entries' names of `file` in `format`.
fn read(
    format: Option<&str>,
    file: &str,
    password: Option<&SecretString>,
) -> (&'static str, Vec<Summary>, Vec<String>) {
    let (format, got) = import(format, &fixture(file), password).unwrap();
    assert_eq!(
        got.accounts[1].secret.expose(),
        b"12345678901234567890123456789012"
    );
    (
        format,
        got.accounts.iter().map(summary).collect(),
        got.skipped
            .iter()
            .map(|s| format!("{}: {}", s.name, s.reason))
            .collect(),
    )
}

#[test]
fn two_fas_plain_and_encrypted_give_the_same_accounts() {
    for (file, password) in [
        ("2fas_plain.2fas", None),
        ("2fas_encrypted.2fas", Some(password())),
    ] {
        let (format, accounts, skipped) = read(None, file, password.as_ref());
        assert_eq!(format, "2fas", "{file} detected");
        assert_eq!(accounts, four_accounts(), "{file}");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].starts_with("Nowhere: broken: ") && skipped[0].contains("base32"));
    }
    let encrypted = fixture("2fas_encrypted.2fas");
    assert_eq!(
        import(None, &encrypted, None).unwrap_err(),
        ImportError::NeedsPassword("2fas")
    );
    let wrong = SecretString::new("not-the-password".into());
    assert_eq!(
        import(None, &encrypted, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("2fas")
    );
}

#[test]
fn andotp_plain_encrypted_and_the_old_key_form_give_the_same_accounts() {
    for (file, format, password) in [
        ("andotp_plain.json", None, None),
        (
            "andotp_encrypted.json.aes",
            Some("andotp"),
            Some(password()),
        ),
        ("andotp_old.json.aes", Some("andotp"), Some(password())),
    ] {
        let (got, accounts, skipped) = read(format, file, password.as_ref());
        assert_eq!(got, "andotp", "{file}");
        assert_eq!(accounts, four_accounts(), "{file}");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
    }
    let encrypted = fixture("andotp_encrypted.json.aes");
    assert_eq!(
        import(Some("andotp"), &encrypted, None).unwrap_err(),
        ImportError::NeedsPassword("andotp")
    );
    let wrong = SecretString::new("not-the-password".into());
    assert_eq!(
        import(Some("andotp"), &encrypted, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("andotp")
    );
    // A header asking for four billion PBKDF2 rounds is refused unrun.
    let mut greedy = encrypted.clone();
    greedy[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = import(Some("andotp"), &greedy, Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("4294967295 PBKDF2 rounds"), "{e}");
}

#[test]
fn freeotp_plus_reads_its_byte_secrets() {
    let (format, accounts, skipped) = read(None, "freeotp_plus.json", None);
    assert_eq!(format, "freeotp-plus");
    assert_eq!(accounts, three_accounts());
    assert_eq!(
        skipped,
        ["Nowhere: broken: its secret is not a list of bytes (-128 to 127)"]
    );
}

#[test]
fn bitwarden_json_and_csv_read_the_totp_fields_and_nothing_else() {
    for file in ["bitwarden.json", "bitwarden.csv"] {
        let (format, got) = import(None, &fixture(file), None).unwrap();
        assert_eq!(
            format,
            if file.ends_with("csv") {
                "bitwarden-csv"
            } else {
                "bitwarden"
            },
            "{file} detected"
        );
        let accounts: Vec<_> = got.accounts.iter().map(summary).collect();
        assert_eq!(accounts, four_accounts(), "{file}");
        // Bitwarden's `steam://SECRET` field.
        assert_steam(&got.accounts, file);
        // The login without a TOTP field is a password, not a skipped entry.
        let skipped: Vec<_> = got
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.name, s.reason))
            .collect();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].starts_with("Nowhere: broken: "), "{skipped:?}");
        // No password of the vault reaches what the import returns.
        let shown = format!("{got:?}{skipped:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[test]
fn an_export_under_the_bitwarden_account_key_is_refused_with_what_to_do() {
    let e = import(None, &fixture("bitwarden_account.json"), Some(&password())).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::Unsupported {
                format: "bitwarden",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("password-protected or unencrypted .json"),
        "{e}"
    );
}

#[test]
fn password_protected_bitwarden_exports_open_with_pbkdf2_and_argon2id() {
    for file in [
        "bitwarden_protected.json",
        "bitwarden_protected_argon2.json",
    ] {
        let (format, accounts, skipped) = read(None, file, Some(&password()));
        assert_eq!(format, "bitwarden", "{file} detected");
        assert_eq!(accounts, four_accounts(), "{file}");
        assert_eq!(skipped.len(), 1, "{file}: {skipped:?}");
        let bytes = fixture(file);
        assert_eq!(
            import(None, &bytes, None).unwrap_err(),
            ImportError::NeedsPassword("bitwarden")
        );
        let wrong = SecretString::new("not-the-password".into());
        assert_eq!(
            import(None, &bytes, Some(&wrong)).unwrap_err(),
            ImportError::WrongPassword("bitwarden"),
            "{file}"
        );
    }
    let text = String::from_utf8(fixture("bitwarden_protected.json")).unwrap();
    // A changed byte of the data: damaged, not a wrong password.
    let data = text.find("\"data\": \"2.").unwrap() + 12;
    let mut changed = text.clone();
    let flipped = if &text[data..data + 1] == "A" {
        "B"
    } else {
        "A"
    };
    changed.replace_range(data..data + 1, flipped);
    let e = import(None, changed.as_bytes(), Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("MAC does not match"), "{e}");
    // Costs beyond the bounds are refused before any is paid.
    let greedy = text.replace("\"kdfIterations\": 10000", "\"kdfIterations\": 4000000000");
    let e = import(None, greedy.as_bytes(), Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Unsafe { .. }), "{e}");
    let argon = String::from_utf8(fixture("bitwarden_protected_argon2.json")).unwrap();
    let greedy = argon.replace("\"kdfMemory\": 16", "\"kdfMemory\": 65536");
    let e = import(None, greedy.as_bytes(), Some(&password())).unwrap_err();
    assert!(e.to_string().contains("65536 MiB"), "{e}");
}

#[test]
fn proton_plain_and_encrypted_give_the_same_accounts() {
    for (file, password) in [
        ("proton_plain.json", None),
        ("proton_encrypted.json", Some(password())),
    ] {
        let (format, accounts, skipped) = read(None, file, password.as_ref());
        assert_eq!(format, "proton", "{file} detected");
        assert_eq!(accounts, four_accounts(), "{file}");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
    }
    let encrypted = fixture("proton_encrypted.json");
    assert_eq!(
        import(None, &encrypted, None).unwrap_err(),
        ImportError::NeedsPassword("proton")
    );
    let wrong = SecretString::new("not-the-password".into());
    assert_eq!(
        import(None, &encrypted, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("proton")
    );
}

#[test]
fn every_export_format_reads_back_to_the_same_accounts() {
    use tessera_import::ExportFormat;
    let (_, source) = import(None, &fixture("aegis_plain.json"), None).unwrap();
    for format in ExportFormat::ALL {
        let password = format.encrypted().then(password);
        // PSKC has no Steam Guard codes: the export leaves that one out.
        let carried: Vec<_> = source
            .accounts
            .iter()
            .filter(|a| format.carries(a).is_ok())
            .cloned()
            .collect();
        let bytes = format.write(&carried, password.as_ref()).unwrap();
        let (read_as, back) = import(None, &bytes, password.as_ref()).unwrap();
        let name = match format {
            ExportFormat::Migration => "uri-list",
            other => other.name().trim_end_matches("-encrypted"),
        };
        assert_eq!(read_as, name, "{format:?}");
        assert!(back.skipped.is_empty(), "{format:?}: {:?}", back.skipped);
        let summaries: Vec<_> = back.accounts.iter().map(summary).collect();
        // What each format leaves out: PSKC the Steam, mOTP and Yandex
        // codes, a link the PIN the last two need; Google's format also 8 digits with 60 s and
        // HOTP's 7 digits.
        let left_out: &[&str] = match format {
            ExportFormat::Pskc | ExportFormat::PskcEncrypted => &["gamer", "mobile", "ya"],
            ExportFormat::Migration => &["bob", "carol", "gamer", "mobile", "ya"],
            ExportFormat::UriList => &["mobile", "ya"],
            _ => &[],
        };
        let mut want = aegis_accounts();
        want.retain(|a| !left_out.contains(&a.1.as_str()));
        assert_eq!(summaries, want, "{format:?}");
        for (a, b) in carried.iter().zip(&back.accounts) {
            assert_eq!(a.secret.expose(), b.secret.expose(), "{format:?}");
            assert_eq!(a.pin, b.pin, "{format:?}: the mOTP PIN goes along");
        }
        if format.encrypted() {
            let text = String::from_utf8_lossy(&bytes);
            // RFC 4226's secret, in base32 (Aegis) and base64 (PSKC).
            for clear in ["GEZDGNBV", "MTIzNDU2Nzg5"] {
                assert!(!text.contains(clear), "{format:?}: no secret in the clear");
            }
            assert_eq!(
                import(None, &bytes, None).unwrap_err(),
                ImportError::NeedsPassword(name)
            );
            let wrong = SecretString::new("not the password".into());
            assert_eq!(
                import(None, &bytes, Some(&wrong)).unwrap_err(),
                ImportError::WrongPassword(name)
            );
        }
    }
    assert!(
        ExportFormat::AegisEncrypted
            .write(&source.accounts, None)
            .is_err()
    );
}

#[test]
fn pskc_plain_under_a_preshared_key_and_under_a_password_give_the_same_accounts() {
    // Written by python-pskc (make_fixtures.py); the key is RFC 6030's
    // example pre-shared key.
    let key = SecretString::new("12345678901234567890123456789012".into());
    for (file, secret) in [
        ("pskc_plain.xml", None),
        ("pskc_psk.xml", Some(key.clone())),
        ("pskc_pbkdf2.xml", Some(password())),
    ] {
        let (format, accounts, skipped) = read(None, file, secret.as_ref());
        assert_eq!(format, "pskc", "{file} detected");
        assert_eq!(accounts, three_accounts(), "{file}");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(
            skipped[0].starts_with("Yubico: token: its algorithm")
                && skipped[0].contains("not HOTP or TOTP"),
            "{skipped:?}"
        );
    }
    let psk = fixture("pskc_psk.xml");
    assert_eq!(
        import(None, &psk, None).unwrap_err(),
        ImportError::NeedsPassword("pskc")
    );
    // A password where the key goes: the error says what to give.
    let e = import(None, &psk, Some(&password())).unwrap_err();
    assert_eq!(e, ImportError::NeedsKey("pskc"));
    assert!(e.to_string().contains("in hex"), "{e}");
    let other = SecretString::new("00112233445566778899aabbccddeeff".into());
    assert_eq!(
        import(None, &psk, Some(&other)).unwrap_err(),
        ImportError::WrongPassword("pskc")
    );
    let pbkdf2 = fixture("pskc_pbkdf2.xml");
    let wrong = SecretString::new("not-the-password".into());
    assert_eq!(
        import(None, &pbkdf2, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("pskc")
    );
}

#[test]
fn a_pskc_file_that_was_changed_or_asks_too_much_says_so() {
    let text = String::from_utf8(fixture("pskc_pbkdf2.xml")).unwrap();
    // One entry's MAC changed: that entry is skipped as changed, the rest
    // imports.
    let start = text.find("<pskc:ValueMAC>").unwrap() + "<pskc:ValueMAC>".len();
    let mut changed = text.clone();
    let flipped = if &text[start..start + 1] == "A" {
        "B"
    } else {
        "A"
    };
    changed.replace_range(start..start + 1, flipped);
    let (_, got) = import(None, changed.as_bytes(), Some(&password())).unwrap();
    assert_eq!(got.accounts.len(), 2);
    assert!(
        got.skipped
            .iter()
            .any(|s| s.reason.contains("MAC does not match")),
        "{:?}",
        got.skipped
    );
    // Four billion PBKDF2 rounds: refused before any is run.
    let greedy = regex_replace(&text, "<IterationCount>", "</IterationCount>", "4000000000");
    let e = import(None, greedy.as_bytes(), Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("4000000000 PBKDF2 rounds"), "{e}");
    // A DTD (an entity bomb's carrier) is refused, not expanded.
    let dtd = text.replacen(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>",
        1,
    );
    let e = import(Some("pskc"), dtd.as_bytes(), Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Malformed { .. }), "{e}");
    // Not XML at all.
    let e = import(Some("pskc"), b"<KeyContainer", None).unwrap_err();
    assert!(e.to_string().contains("not XML"), "{e}");
}

/// `text` with what lies between `open` and `close` replaced by `with`.
fn regex_replace(text: &str, open: &str, close: &str, with: &str) -> String {
    let a = text.find(open).unwrap() + open.len();
    let b = a + text[a..].find(close).unwrap();
    format!("{}{with}{}", &text[..a], &text[b..])
}

/// Our PSKC export read by python-pskc (Debian's python3-pskc, installed by
/// scripts/test): the same secrets, counters and periods, plain and under a
/// password. Skipped with the reason when python-pskc is missing.
#[test]
fn python_pskc_reads_our_pskc_exports() {
    use tessera_import::ExportFormat;
    let probe = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import pskc"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: /usr/bin/python3 cannot import pskc (apt-get install python3-pskc)");
        return;
    }
    let (_, source) = import(None, &fixture("aegis_plain.json"), None).unwrap();
    let carried: Vec<_> = source
        .accounts
        .into_iter()
        .filter(|a| ExportFormat::Pskc.carries(a).is_ok())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for format in [ExportFormat::Pskc, ExportFormat::PskcEncrypted] {
        let password = format.encrypted().then(password);
        let bytes = format.write(&carried, password.as_ref()).unwrap();
        let path = dir.path().join("export.pskc");
        std::fs::write(&path, &bytes).unwrap();
        let script = r#"
import sys, pskc
p = pskc.PSKC(sys.argv[1])
if len(sys.argv) > 2:
    p.encryption.derive_key(sys.argv[2])
for k in p.keys:
    print(k.issuer, k.key_userid, k.algorithm.rsplit(':', 1)[1], k.secret.hex(),
          k.response_length, k.counter, k.time_interval, k.algorithm_suite)
"#;
        let mut cmd = std::process::Command::new("/usr/bin/python3");
        cmd.args(["-c", script]).arg(&path);
        if let Some(p) = &password {
            cmd.arg(p.expose());
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).unwrap();
        let want: String = carried
            .iter()
            .map(|a| {
                let (kind, counter, period) = match a.params.kind() {
                    OtpKind::Totp { period } => ("totp", "None".into(), period.to_string()),
                    OtpKind::Hotp { counter } => ("hotp", counter.to_string(), "None".into()),
                };
                let suite = match a.params.algorithm() {
                    Algorithm::Sha1 => "None".to_owned(),
                    other => format!("HMAC-{other}"),
                };
                format!(
                    "{} {} {kind} {} {} {counter} {period} {suite}\n",
                    a.issuer.as_deref().unwrap_or("None"),
                    a.account,
                    hex::encode(a.secret.expose()),
                    a.params.digits(),
                )
            })
            .collect();
        assert_eq!(got, want, "{format:?}");
    }
}

/// Google's export codes: five accounts a code, one batch (its size, each
/// code's index, one id), in the vault's order.
#[test]
fn migration_codes_split_the_accounts_into_one_numbered_batch() {
    use tessera_core::payload::migration;
    use tessera_import::ExportFormat;
    let accounts: Vec<_> = (0..12)
        .map(|n| {
            let uri = format!("otpauth://totp/Site:user{n}?secret=GEZDGNBVGY3TQOJQ&issuer=Site");
            match tessera_core::payload::parse(&uri).unwrap() {
                tessera_core::payload::Payload::OtpAuth(a) => a,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    let bytes = ExportFormat::Migration.write(&accounts, None).unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let batches: Vec<_> = text.lines().map(|l| migration::parse(l).unwrap()).collect();
    let sizes: Vec<_> = batches.iter().map(|b| b.accounts.len()).collect();
    assert_eq!(sizes, [5, 5, 2]);
    for (i, b) in batches.iter().enumerate() {
        assert_eq!((b.batch_size, b.batch_index), (3, i as i32));
        assert_eq!(b.batch_id, batches[0].batch_id);
    }
    let names: Vec<_> = batches
        .iter()
        .flat_map(|b| b.accounts.iter().map(|a| a.account.clone()))
        .collect();
    let want: Vec<_> = (0..12).map(|n| format!("user{n}")).collect();
    assert_eq!(names, want);
}

/// Ente Auth: its plain export is a list of links; its encrypted one
/// (written with libsodium itself through PyNaCl) opens with the password
/// to the same accounts; a wrong password, no password and limits past
/// the bounds are each said.
#[test]
fn ente_plain_and_encrypted_give_the_same_accounts() {
    for (file, password, format) in [
        ("ente_plain.txt", None, "uri-list"),
        ("ente_encrypted.json", Some(password()), "ente"),
    ] {
        let (got, accounts, skipped) = read(None, file, password.as_ref());
        assert_eq!(got, format, "{file} detected");
        assert_eq!(accounts, four_accounts(), "{file}");
        assert_eq!(skipped.len(), 1, "{file}: {skipped:?}");
        assert!(skipped[0].starts_with("line 5: "), "{skipped:?}");
    }
    let bytes = fixture("ente_encrypted.json");
    assert_eq!(
        import(None, &bytes, None).unwrap_err(),
        ImportError::NeedsPassword("ente")
    );
    let wrong = SecretString::new("not-the-password".into());
    assert_eq!(
        import(None, &bytes, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("ente")
    );
    let text = String::from_utf8(bytes).unwrap();
    let greedy = text.replace("\"memLimit\": 16777216", "\"memLimit\": 68719476736");
    let e = import(None, greedy.as_bytes(), Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("65536 MiB"), "{e}");
}

/// Stratum (Authenticator Pro): its JSON, the Argon2id + AES-GCM backup and
/// the older PBKDF2 + AES-CBC one give the same accounts.
#[test]
fn stratum_plain_encrypted_and_the_older_form_give_the_same_accounts() {
    for (file, password) in [
        ("stratum_plain.json", None),
        ("stratum_encrypted.bin", Some(password())),
        ("stratum_legacy.bin", Some(password())),
    ] {
        let (format, accounts, skipped) = read(None, file, password.as_ref());
        assert_eq!(format, "stratum", "{file} detected");
        let mut want = four_accounts();
        want.extend([motp(), yandex()]);
        assert_eq!(accounts, want, "{file}");
        assert_eq!(skipped.len(), 1, "{file}: {skipped:?}");
        assert!(skipped[0].starts_with("Nowhere: broken: "), "{skipped:?}");
    }
    for file in ["stratum_encrypted.bin", "stratum_legacy.bin"] {
        let bytes = fixture(file);
        assert_eq!(
            import(None, &bytes, None).unwrap_err(),
            ImportError::NeedsPassword("stratum")
        );
        let wrong = SecretString::new("not-the-password".into());
        assert_eq!(
            import(None, &bytes, Some(&wrong)).unwrap_err(),
            ImportError::WrongPassword("stratum"),
            "{file}"
        );
    }
    let e = import(
        Some("stratum"),
        b"AUTHENTICATORPRO\x01\x02",
        Some(&password()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("shorter than its header"), "{e}");
}

/// Raivo OTP: its export ZIP under the password (WinZip AES, written by
/// pyzipper; ZipCrypto, by Info-ZIP's `zip -P`) and its JSON alone give
/// the same accounts.
#[test]
fn raivo_zip_and_json_give_the_same_accounts() {
    for (file, password) in [
        ("raivo.zip", Some(password())),
        ("raivo_zipcrypto.zip", Some(password())),
        ("raivo.json", None),
    ] {
        let (format, accounts, skipped) = read(None, file, password.as_ref());
        assert_eq!(format, "raivo", "{file} detected");
        assert_eq!(accounts, four_accounts(), "{file}");
        assert_eq!(skipped.len(), 1, "{file}: {skipped:?}");
        assert!(skipped[0].starts_with("Nowhere: broken: "), "{skipped:?}");
    }
    let zip = fixture("raivo.zip");
    assert_eq!(
        import(None, &zip, None).unwrap_err(),
        ImportError::NeedsPassword("raivo")
    );
    let wrong = SecretString::new("not-the-password".into());
    assert_eq!(
        import(None, &zip, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("raivo")
    );
    // A ZIP without Raivo's JSON is not Raivo's.
    let e = import(Some("raivo"), &zip[..zip.len() / 2], Some(&password())).unwrap_err();
    assert!(matches!(e, ImportError::Malformed { .. }), "{e}");
}

/// FreeOTP 2's backup (a Java-serialized map, written byte by byte from
/// the serialization specification): the master key opens with the
/// password, each token's secret with it; a token whose secret was
/// changed is skipped with the reason; a wrong password is said.
#[test]
fn freeotp_2_backups_open_with_the_password() {
    let (format, mut accounts, skipped) = read(None, "freeotp2_backup.xml", Some(&password()));
    assert_eq!(format, "freeotp");
    // A HashMap has no order of its own.
    accounts.sort_by(|a, b| a.1.cmp(&b.1));
    let mut want = three_accounts();
    want.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(accounts, want);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0].starts_with("Nowhere: broken: ") && skipped[0].contains("does not open"),
        "{skipped:?}"
    );
    let bytes = fixture("freeotp2_backup.xml");
    assert_eq!(
        import(None, &bytes, None).unwrap_err(),
        ImportError::NeedsPassword("freeotp")
    );
    let wrong = SecretString::new("not-the-password".into());
    assert_eq!(
        import(None, &bytes, Some(&wrong)).unwrap_err(),
        ImportError::WrongPassword("freeotp")
    );
    // Cut short, or another class: named, not read.
    let e = import(None, &bytes[..bytes.len() / 2], Some(&password())).unwrap_err();
    assert!(e.to_string().contains("ends early"), "{e}");
    let mut other = bytes.clone();
    other[20] = b'X';
    let e = import(None, &other, Some(&password())).unwrap_err();
    assert!(e.to_string().contains("not a java.util.HashMap"), "{e}");
}
