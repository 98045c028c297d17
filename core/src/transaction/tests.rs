use super::*;

pub(crate) fn serial() -> Serial {
    "TSR0000001".parse().unwrap()
}

pub(crate) fn payment() -> Payment {
    Payment {
        amount: 12_500,
        payee_name: "Müller & Söhne GmbH".into(),
        payee_account: "DE89 3704 0044 0532 0130 00".into(),
        reference: "Invoice 2026-117".into(),
    }
}

pub(crate) fn sample() -> Transaction {
    Transaction::new(
        serial(),
        [7; 16],
        1_800_000_000,
        Currency::new("EUR").unwrap(),
        vec![payment()],
    )
    .unwrap()
}

#[test]
fn amounts_are_typed_and_shown_in_the_currencys_minor_units() {
    let eur = Currency::new("EUR").unwrap();
    assert_eq!(eur.parse_amount("125.00"), Ok(12_500));
    assert_eq!(eur.parse_amount("125.5"), Ok(12_550));
    assert_eq!(eur.parse_amount("125"), Ok(12_500));
    assert_eq!(eur.format(12_500), "125.00 EUR");
    let jpy = Currency::new("JPY").unwrap();
    assert_eq!(jpy.parse_amount("1250"), Ok(1250));
    assert_eq!(jpy.format(1250), "1250 JPY");
    assert!(jpy.parse_amount("12.5").is_err());
    let kwd = Currency::new("KWD").unwrap();
    assert_eq!(kwd.format(1_005), "1.005 KWD");
    for bad in [
        "",
        "-1",
        "1,00",
        "1.001",
        "0",
        "0.00",
        "1.",
        "+3",
        "99999999999999999999",
    ] {
        let err = eur.parse_amount(bad).unwrap_err().to_string();
        assert!(err.contains("amount"), "{bad}: {err}");
    }
    assert!(Currency::new("eur").is_err());
    assert!(Currency::new("EURO").is_err());
}

#[test]
fn the_canonical_form_round_trips_and_is_normalised() {
    let tx = sample();
    assert_eq!(tx.payments[0].payee_account, "DE89370400440532013000");
    assert_eq!(Transaction::decode(&tx.encode()), Ok(tx.clone()));
    // A decomposed ü is stored composed: what is shown is what is signed.
    let mut p = payment();
    p.payee_name = "Mu\u{0308}ller & So\u{0308}hne GmbH".into();
    let nfd = Transaction::new(
        serial(),
        [7; 16],
        1_800_000_000,
        Currency::new("EUR").unwrap(),
        vec![p],
    )
    .unwrap();
    assert_eq!(nfd.encode(), tx.encode());
}

#[test]
fn every_field_is_checked_by_name() {
    let eur = Currency::new("EUR").unwrap();
    let with = |f: &dyn Fn(&mut Payment)| {
        let mut p = payment();
        f(&mut p);
        Transaction::new(serial(), [7; 16], 1_800_000_000, eur, vec![p])
            .unwrap_err()
            .to_string()
    };
    assert!(with(&|p| p.payee_name = String::new()).contains("payee name is missing"));
    assert!(with(&|p| p.payee_name = "x".repeat(71)).contains("limit is 70"));
    assert!(with(&|p| p.payee_name = "Evil\u{202E}Corp".into()).contains("bidirectional"));
    assert!(with(&|p| p.reference = "a\nb".into()).contains("control character"));
    assert!(
        with(&|p| p.payee_account = "DE89370400440532013001".into()).contains("not a valid IBAN")
    );
    assert!(with(&|p| p.payee_account = "12-34".into()).contains("letters and digits"));
    assert!(with(&|p| p.amount = 0).contains("more than zero"));
    let many = vec![payment(); MAX_PAYMENTS + 1];
    assert!(
        Transaction::new(serial(), [7; 16], 1, eur, many)
            .unwrap_err()
            .to_string()
            .contains("at most 16")
    );
    let overflow = vec![
        Payment {
            amount: u64::MAX,
            ..payment()
        },
        Payment {
            amount: 1,
            ..payment()
        },
    ];
    assert!(Transaction::new(serial(), [7; 16], 1, eur, overflow).is_err());
}

