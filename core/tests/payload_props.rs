//! Property tests of the payload codecs: every valid payload written and
//! parsed again comes back equal, whatever parses round-trips too, and no
//! input makes a parser panic.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use tessera_core::SecretBytes;
use tessera_core::activation::{ActivationCode, ActivationKey, Serial};
use tessera_core::otp::{Algorithm, OtpKind, OtpParams};
use tessera_core::payload::{
    self, Extra, Form, MAX_PAYLOAD_BYTES, MigrationBatch, OtpAuthAccount, OtpField, Payload,
    TesseraPayload, migration, otpauth,
};

// ---------------------------------------------------------------- strategies

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

/// Any character but a control character, often one the formats escape.
fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>().prop_map(|c| if c.is_control() { '\u{b7}' } else { c }),
        prop::sample::select("&<>;%:=?#+/ \"'".chars().collect::<Vec<_>>()),
    ]
}

/// Any text of up to `max` characters without control characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(text_char(), 0..=max).prop_map(String::from_iter)
}

/// A name as the otpauth formats keep it: not empty, no space around it.
fn name(max: usize) -> impl Strategy<Value = String> {
    text(max).prop_map(|s| match s.trim() {
        "" => "x".to_owned(),
        trimmed => trimmed.to_owned(),
    })
}

fn serial() -> impl Strategy<Value = Serial> {
    "[A-Z0-9]{10}".prop_map(|s| s.parse().unwrap())
}

/// Any valid code parameters; `counter` says whether an HOTP counter other
/// than 0 may appear (the `OTP` field has none).
fn otp_params(counter: bool) -> impl Strategy<Value = OtpParams> {
    let max_counter = if counter { u64::MAX } else { 0 };
    prop_oneof![
        (algorithm(), 6u32..=8, 10u32..=300).prop_map(|(a, d, p)| OtpParams::new(
            OtpKind::Totp { period: p },
            a,
            d
        )
        .unwrap()),
        (algorithm(), 6u32..=10, 0..=max_counter).prop_map(|(a, d, c)| OtpParams::new(
            OtpKind::Hotp { counter: c },
            a,
            d
        )
        .unwrap()),
    ]
}

fn otp_field() -> impl Strategy<Value = OtpField> {
    prop_oneof![
        otp_params(false).prop_map(OtpField::from),
        // The short form, which the field keeps as written.
        (algorithm(), 6u32..=8)
            .prop_map(|(a, d)| OtpField::parse(&format!("totp:{a}:{d}")).unwrap()),
    ]
}

/// Extra fields with names valid in both forms.
fn extra() -> impl Strategy<Value = Extra> {
    let entry = (
        "[A-Z][A-Z0-9_]{0,11}".prop_filter("a known name", |n| {
            ![
                "SN",
                "AC",
                "USERID",
                "CHALLENGE",
                "ISS",
                "LBL",
                "OTP",
                "SIG",
            ]
            .contains(&n.as_str())
        }),
        text(16),
    );
    prop::collection::vec(entry, 0..=3).prop_map(|entries| {
        let mut extra = Extra::default();
        for (name, value) in entries {
            // A repeated name is simply dropped.
            let _ = extra.push(&name, &value);
        }
        extra
    })
}

fn tessera_payload() -> impl Strategy<Value = TesseraPayload> {
    (
        (serial(), any::<[u8; 16]>()),
        prop::option::of(text(64)),
        prop::option::of("[0-9]{1,16}"),
        prop::option::of(text(64)),
        prop::option::of(text(64)),
        prop::option::of(otp_field()),
        prop::option::of(prop::collection::vec(any::<u8>(), 64)),
        extra(),
    )
        .prop_map(
            |((serial, key), user_id, challenge, issuer, label, otp, signature, extra)| {
                let code = ActivationCode::new(&serial, &ActivationKey::from_bytes(key));
                TesseraPayload {
                    serial,
                    activation_code: code,
                    user_id,
                    challenge: challenge.map(|c| c.parse().unwrap()),
                    issuer,
                    label,
                    otp,
                    signature: signature.map(|s| s.try_into().unwrap()),
                    extra,
                }
            },
        )
}

