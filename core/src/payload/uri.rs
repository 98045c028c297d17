//! The URI form of PROTOCOL.md §2: `tessera://activate?sn=…&ac=…&lbl=…`,
//! plus the URI helpers the `otpauth` parsers share (scheme, query
//! splitting, percent-decoding and -encoding).
//!
//! Choices the protocol leaves open:
//!
//! - The scheme and the `activate` target are matched ignoring ASCII case;
//!   `tessera:activate?…` and a trailing slash (`…/activate/?…`) are
//!   accepted, as link handlers produce them.
//! - Parameter names of the §2 fields are matched ignoring case (`sn`, `SN`);
//!   other names are extra fields, kept as given.
//! - `+` is a literal plus, not a space: §2 specifies percent-encoding, not
//!   HTML form encoding, and base64 data (the migration payload) holds `+`.
//! - A `%` not followed by two hex digits, a value that is not UTF-8 once
//!   decoded, and a fragment (`#…`) are refused.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use super::error::{check_size, shown};
use super::tessera::{FieldCollector, FieldName, known_field};
use super::{PayloadError, TesseraPayload};

/// The "field" errors about the URI's syntax name.
const FORM: &str = "tessera URI";
const SCHEME: &str = "tessera";
const TARGET: &str = "activate";

/// What the writers percent-encode: everything but RFC 3986's unreserved
/// characters `A-Z a-z 0-9 - . _ ~`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Parses a payload in the URI form.
pub fn parse(text: &str) -> Result<TesseraPayload, PayloadError> {
    check_size(text)?;
    let rest = strip_scheme(text.trim(), SCHEME)
        .ok_or_else(|| PayloadError::invalid(FORM, "must start with tessera://activate?"))?;
    refuse_fragment(FORM, rest)?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
    let target = target.strip_suffix('/').unwrap_or(target);
    if !target.eq_ignore_ascii_case(TARGET) {
        return Err(PayloadError::invalid(
            FORM,
            format!(
                "expected tessera://activate?…, got target {}",
                shown(target)
            ),
        ));
    }
    let mut fields = FieldCollector::default();
    for (raw_name, raw_value) in query_pairs(query) {
        let name = decode_component(FORM, raw_name)?;
        let field = known_field(&name).unwrap_or(name.as_str());
        fields.add(field, &decode_component(field, raw_value)?)?;
    }
    fields.finish()
}

/// Writes a payload in the URI form: the §2 fields under their lower-case
/// names, extra fields under their own, every value percent-encoded.
pub fn write(p: &TesseraPayload) -> String {
    let mut out = format!("{SCHEME}://{TARGET}");
    let mut separator = '?';
    p.write_fields(|name, value| {
        out.push(separator);
        separator = '&';
        match name {
            FieldName::Known(name) => out.push_str(&name.to_ascii_lowercase()),
            FieldName::Extra(name) => push_encoded(&mut out, name),
        }
        out.push('=');
        push_encoded(&mut out, value);
    });
    out
}

/// The text after `scheme:`, if `text` starts with it (ASCII case ignored).
pub(crate) fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let head = text.get(..scheme.len())?;
    let rest = text[scheme.len()..].strip_prefix(':')?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// Refuses a `#` anywhere: none of the payload URIs has a fragment, and a
/// raw `#` inside a value is ambiguous.
pub(crate) fn refuse_fragment(form: &str, rest: &str) -> Result<(), PayloadError> {
    if rest.contains('#') {
        return Err(PayloadError::invalid(
            form,
            "a fragment (#…) is not allowed; write # as %23",
        ));
    }
    Ok(())
}

/// The `name=value` pairs of a query, still percent-encoded. Empty pairs
/// (`a=1&&b=2`) are skipped; a pair without `=` has an empty value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Percent-decodes one component (`+` stays a plus). Zeroized on drop, as
/// it may be a key. Errors name `field`.
pub(crate) fn decode_component(field: &str, raw: &str) -> Result<Zeroizing<String>, PayloadError> {
    let bytes = raw.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Err(PayloadError::invalid(
            field,
            "% must be followed by two hex digits",
        ));
    }
    let decoded = Zeroizing::new(percent_decode_str(raw).collect::<Vec<u8>>());
    match std::str::from_utf8(&decoded) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(PayloadError::invalid(
            field,
            "not valid UTF-8 once percent-decoded",
        )),
    }
}