#[test]
fn malformed_encodings_are_refused() {
    let good = sample().encode();
    assert_eq!(
        Transaction::decode(b"hello"),
        Err(TransactionError::NotATransaction)
    );
    let mut v2 = good.clone();
    v2[3] = 2;
    assert_eq!(
        Transaction::decode(&v2),
        Err(TransactionError::UnsupportedVersion(2))
    );
    for cut in [5, 20, good.len() - 1] {
        assert!(matches!(
            Transaction::decode(&good[..cut]),
            Err(TransactionError::Malformed(_))
        ));
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(Transaction::decode(&trailing).is_err());
    let mut total = good.clone();
    let n = total.len();
    total[n - 1] ^= 1;
    assert!(
        Transaction::decode(&total)
            .unwrap_err()
            .to_string()
            .contains("total")
    );
    let big = vec![0u8; MAX_TRANSACTION_BYTES + 1];
    assert_eq!(
        Transaction::decode(&big),
        Err(TransactionError::TooLarge {
            len: MAX_TRANSACTION_BYTES + 1
        })
    );
}

#[test]
fn a_transaction_over_the_size_limit_is_refused() {
    let eur = Currency::new("EUR").unwrap();
    let long = Payment {
        reference: "r".repeat(MAX_REFERENCE),
        payee_name: "n".repeat(MAX_PAYEE_NAME),
        ..payment()
    };
    let err = Transaction::new(serial(), [7; 16], 1, eur, vec![long; MAX_PAYMENTS]).unwrap_err();
    assert!(matches!(err, TransactionError::TooLarge { .. }), "{err}");
}

#[test]
fn expiry_is_checked() {
    let tx = sample();
    assert!(tx.check_fresh(1_799_999_999).is_ok());
    assert_eq!(
        tx.check_fresh(1_800_000_000),
        Err(TransactionError::Expired {
            expires_at: 1_800_000_000
        })
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Transaction::decode(&bytes);
        }

        #[test]
        fn any_valid_transaction_round_trips(
            amount in 1u64..1_000_000_000,
            name in "[A-Za-zÀ-ÿ ]{0,30}[A-Za-z]",
            reference in "[ -~]{0,40}",
            nonce in any::<[u8; 16]>(),
        ) {
            let p = Payment { amount, payee_name: name, reference, ..payment() };
            let tx = Transaction::new(serial(), nonce, 1_900_000_000, Currency::new("EUR").unwrap(), vec![p]).unwrap();
            prop_assert_eq!(Transaction::decode(&tx.encode()), Ok(tx));
        }
    }
}

/// docs/protocol.md, "Transaction signing", vectors: computed by
/// independent implementations (Python's `cryptography` HKDF, libsodium's
/// XChaCha20-Poly1305 through PyNaCl, the `oath` package's OCRA).
mod vectors {
    use super::*;

    const IK_SHA1: &str = "0e5c12a28151a4853ae256af13004f672b146fdb";
    pub(crate) const T_HEX: &str = "545458015453523030303030303107070707070707070707070707070707000000006b49d200455552020100000000000030d400154dc3bc6c6c657220262053c3b6686e6520476d62480016444538393337303430303434303533323031333030300010496e766f69636520323032362d31313700000000000030d4";
    const REQUEST: &str = "tessera://sign?v=1&sn=TSR0000001&tx=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXE1a6OHgfR_tvi_6tEedaqyG1Lr2NSW1U9ocvHSF_Ku9q7AohaAxjFPW6Kqkfsdx_49yGKP3g_qODWCrG0VL0ENEMbWCCpcbq1S4E_ViXEAk36q8CaUxLhSiF3Qv6N_ol0k4HaN6Cu7olHkmW5tbSFTLd3v9JCDmUNChygVP-d_HOVDThDfCfEUo0g6Q";
    const DIGEST: &str = "92EC7D373960FEE912E7E90E58622124F7F7F6402F74D77A76819CA971F99DA0";
    const RESPONSE: &str = "18078543";

    pub(crate) fn keys() -> TransactionKeys {
        TransactionKeys::derive(&serial(), &hex::decode(IK_SHA1).unwrap())
    }

    fn nonce24() -> [u8; 24] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn the_canonical_transaction() {
        assert_eq!(hex::encode(sample().encode()), T_HEX);
        let digest: String = sample()
            .digest()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert_eq!(digest, DIGEST);
    }

    #[test]
    fn the_sealed_request_and_its_response() {
        assert_eq!(keys().seal(&sample(), nonce24()).unwrap(), REQUEST);
        let request = SignRequest::parse(REQUEST).unwrap();
        assert_eq!(keys().open(&request), Ok(sample()));
        assert_eq!(keys().respond(&sample()).as_str(), RESPONSE);
    }

