//! The tag form of PROTOCOL.md §2:
//! `<QRCode><SN>…</SN><AC>…</AC>…</QRCode>`.
//!
//! The parser is hand-written on purpose. The format is tiny and fixed: one
//! `<QRCode>` root holding a flat list of `<NAME>value</NAME>` fields, upper-
//! case names, three escapes. An XML crate would accept far more than the
//! protocol allows (attributes, comments, CDATA, processing instructions,
//! namespaces, nesting, character references), and every one of those would
//! be input the daemon has to reason about. Here anything outside the grammar
//! below is refused with an error that names the field:
//!
//! ```text
//! payload := ws "<QRCode>" ws (field ws)* "</QRCode>" ws
//! field   := "<" NAME ">" value "</" NAME ">"      NAME := [A-Z0-9_]+
//! value   := any text without "<"; "&" only in &amp; &lt; &gt; &quot; &apos;
//! ```

use zeroize::Zeroizing;

use super::error::{check_size, shown};
use super::tessera::{FieldCollector, FieldName};
use super::{PayloadError, TesseraPayload};

const ROOT_OPEN: &str = "<QRCode>";
const ROOT_CLOSE: &str = "</QRCode>";
/// The "field" errors about the form's syntax name.
const FORM: &str = "tag form";

/// The escapes a value may use, and the character each stands for.
const ESCAPES: [(&str, char); 5] = [
    ("&amp;", '&'),
    ("&lt;", '<'),
    ("&gt;", '>'),
    ("&quot;", '"'),
    ("&apos;", '\''),
];

/// White space allowed around the root and between tags.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Parses a payload in the tag form.
pub fn parse(text: &str) -> Result<TesseraPayload, PayloadError> {
    check_size(text)?;
    let body = text
        .trim_matches(is_space)
        .strip_prefix(ROOT_OPEN)
        .ok_or_else(|| PayloadError::invalid(FORM, "must start with <QRCode>"))?
        .strip_suffix(ROOT_CLOSE)
        .ok_or_else(|| PayloadError::invalid(FORM, "must end with </QRCode>"))?;
    let mut fields = FieldCollector::default();
    let mut rest = body.trim_start_matches(is_space);
    while !rest.is_empty() {
        let (name, value, after) = next_field(rest)?;
        fields.add(name, &value)?;
        rest = after.trim_start_matches(is_space);
    }
    fields.finish()
}

/// Reads the field `rest` starts with: its name, unescaped value, and the
/// text after its closing tag.
fn next_field(rest: &str) -> Result<(&str, Zeroizing<String>, &str), PayloadError> {
    let inner = rest
        .strip_prefix('<')
        .ok_or_else(|| PayloadError::invalid(FORM, "text outside a tag"))?;
    let (name, after_open) = inner
        .split_once('>')
        .ok_or_else(|| PayloadError::invalid(FORM, "a tag is not closed by >"))?;
    check_name(name)?;
    let value_end = after_open.find('<').unwrap_or(after_open.len());
    let (raw_value, after_value) = after_open.split_at(value_end);
    let after_close = after_value
        .strip_prefix("</")
        .and_then(|s| s.strip_prefix(name))
        .and_then(|s| s.strip_prefix('>'))
        .ok_or_else(|| PayloadError::invalid(name, format!("not closed by </{name}>")))?;
    Ok((name, unescape(name, raw_value)?, after_close))
}

/// Tag names are upper case: `[A-Z0-9_]+`.
fn check_name(name: &str) -> Result<(), PayloadError> {
    if let Some(closed) = name.strip_prefix('/') {
        return Err(PayloadError::invalid(
            FORM,
            format!(
                "closing tag {} without its opening tag",
                shown(&format!("</{closed}>"))
            ),
        ));
    }
    let valid = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    if name.is_empty() || !name.bytes().all(valid) {
        return Err(PayloadError::invalid(
            FORM,
            format!(
                "tag name {} is not upper case (A-Z, 0-9 and _ only)",
                shown(name)
            ),
        ));
    }
    Ok(())
}