/// Appends `value` with everything but unreserved characters percent-encoded.
pub(crate) fn push_encoded(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, COMPONENT));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::ActivationError;
    use crate::payload::{Form, MAX_PAYLOAD_BYTES};

    const SN: &str = "TSR0000001";
    const AC: &str = "00000523310060624280605095539573136129562";
    /// The example of PROTOCOL.md §2.
    const EXAMPLE: &str = "tessera://activate?sn=TSR0000001&ac=00000523310060624280605095539573136129562&lbl=alice%40example.com";
    const TAG_EXAMPLE: &str = "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC><LBL>alice@example.com</LBL></QRCode>";

    fn with_params(params: &str) -> String {
        format!("tessera://activate?sn={SN}&ac={AC}{params}")
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_protocol_example_like_the_tag_form() {
        let p = parse(EXAMPLE).unwrap();
        assert_eq!(p.serial.as_str(), SN);
        assert_eq!(p.activation_code.expose(), AC);
        assert_eq!(p.label.as_deref(), Some("alice@example.com"));
        assert_eq!(p, super::super::tag::parse(TAG_EXAMPLE).unwrap());
        assert_eq!(write(&p), EXAMPLE);
        assert_eq!(p.write(Form::Tag), TAG_EXAMPLE);
        assert_eq!(p.write(Form::Uri), EXAMPLE);
    }

    #[test]
    fn accepts_variants_of_scheme_target_and_names() {
        for text in [
            format!("TESSERA://Activate?SN={SN}&Ac={AC}"),
            format!("tessera:activate?sn={SN}&ac={AC}"),
            format!("tessera://activate/?sn={SN}&&ac={AC}&"),
            format!("tessera://activate?ac={AC}&sn={SN}"),
        ] {
            let p = parse(&text).unwrap();
            assert_eq!(p.activation_code.expose(), AC, "{text}");
        }
    }

    #[test]
    fn decodes_values_and_keeps_extras() {
        let p = parse(&with_params(
            "&lbl=a+b%20c%26d%3D%F0%9F%94%91&userid=&zone%20id=eu%2F1&flag&otp=totp%3ASHA256%3A8%3A60",
        ))
        .unwrap();
        assert_eq!(p.label.as_deref(), Some("a+b c&d=🔑"));
        assert_eq!(p.user_id.as_deref(), Some(""));
        assert_eq!(p.otp.as_ref().unwrap().as_str(), "totp:SHA256:8:60");
        assert_eq!(
            p.extra.iter().collect::<Vec<_>>(),
            [("zone id", "eu/1"), ("flag", "")]
        );
        let written = write(&p);
        assert_eq!(
            written,
            with_params(
                "&userid=&lbl=a%2Bb%20c%26d%3D%F0%9F%94%91&otp=totp%3ASHA256%3A8%3A60&zone%20id=eu%2F1&flag="
            )
        );
        assert_eq!(parse(&written).unwrap(), p);
    }

    #[test]
    fn signature_round_trips() {
        let sig = "_".repeat(85) + "w";
        let p = parse(&with_params(&format!("&sig={sig}"))).unwrap();
        assert_eq!(p.signature, Some([0xff; 64]));
        assert_eq!(write(&p), with_params(&format!("&sig={sig}")));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                "tessera://activate".to_owned(),
                "SN: required field is missing",
            ),
            (
                format!("tessera://activate?sn={SN}"),
                "AC: required field is missing",
            ),
            (with_params("&SN=TSR0000001"), "SN: given more than once"),
            (with_params("&x=1&x=2"), "x: given more than once"),
            (
                with_params("&lbl=%C3%28"),
                "LBL: not valid UTF-8 once percent-decoded",
            ),
            (
                with_params("&lbl=100%"),
                "LBL: % must be followed by two hex digits",
            ),
            (
                with_params("&lbl=%zz"),
                "LBL: % must be followed by two hex digits",
            ),
            (
                with_params("&%ff=1"),
                "tessera URI: not valid UTF-8 once percent-decoded",
            ),
            (with_params("&=1"), "payload: a field has an empty name"),
            (
                with_params("&a%0A=1"),
                "payload: field name \"a\\n\" has control characters",
            ),
            (
                with_params("&lbl=a%0Ab"),
                "LBL: control characters are not allowed",
            ),
            (
                with_params("&note=%1B[31m"),
                "note: control characters are not allowed",
            ),
            (
                with_params("&challenge="),
                "CHALLENGE: must be 1 to 16 digits",
            ),
            (
                with_params("&lbl=a#b"),
                "tessera URI: a fragment (#…) is not allowed; write # as %23",
            ),
            (
                with_params("&sig=abc"),
                "SIG: must be 64 bytes in base64url without padding",
            ),
            (
                format!("tessera://activate?sn=TSR0000002&ac={AC}"),
                "AC: check digits do not match the serial number",
            ),
            (
                format!("tessera://enroll?sn={SN}&ac={AC}"),
                "tessera URI: expected tessera://activate?…, got target \"enroll\"",
            ),
            (
                "tesserax://activate".to_owned(),
                "tessera URI: must start with tessera://activate?",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(&text), want, "{text}");
        }
        assert_eq!(
            parse(&format!(
                "tessera://activate?sn={SN}&ac=12345678901234567890"
            )),
            Err(ActivationError::LegacyCode(20).into())
        );
    }

    #[test]
    fn too_many_or_too_long_extras() {
        let many: String = (0..17).map(|i| format!("&x{i}=1")).collect();
        assert_eq!(
            err(&with_params(&many)),
            "payload: more than 16 unknown fields"
        );
        let long = format!("&x={}", "a".repeat(257));
        assert_eq!(
            err(&with_params(&long)),
            "x: unknown fields are limited to 256 bytes"
        );
    }

    #[test]
    fn size_limit() {
        let big = with_params(&format!("&x={}", "a".repeat(MAX_PAYLOAD_BYTES)));
        assert_eq!(parse(&big), Err(PayloadError::TooLarge(big.len())));
    }

    #[test]
    fn helpers() {
        assert_eq!(strip_scheme("OTPAUTH://x", "otpauth"), Some("//x"));
        assert_eq!(strip_scheme("otpauth-migration://x", "otpauth"), None);
        assert_eq!(strip_scheme("otp", "otpauth"), None);
        assert_eq!(strip_scheme("é", "x"), None);
        let mut out = String::new();
        push_encoded(&mut out, "aZ09-._~ :/?#[]@!$&'()*+,;=%é");
        assert_eq!(
            out,
            "aZ09-._~%20%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25%C3%A9"
        );
        assert_eq!(
            decode_component("f", &out).unwrap().as_str(),
            "aZ09-._~ :/?#[]@!$&'()*+,;=%é"
        );
    }
}
