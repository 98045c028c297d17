//! Transaction signing and challenges end to end with the real binaries:
//! `tessera-issuer` makes an activation (a colour code) and a signing
//! request or a challenge; `tessera` activates from the image and signs or
//! responds through the real daemon; the issuer verifies the response once. Refusals: a replayed image, a request for
//! another device, an expired request, a wrong PIN, no confirmation.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use tessera_core::activation::{ActivationKey, Serial, instance_key};
use tessera_core::otp::Algorithm;
use tessera_core::transaction::{Currency, Payment, Transaction, TransactionKeys};

const KEY_HEX: &str = "00112233445566778899aabbccddeeff";
const SERIAL: &str = "TSRSIGN001";

struct Issuer {
    db: PathBuf,
}

impl Issuer {
    fn run(&self, command: &str, args: &[&str]) -> Output {
        Command::new(tessera_testkit::bins::workspace_bin("tessera-issuer"))
            .arg(command)
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, command: &str, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(command, &all);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// An issuer activation of SERIAL, activated on the daemon from its colour
/// image and finalized; returns the issuer and the device's instance nonce.
fn activated(d: &Daemon) -> (Issuer, u32) {
    let issuer = Issuer {
        db: d.dir.path().join("issuer.db"),
    };
    let image = d.dir.path().join("activation.png");
    issuer.ok(
        "new",
        &[
            "--image",
            path_str(&image),
            "--serial",
            SERIAL,
            "--key-hex",
            KEY_HEX,
            "--label",
            "alice",
            "--issuer",
            "Example Bank",
            "--colour",
        ],
    );
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&[
        "activate",
        "--image",
        path_str(&image),
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
    let device_code = lines[0]["code"].as_str().unwrap().to_owned();
    let finalize = lines
        .iter()
        .find(|l| l["state"] == "finalize_code")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    issuer.ok("bind", &["--serial", SERIAL, "--device-code", &device_code]);
    issuer.ok("finalize", &["--serial", SERIAL, "--code", &finalize]);
    let nonce: u32 = device_code[..10].parse().unwrap();
    (issuer, nonce)
}

/// Everything the CLI said (JSON errors go to standard output).
fn said(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

fn sign(d: &Daemon, image: &Path) -> Output {
    let pin = d.file("pin", PIN.as_bytes());
    d.run(&[
        "sign",
        "--image",
        path_str(image),
        "--pin-file",
        path_str(&pin),
        "--yes",
        "--json",
    ])
}

#[test]
fn a_payment_is_shown_signed_and_verified_once() {
    let d = Daemon::start_with(FAST_CONFIG);
    let (issuer, _) = activated(&d);
    let image = d.dir.path().join("payment.png");
    issuer.ok(
        "sign-request",
        &[
            "--serial",
            SERIAL,
            "--amount",
            "125.00",
            "--currency",
            "EUR",
            "--payee",
            "Müller & Söhne GmbH",
            "--iban",
            "DE89 3704 0044 0532 0130 00",
            "--reference",
            "Invoice 117",
            "--image",
            path_str(&image),
            "--colour",
        ],
    );

    // Without a confirmation, in a script: nothing signed.
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&[
        "sign",
        "--image",
        path_str(&image),
        "--pin-file",
        path_str(&pin),
    ]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));

    // A wrong PIN: refused and counted.
    let wrong = d.file("wrong", b"000000");
    let out = d.run(&[
        "sign",
        "--image",
        path_str(&image),
        "--pin-file",
        path_str(&wrong),
        "--yes",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).to_lowercase().contains("pin"),
        "{}",
        stderr(&out)
    );

    let out = sign(&d, &image);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let signed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed["state"], "signed");
    assert_eq!(signed["serial"], SERIAL);
    assert_eq!(signed["account"]["issuer"], "Example Bank");
    assert_eq!(signed["payments"][0]["amount"], "125.00 EUR");
    assert_eq!(signed["payments"][0]["payee"], "Müller & Söhne GmbH");
    assert_eq!(signed["payments"][0]["account"], "DE89370400440532013000");
    assert_eq!(signed["payments"][0]["reference"], "Invoice 117");
    let response = signed["response"].as_str().unwrap().to_owned();
    assert_eq!(response.len(), 8);

    let verified = issuer.ok(
        "verify-signature",
        &["--serial", SERIAL, "--code", &response],
    );
    assert_eq!(verified["signed"], true);
    let again = issuer.run(
        "verify-signature",
        &["--serial", SERIAL, "--code", &response],
    );
    assert_eq!(again.status.code(), Some(1));

    // The same image again: the device refuses to sign it twice.
    let out = sign(&d, &image);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("signed before"), "{}", stdout(&out));
}