    #[test]
    fn another_device_cannot_open_it() {
        let request = SignRequest::parse(REQUEST).unwrap();
        // The same serial on another device instance: another instance key.
        let mut other = hex::decode(IK_SHA1).unwrap();
        other[0] ^= 1;
        let elsewhere = TransactionKeys::derive(&serial(), &other);
        assert_eq!(elsewhere.open(&request), Err(TransactionError::WrongDevice));
        // Another account's keys.
        let stranger = TransactionKeys::derive(
            &"TSR0000002".parse().unwrap(),
            &hex::decode(IK_SHA1).unwrap(),
        );
        assert_eq!(stranger.open(&request), Err(TransactionError::WrongDevice));
        // The address changed on the way: the seal binds the serial.
        let readdressed =
            SignRequest::parse(&REQUEST.replace("sn=TSR0000001", "sn=TSR0000002")).unwrap();
        assert_eq!(
            stranger.open(&readdressed),
            Err(TransactionError::WrongDevice)
        );
    }

    #[test]
    fn a_request_signed_for_another_serial_is_refused() {
        // The issuer's keys for TSR0000002 sealing a transaction that names
        // TSR0000001 is refused before sealing, and a hand-made one after.
        let other: Serial = "TSR0000002".parse().unwrap();
        let keys2 = TransactionKeys::derive(&other, &hex::decode(IK_SHA1).unwrap());
        assert!(matches!(
            keys2.seal(&sample(), nonce24()),
            Err(TransactionError::SerialMismatch { .. })
        ));
    }

    #[test]
    fn request_texts_are_parsed_strictly() {
        let err = |text: &str| SignRequest::parse(text).unwrap_err().to_string();
        assert!(err("tessera://activate?sn=x").contains("not a signing request"));
        assert!(err("tessera://sign?v=2&sn=TSR0000001&tx=AAAA").contains("version \"2\""));
        assert!(err("tessera://sign?sn=TSR0000001&tx=AAAA").contains("version (v) is missing"));
        assert!(err("tessera://sign?v=1&sn=TSR0000001&sn=TSR0000001&tx=AA").contains("twice"));
        assert!(err("tessera://sign?v=1&sn=short&tx=AAAA").contains("serial"));
        assert!(err("tessera://sign?v=1&sn=TSR0000001&tx=!!").contains("base64url"));
        assert!(err("tessera://sign?v=1&sn=TSR0000001&tx=AAAA").contains("too short"));
        assert!(err("tessera://sign?v=1&sn=TSR0000001&tx=AAAA&x=1").contains("unknown parameter"));
        assert!(err(&format!("{REQUEST}{}", "A".repeat(3000))).contains("limit"));
        // A flipped byte inside the seal.
        let mut bytes = REQUEST.as_bytes().to_vec();
        let i = bytes.len() - 10;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = SignRequest::parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert_eq!(keys().open(&altered), Err(TransactionError::WrongDevice));
        assert!(
            !format!("{:?}", keys()).contains("seal:"),
            "keys never print"
        );
    }
}

/// Changing anything shown changes the response.
mod binding {
    use super::*;
    use proptest::prelude::*;

    fn respond(tx: &Transaction) -> String {
        vectors::keys().respond(tx).as_str().to_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_change_changes_the_response(
            cents in 1u64..10_000,
            letter in 0usize..19,
            bit in 0u8..8,
            nonce_byte in 0usize..16,
        ) {
            let base = sample();
            let original = respond(&base);

            let mut amount = base.clone();
            amount.payments[0].amount += cents;
            prop_assert_ne!(respond(&amount), original.clone(), "amount");

            let mut payee = base.clone();
            let mut chars: Vec<char> = payee.payments[0].payee_name.chars().collect();
            let i = letter % chars.len();
            chars[i] = if chars[i] == 'x' { 'y' } else { 'x' };
            payee.payments[0].payee_name = chars.into_iter().collect();
            prop_assert_ne!(respond(&payee), original.clone(), "payee name");

            let mut nonce = base.clone();
            nonce.nonce[nonce_byte] ^= 1 << bit;
            prop_assert_ne!(respond(&nonce), original.clone(), "nonce");

            let mut account = base.clone();
            account.payments[0].payee_account = "GB82WEST12345698765432".into();
            prop_assert_ne!(respond(&account), original.clone(), "payee account");

            let mut reference = base.clone();
            reference.payments[0].reference.push('1');
            prop_assert_ne!(respond(&reference), original.clone(), "reference");

            let mut expiry = base.clone();
            expiry.expires_at += 1;
            prop_assert_ne!(respond(&expiry), original, "expiry");
        }
    }
}