/// Replaces the five escapes in `raw`, the value of `field`; any other use
/// of `&` is an error.
fn unescape(field: &str, raw: &str) -> Result<Zeroizing<String>, PayloadError> {
    let mut out = Zeroizing::new(String::with_capacity(raw.len()));
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let escape = &rest[amp..];
        let (text, c) = ESCAPES
            .into_iter()
            .find(|(text, _)| escape.starts_with(text))
            .ok_or_else(|| {
                PayloadError::invalid(
                    field,
                    "unknown escape after &; only &amp; &lt; &gt; &quot; &apos; are allowed",
                )
            })?;
        out.push(c);
        rest = &escape[text.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Writes a payload in the tag form, on one line. Extra field names must be
/// valid tag names (those read from a tag-form payload always are).
pub fn write(p: &TesseraPayload) -> String {
    let mut out = String::from(ROOT_OPEN);
    p.write_fields(|name, value| {
        let name = match name {
            FieldName::Known(name) | FieldName::Extra(name) => name,
        };
        out.push('<');
        out.push_str(name);
        out.push('>');
        escape_into(&mut out, value);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    });
    out.push_str(ROOT_CLOSE);
    out
}

/// Appends `value` with `&`, `<` and `>` escaped.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::ActivationError;
    use crate::otp::ParamsError;
    use crate::payload::MAX_PAYLOAD_BYTES;

    const SN: &str = "TSR0000001";
    const AC: &str = "00000523310060624280605095539573136129562";
    /// The example of PROTOCOL.md §2.
    const EXAMPLE: &str = "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC><LBL>alice@example.com</LBL></QRCode>";

    fn with_fields(fields: &str) -> String {
        format!("<QRCode><SN>{SN}</SN><AC>{AC}</AC>{fields}</QRCode>")
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_protocol_example() {
        let p = parse(EXAMPLE).unwrap();
        assert_eq!(p.serial.as_str(), SN);
        assert_eq!(p.activation_code.expose(), AC);
        assert_eq!(p.label.as_deref(), Some("alice@example.com"));
        assert_eq!(p.user_id, None);
        assert!(p.extra.is_empty());
        assert_eq!(write(&p), EXAMPLE);
    }

    #[test]
    fn parses_every_field_and_writes_them_in_order() {
        let sig = "A".repeat(85) + "A";
        let text = format!(
            "<QRCode>\n  <SIG>{sig}</SIG>\n  <OTP>hotp:SHA256:8</OTP>\n  <LBL>a &amp; b &lt;c&gt; &quot;d&apos;</LBL>\n  \
             <ZONE>eu-1</ZONE><ISS>Bank</ISS><CHALLENGE>0042</CHALLENGE><USERID>alice</USERID>\n  \
             <AC>00000-52331-00606-24280-60509-55395-73136-12956-2</AC><SN>{SN}</SN>\n</QRCode>\n"
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.activation_code.expose(), AC);
        assert_eq!(p.user_id.as_deref(), Some("alice"));
        assert_eq!(p.challenge.as_ref().unwrap().as_str(), "0042");
        assert_eq!(p.issuer.as_deref(), Some("Bank"));
        assert_eq!(p.label.as_deref(), Some("a & b <c> \"d'"));
        assert_eq!(p.otp.as_ref().unwrap().as_str(), "hotp:SHA256:8");
        assert_eq!(p.signature, Some([0; 64]));
        assert_eq!(p.extra.iter().collect::<Vec<_>>(), [("ZONE", "eu-1")]);
        let written = write(&p);
        assert_eq!(
            written,
            format!(
                "<QRCode><SN>{SN}</SN><AC>{AC}</AC><USERID>alice</USERID><CHALLENGE>0042</CHALLENGE>\
                 <ISS>Bank</ISS><LBL>a &amp; b &lt;c&gt; \"d'</LBL><OTP>hotp:SHA256:8</OTP>\
                 <ZONE>eu-1</ZONE><SIG>{sig}</SIG></QRCode>"
            )
        );
        assert_eq!(parse(&written).unwrap(), p);
    }

    #[test]
    fn empty_values_and_raw_greater_than_are_kept() {
        let p = parse(&with_fields("<LBL></LBL><ISS>a>b</ISS><X_1></X_1>")).unwrap();
        assert_eq!(p.label.as_deref(), Some(""));
        assert_eq!(p.issuer.as_deref(), Some("a>b"));
        assert_eq!(p.extra.iter().collect::<Vec<_>>(), [("X_1", "")]);
    }

    #[test]
    fn missing_and_duplicate_fields() {
        assert_eq!(
            parse(&format!("<QRCode><AC>{AC}</AC></QRCode>")),
            Err(PayloadError::Missing("SN"))
        );
        assert_eq!(
            parse(&format!("<QRCode><SN>{SN}</SN></QRCode>")),
            Err(PayloadError::Missing("AC"))
        );
        assert_eq!(err("<QRCode></QRCode>"), "SN: required field is missing");
        assert_eq!(
            parse(&with_fields("<LBL>a</LBL><LBL>b</LBL>")),
            Err(PayloadError::Duplicate("LBL".into()))
        );
        assert_eq!(
            err(&with_fields(&format!("<SN>{SN}</SN>"))),
            "SN: given more than once"
        );
        assert_eq!(
            err(&with_fields("<X>1</X><X>2</X>")),
            "X: given more than once"
        );
    }

    #[test]
    fn field_errors_name_the_field() {
        let other = "<QRCode><SN>TSR0000002</SN><AC>00000523310060624280605095539573136129562</AC></QRCode>";
        assert_eq!(parse(other), Err(ActivationError::CodeCheck.into()));
        assert_eq!(
            err(other),
            "AC: check digits do not match the serial number"
        );
        assert_eq!(
            err("<QRCode><SN>tsr0000001</SN></QRCode>"),
            "SN: only A-Z and 0-9 are allowed, found 't'"
        );
        assert_eq!(
            err(&with_fields("<CHALLENGE>12a</CHALLENGE>")),
            "CHALLENGE: must be 1 to 16 digits"
        );
        assert_eq!(
            parse(&with_fields("<OTP>totp:SHA1:9:30</OTP>")),
            Err(ParamsError::Digits(9).into())
        );
        assert_eq!(
            err(&with_fields(&format!(
                "<USERID>{}</USERID>",
                "é".repeat(65)
            ))),
            "USERID: longer than 64 characters"
        );
        assert_eq!(
            err(&with_fields("<ISS>a\tb</ISS>")),
            "ISS: control characters are not allowed"
        );
        assert_eq!(
            err(&with_fields("<NOTE>a\u{7}</NOTE>")),
            "NOTE: control characters are not allowed"
        );
        assert_eq!(
            err(&with_fields("<SIG>AAAA</SIG>")),
            "SIG: must be 64 bytes in base64url without padding"
        );
        assert_eq!(
            err(&with_fields(&format!("<SIG>{}==</SIG>", "A".repeat(86)))),
            "SIG: must be 64 bytes in base64url without padding"
        );
    }

    #[test]
    fn escapes_other_than_the_five_are_refused() {
        for bad in ["&#65;", "&nbsp;", "&", "a&b", "&amp"] {
            assert_eq!(
                err(&with_fields(&format!("<LBL>{bad}</LBL>"))),
                "LBL: unknown escape after &; only &amp; &lt; &gt; &quot; &apos; are allowed",
                "{bad}"
            );
        }
    }

    #[test]
    fn syntax_errors_name_the_form() {
        let cases = [
            ("<qrcode></qrcode>", "tag form: must start with <QRCode>"),
            ("<QRCode><SN>x</SN>", "tag form: must end with </QRCode>"),
            ("<QRCode>junk</QRCode>", "tag form: text outside a tag"),
            (
                "<QRCode><SN x>1</SN x></QRCode>",
                "tag form: tag name \"SN x\" is not upper case (A-Z, 0-9 and _ only)",
            ),
            (
                "<QRCode><sn>x</sn></QRCode>",
                "tag form: tag name \"sn\" is not upper case (A-Z, 0-9 and _ only)",
            ),
            (
                "<QRCode><>x</></QRCode>",
                "tag form: tag name \"\" is not upper case (A-Z, 0-9 and _ only)",
            ),
            (
                "<QRCode><LBL/></QRCode>",
                "tag form: tag name \"LBL/\" is not upper case (A-Z, 0-9 and _ only)",
            ),
            (
                "<QRCode><LBL a=\"1\">x</LBL></QRCode>",
                "tag form: tag name \"LBL a=\\\"1\\\"\" is not upper case (A-Z, 0-9 and _ only)",
            ),
            (
                "<QRCode></SN></QRCode>",
                "tag form: closing tag \"</SN>\" without its opening tag",
            ),
            ("<QRCode><LBL>x</ISS></QRCode>", "LBL: not closed by </LBL>"),
            (
                "<QRCode><LBL>x<B>y</B></LBL></QRCode>",
                "LBL: not closed by </LBL>",
            ),
            ("<QRCode><LBL>x</QRCode>", "LBL: not closed by </LBL>"),
            (
                "<QRCode><LBL</QRCode>",
                "tag form: a tag is not closed by >",
            ),
            (
                "<QRCode></QRCode></QRCode>",
                "tag form: closing tag \"</QRCode>\" without its opening tag",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text}");
        }
    }

    #[test]
    fn size_limit() {
        let big = with_fields(&format!("<X>{}</X>", "a".repeat(MAX_PAYLOAD_BYTES)));
        assert_eq!(
            err(&big),
            format!("payload is {} bytes; the limit is 4096", big.len())
        );
    }

    #[test]
    fn errors_never_show_the_activation_code() {
        let typo = with_fields("").replace("523310", "523311");
        let shown = err(&typo);
        assert!(!shown.contains("00000523"), "{shown}");
        assert_eq!(shown, "AC: check digits do not match the serial number");
    }
}