#[test]
fn a_challenge_is_answered_by_the_daemon_and_verified_once() {
    let d = Daemon::start_with(FAST_CONFIG);
    let (issuer, _) = activated(&d);
    let asked = issuer.ok("challenge", &["--serial", SERIAL]);
    let question = asked["question"].as_str().unwrap();
    let id = asked["id"].as_str().unwrap();
    assert_eq!(asked["suite"], "OCRA-1:HOTP-SHA256-8:QN08");
    // The user types the question into Tessera, found by the issuer's name.
    let out = d.run(&["respond", "example bank", question, "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let answered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let response = answered["response"].as_str().unwrap();
    let args = ["--serial", SERIAL, "--id", id, "--code", response];
    let verified = issuer.ok("verify-response", &args);
    assert_eq!(verified["verified"], true);
    let again = issuer.run("verify-response", &args);
    assert_eq!(again.status.code(), Some(1), "{}", said(&again));
    assert!(said(&again).contains("counts once"), "{}", said(&again));
    // Another question's response does not answer this one.
    let other = issuer.ok("challenge", &["--serial", SERIAL]);
    let out = d.run(&["respond", "example bank", "12345678", "--json"]);
    let stale: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wrong = issuer.run(
        "verify-response",
        &[
            "--serial",
            SERIAL,
            "--id",
            other["id"].as_str().unwrap(),
            "--code",
            stale["response"].as_str().unwrap(),
        ],
    );
    if other["question"] != "12345678" {
        assert_eq!(wrong.status.code(), Some(1), "{}", said(&wrong));
        assert!(said(&wrong).contains("does not match"), "{}", said(&wrong));
    }
}

#[test]
fn requests_for_another_device_or_expired_are_refused() {
    let d = Daemon::start_with(FAST_CONFIG);
    let (issuer, nonce) = activated(&d);

    // Another serial, unknown on this device.
    let other = Issuer {
        db: d.dir.path().join("other.db"),
    };
    let act = d.dir.path().join("other.png");
    other.ok(
        "new",
        &["--image", path_str(&act), "--serial", "TSRSIGN002"],
    );
    // Made active by hand would need its device; a request for it is made
    // with keys derived here, as a forger without the device would.
    let ak = ActivationKey::from_bytes(hex::decode(KEY_HEX).unwrap().try_into().unwrap());
    let serial: Serial = SERIAL.parse().unwrap();
    let ik = instance_key(&ak, &serial, nonce, Algorithm::Sha1);
    let keys = TransactionKeys::derive(&serial, ik.expose());
    let payment = Payment {
        amount: 999,
        payee_name: "ACME".into(),
        payee_account: "GB82WEST12345698765432".into(),
        reference: String::new(),
    };
    let tx = |serial: Serial, expires_at: u64| {
        Transaction::new(
            serial,
            [3; 16],
            expires_at,
            Currency::new("EUR").unwrap(),
            vec![payment.clone()],
        )
        .unwrap()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let pin = d.file("pin", PIN.as_bytes());
    let sign_text = |text: &str| {
        d.run(&[
            "sign",
            "--text",
            text,
            "--pin-file",
            path_str(&pin),
            "--yes",
            "--json",
        ])
    };

    // Expired: sealed with the right keys, past its expiry.
    let expired = keys.seal(&tx(serial.clone(), now - 5), [1; 24]).unwrap();
    let out = sign_text(&expired);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(said(&out).contains("ERROR_CODE_EXPIRED"), "{}", said(&out));
    assert!(said(&out).contains("expired"), "{}", said(&out));

    // Another device: the same serial, another instance key.
    let mut other_ik = ik.expose().to_vec();
    other_ik[0] ^= 1;
    let forged = TransactionKeys::derive(&serial, &other_ik)
        .seal(&tx(serial.clone(), now + 300), [2; 24])
        .unwrap();
    let out = sign_text(&forged);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        said(&out).contains("not made for this device"),
        "{}",
        said(&out)
    );

    // A serial this device does not hold.
    let stranger: Serial = "TSRSIGN002".parse().unwrap();
    let for_stranger = TransactionKeys::derive(&stranger, ik.expose())
        .seal(&tx(stranger.clone(), now + 300), [4; 24])
        .unwrap();
    let out = sign_text(&for_stranger);
    assert!(said(&out).contains("another device"), "{}", said(&out));
    assert!(
        said(&out).contains("ERROR_CODE_NOT_FOUND"),
        "{}",
        said(&out)
    );

    // Not a signing request: an activation image, and garbage.
    let out = d.run(&[
        "sign",
        "--image",
        path_str(&act),
        "--yes",
        "--pin-file",
        path_str(&pin),
    ]);
    assert!(said(&out).contains("activation image"), "{}", said(&out));
    let out = sign_text("tessera://sign?v=1&sn=TSRSIGN001&tx=%%%");
    assert!(said(&out).contains("base64url"), "{}", said(&out));

    // The daemon still serves, and the issuer's own request still signs.
    let image = d.dir.path().join("payment.png");
    issuer.ok(
        "sign-request",
        &[
            "--serial",
            SERIAL,
            "--amount",
            "5",
            "--payee",
            "ACME",
            "--iban",
            "GB82WEST12345698765432",
            "--image",
            path_str(&image),
        ],
    );
    let out = sign(&d, &image);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
}