fn account(params: impl Strategy<Value = OtpParams>) -> impl Strategy<Value = OtpAuthAccount> {
    (
        prop::option::of(name(24)),
        name(24),
        prop::collection::vec(any::<u8>(), 1..=40),
        params,
    )
        .prop_map(|(issuer, account, secret, params)| OtpAuthAccount {
            issuer,
            account,
            secret: SecretBytes::new(secret),
            params,
            pin: None,
        })
}

/// What the migration format can hold: 6 or 8 digits, 30 s or a counter.
fn migration_params() -> impl Strategy<Value = OtpParams> {
    prop_oneof![
        (algorithm(), prop::sample::select(vec![6u32, 8])).prop_map(|(a, d)| OtpParams::new(
            OtpKind::Totp { period: 30 },
            a,
            d
        )
        .unwrap()),
        (
            algorithm(),
            prop::sample::select(vec![6u32, 8]),
            any::<u64>()
        )
            .prop_map(|(a, d, c)| OtpParams::new(OtpKind::Hotp { counter: c }, a, d).unwrap()),
    ]
}

fn migration_batch() -> impl Strategy<Value = MigrationBatch> {
    (
        prop::collection::vec(account(migration_params()), 1..=3),
        any::<[i32; 4]>(),
    )
        .prop_map(
            |(accounts, [version, batch_size, batch_index, batch_id])| MigrationBatch {
                accounts,
                version,
                batch_size,
                batch_index,
                batch_id,
            },
        )
}

/// A valid payload of any format, written.
fn written_payload() -> impl Strategy<Value = String> {
    prop_oneof![
        tessera_payload().prop_map(|p| p.write(Form::Tag)),
        tessera_payload().prop_map(|p| p.write(Form::Uri)),
        account(otp_params(true)).prop_map(|a| otpauth::write(&a)),
        migration_batch().prop_map(|b| migration::write(&b).unwrap()),
    ]
}

/// Byte edits: (position, what to do, byte).
fn mutations() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..8)
}

