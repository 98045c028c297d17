//! The transaction response checked against an independent OCRA
//! implementation: the `oath` Python package (1.4.5, from PyPI), which
//! scripts/test installs into target/python and names in
//! `TESSERA_PYTHONPATH`.

use std::process::Command;

use tessera_core::activation::Serial;
use tessera_core::otp::{OcraInput, OcraSuite};
use tessera_core::transaction::{Currency, Payment, RESPONSE_SUITE, Transaction};

fn python_path() -> String {
    std::env::var("TESSERA_PYTHONPATH")
        .unwrap_or_else(|_| format!("{}/../target/python", env!("CARGO_MANIFEST_DIR")))
}

/// What `oath` answers for `suite`, `key` and `question`.
fn oath(suite: &str, key: &[u8], question: &str) -> String {
    let script = "import sys, oath\n\
        suite, key, q = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]\n\
        print(oath.OCRAChallengeResponseClient(key, suite).compute_response(q))\n";
    let out = Command::new("python3")
        .args(["-c", script, suite, &hex::encode(key), question])
        .env("PYTHONPATH", python_path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the oath package is missing or failed (scripts/test installs it into target/python): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn transaction_responses_match_an_independent_ocra() {
    let serial: Serial = "TSR0000001".parse().unwrap();
    let suite: OcraSuite = RESPONSE_SUITE.parse().unwrap();
    for i in 0..8u8 {
        let tx = Transaction::new(
            serial.clone(),
            [i; 16],
            1_900_000_000 + u64::from(i),
            Currency::new(["EUR", "JPY", "KWD", "CHF"][usize::from(i % 4)]).unwrap(),
            vec![Payment {
                amount: 100 + u64::from(i) * 7919,
                payee_name: format!("Payee {i} Ltd"),
                payee_account: "GB82WEST12345698765432".into(),
                reference: format!("ref {i}"),
            }],
        )
        .unwrap();
        let key = [i.wrapping_mul(37); 32];
        let question: String = tx.digest().iter().map(|b| format!("{b:02X}")).collect();
        let ours = suite
            .respond(&key, &OcraInput::new(question.as_str()))
            .unwrap();
        assert_eq!(
            ours.as_str(),
            oath(RESPONSE_SUITE, &key, &question),
            "transaction {i}"
        );
    }
}

/// RFC 6287's plain-signature suite with its own vector inputs, through the
/// oracle too (the vectors themselves are tests in `otp::ocra`).
#[test]
fn rfc_6287_signature_suite_matches_the_oracle() {
    let key = b"12345678901234567890123456789012";
    let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QA08".parse().unwrap();
    for q in ["SIG10000", "SIG11000", "SIG12000", "SIG13000", "SIG14000"] {
        let ours = suite.respond(key, &OcraInput::new(q)).unwrap();
        assert_eq!(
            ours.as_str(),
            oath("OCRA-1:HOTP-SHA256-8:QA08", key, q),
            "{q}"
        );
    }
}