fn mutate(text: &str, edits: &[(prop::sample::Index, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (at, op, byte) in edits {
        let i = at.index(bytes.len() + 1);
        match op {
            0 => bytes.insert(i, *byte),
            1 if i < bytes.len() => {
                bytes.remove(i);
            }
            _ if i < bytes.len() => bytes[i] = *byte,
            _ => bytes.push(*byte),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

// ----------------------------------------------------------------- checks

/// Writes a parsed payload again in its own form.
fn rewrite(original: &str, payload: &Payload) -> String {
    match payload {
        Payload::Tessera(p) if original.trim_start().starts_with('<') => p.write(Form::Tag),
        Payload::Tessera(p) => p.write(Form::Uri),
        Payload::OtpAuth(a) => otpauth::write(a),
        Payload::Migration(b) => migration::write(b).expect("a parsed batch can be written"),
    }
}

/// `payload::parse` must not panic on `text`, and whatever it accepts must
/// round-trip (when the rewritten text, which may be longer, fits the limit).
fn parses_safely(text: &str) -> Result<(), TestCaseError> {
    if let Ok(parsed) = payload::parse(text) {
        let again = rewrite(text, &parsed);
        if again.len() <= MAX_PAYLOAD_BYTES {
            prop_assert_eq!(payload::parse(&again), Ok(parsed), "rewritten: {}", again);
        }
    }
    Ok(())
}

fn assert_round_trip(text: &str, want: Payload) -> Result<(), TestCaseError> {
    prop_assume!(text.len() <= MAX_PAYLOAD_BYTES);
    prop_assert_eq!(payload::parse(text), Ok(want), "written: {}", text);
    Ok(())
}

proptest! {
    #[test]
    fn tessera_tag_form_round_trips(p in tessera_payload()) {
        assert_round_trip(&p.write(Form::Tag), Payload::Tessera(p.clone()))?;
    }

    #[test]
    fn tessera_uri_form_round_trips(p in tessera_payload()) {
        assert_round_trip(&p.write(Form::Uri), Payload::Tessera(p.clone()))?;
    }

    #[test]
    fn otpauth_round_trips(a in account(otp_params(true))) {
        assert_round_trip(&otpauth::write(&a), Payload::OtpAuth(a.clone()))?;
    }

    #[test]
    fn migration_round_trips(b in migration_batch()) {
        assert_round_trip(&migration::write(&b).unwrap(), Payload::Migration(b.clone()))?;
    }

    #[test]
    fn any_text_is_safe(text in any::<String>()) {
        parses_safely(&text)?;
    }

    #[test]
    fn any_bytes_are_safe(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        parses_safely(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn text_after_each_format_prefix_is_safe(
        prefix in prop::sample::select(vec![
            "<QRCode>",
            "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC><",
            "tessera://activate?",
            "tessera://activate?sn=TSR0000001&ac=00000523310060624280605095539573136129562&",
            "otpauth://totp/",
            "otpauth://hotp/a?secret=",
            "otpauth://totp/a?secret=MZXW6&",
            "otpauth-migration://offline?data=",
        ]),
        rest in "[ -~&<>%=:/?#éš🔑\\t\\n]{0,200}",
    ) {
        parses_safely(&format!("{prefix}{rest}"))?;
    }

    #[test]
    fn arbitrary_migration_data_is_safe(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        parses_safely(&format!("otpauth-migration://offline?data={}", STANDARD.encode(bytes)))?;
    }

    #[test]
    fn arbitrary_migration_accounts_are_safe(accounts in prop::collection::vec(wire::account(), 0..4)) {
        parses_safely(&wire::uri(accounts))?;
    }

    #[test]
    fn mutated_payloads_are_safe(text in written_payload(), edits in mutations()) {
        parses_safely(&mutate(&text, &edits))?;
    }
}

/// The export's protobuf as Google documents it, written independently of
/// the crate's own definition, with every field free.
mod wire {
    use super::*;
    use prost::Message;

    #[derive(Clone, PartialEq, Message)]
    pub struct MigrationPayload {
        #[prost(message, repeated, tag = "1")]
        pub otp_parameters: Vec<OtpParameters>,
        #[prost(int32, tag = "2")]
        pub version: i32,
        #[prost(int32, tag = "3")]
        pub batch_size: i32,
        #[prost(int32, tag = "4")]
        pub batch_index: i32,
        #[prost(int32, tag = "5")]
        pub batch_id: i32,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct OtpParameters {
        #[prost(bytes = "vec", tag = "1")]
        pub secret: Vec<u8>,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(string, tag = "3")]
        pub issuer: String,
        #[prost(int32, tag = "4")]
        pub algorithm: i32,
        #[prost(int32, tag = "5")]
        pub digits: i32,
        #[prost(int32, tag = "6")]
        pub r#type: i32,
        #[prost(int64, tag = "7")]
        pub counter: i64,
    }

    pub fn account() -> impl Strategy<Value = OtpParameters> {
        (
            prop::collection::vec(any::<u8>(), 0..24),
            "[a-zA-Z :\\t]{0,12}",
            "[a-zA-Z :]{0,8}",
            (-1i32..6, -1i32..4, -1i32..4, any::<i64>()),
        )
            .prop_map(
                |(secret, name, issuer, (algorithm, digits, r#type, counter))| OtpParameters {
                    secret,
                    name,
                    issuer,
                    algorithm,
                    digits,
                    r#type,
                    counter,
                },
            )
    }

    pub fn uri(accounts: Vec<OtpParameters>) -> String {
        let payload = MigrationPayload {
            otp_parameters: accounts,
            version: 1,
            batch_size: 1,
            batch_index: 0,
            batch_id: 7,
        };
        format!(
            "otpauth-migration://offline?data={}",
            STANDARD
                .encode(payload.encode_to_vec())
                .replace('+', "%2B")
                .replace('/', "%2F")
        )
    }
}
