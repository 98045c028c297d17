//! `otpauth://totp/…` and `otpauth://hotp/…`: Google Authenticator's Key URI
//! format, the payload every web site's 2FA set-up shows.
//!
//! ```text
//! otpauth://TYPE/LABEL?secret=BASE32&issuer=…&algorithm=…&digits=…&period=…&counter=…
//! ```
//!
//! - `TYPE` is `totp`, `hotp` or `steam` (Steam Guard, as Aegis and
//!   others write it: TOTP, SHA1, 30 s, 5 characters; other values of
//!   those parameters are refused), in any case.
//! - `LABEL` is `account` or `Issuer:account`, percent-decoded before it is
//!   split at its first colon (the colon may itself be encoded); spaces
//!   around both parts are trimmed.
//! - The `issuer` parameter wins over the label's prefix when both are there
//!   and differ, as Google Authenticator does; the prefix is then dropped.
//! - `secret` is base32 in either case, with or without `=` padding; spaces
//!   are ignored, as are unused low bits in the last character.
//! - Defaults: `algorithm=SHA1`, `digits=6`, `period=30`, `counter=0`.
//!   Google requires `counter` for `hotp`; we default it to 0 rather than
//!   refuse a payload that is clear enough.
//! - `counter` is ignored for `totp` and `period` for `hotp`; unknown
//!   parameters (`image`, `color`, …) are ignored; parameter names are
//!   matched ignoring case; a known parameter given twice is refused.
//! - `+` is a literal plus (see [`super::uri`]).

use std::str::FromStr;
use std::sync::LazyLock;

use data_encoding::{BASE32_NOPAD, Encoding, Specification};
use zeroize::Zeroizing;

use super::PayloadError;
use super::error::{check_size, shown};
use super::uri::{decode_component, push_encoded, query_pairs, refuse_fragment, strip_scheme};
use crate::otp::{Algorithm, Encoding as CodeEncoding, OtpKind, OtpParams, ParamsError};
use crate::secret::{SecretBytes, SecretString};

/// The "field" errors about this format name.
const FORM: &str = "otpauth";
const SCHEME: &str = "otpauth";

/// Longest issuer or account name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// One account from an `otpauth://` URI (or from a migration payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpAuthAccount {
    /// The service, from the `issuer` parameter or the label's prefix;
    /// never empty.
    pub issuer: Option<String>,
    /// The account name at the service (the label without its prefix);
    /// never empty.
    pub account: String,
    /// The shared secret, decoded from base32.
    pub secret: SecretBytes,
    /// Type, algorithm, digits and period or counter.
    pub params: OtpParams,
    /// A Mobile-OTP account's PIN, which its codes hash; `None` for every
    /// other kind (no `otpauth://` link carries one: only the peer apps'
    /// backup files).
    pub pin: Option<SecretString>,
}

/// Base32 (RFC 4648) as authenticators read it: no padding (stripped
/// first), and unused low bits of the last character ignored, since many
/// issuers generate secrets as random base32 characters.
static BASE32_LENIENT: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    spec.check_trailing_bits = false;
    spec.encoding().expect("a valid base32 specification")
});

/// Parses an `otpauth://totp/…` or `otpauth://hotp/…` URI.
pub fn parse(text: &str) -> Result<OtpAuthAccount, PayloadError> {
    check_size(text)?;
    let rest = strip_scheme(text.trim(), SCHEME)
        .and_then(|rest| rest.strip_prefix("//"))
        .ok_or_else(|| PayloadError::invalid(FORM, "must start with otpauth://"))?;
    refuse_fragment(FORM, rest)?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (kind, label) = path.split_once('/').unwrap_or((path, ""));
    let kind = match kind.to_ascii_lowercase().as_str() {
        "totp" => Type::Totp,
        "hotp" => Type::Hotp,
        "steam" => Type::Steam,
        _ => {
            return Err(PayloadError::invalid(
                FORM,
                format!("type must be totp, hotp or steam, got {}", shown(kind)),
            ));
        }
    };
    let label = decode_component("otpauth label", label)?;
    let query = Query::read(query)?;
    let secret = decode_secret(query.secret.as_deref().map(String::as_str))?;
    let params = query.params(kind)?;
    let issuer = query.issuer.as_deref().map(String::as_str);
    let (issuer, account) = split_names(FORM, issuer, &label)?;
    Ok(OtpAuthAccount {
        issuer,
        account,
        secret,
        params,
        pin: None,
    })
}

/// The URI's `TYPE`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Totp,
    Hotp,
    Steam,
}

/// Writes an account as an `otpauth://` URI, every parameter explicit.
pub fn write(account: &OtpAuthAccount) -> String {
    let params = account.params;
    let (kind, last) = match params.kind() {
        OtpKind::Totp { period } if params.encoding() == CodeEncoding::Steam => {
            ("steam", format!("period={period}"))
        }
        OtpKind::Totp { period } => ("totp", format!("period={period}")),
        OtpKind::Hotp { counter } => ("hotp", format!("counter={counter}")),
    };
    let mut out = format!("{SCHEME}://{kind}/");
    let (prefix, name) = label_parts(account.issuer.as_deref(), &account.account);
    if let Some(prefix) = prefix {
        push_encoded(&mut out, prefix);
        out.push(':');
    }
    push_encoded(&mut out, name);
    out.push_str("?secret=");
    BASE32_NOPAD.encode_append(account.secret.expose(), &mut out);
    if let Some(issuer) = &account.issuer {
        out.push_str("&issuer=");
        push_encoded(&mut out, issuer);
    }
    out.push_str(&format!(
        "&algorithm={}&digits={}&{last}",
        params.algorithm(),
        params.digits()
    ));
    out
}

/// The known parameters of a Key URI, percent-decoded.
#[derive(Default)]
struct Query {
    secret: Option<Zeroizing<String>>,
    issuer: Option<Zeroizing<String>>,
    algorithm: Option<Zeroizing<String>>,
    digits: Option<Zeroizing<String>>,
    period: Option<Zeroizing<String>>,
    counter: Option<Zeroizing<String>>,
}

impl Query {
    fn read(query: &str) -> Result<Self, PayloadError> {
        let mut q = Self::default();
        for (raw_name, raw_value) in query_pairs(query) {
            let name = raw_name.to_ascii_lowercase();
            let slot = match name.as_str() {
                "secret" => &mut q.secret,
                "issuer" => &mut q.issuer,
                "algorithm" => &mut q.algorithm,
                "digits" => &mut q.digits,
                "period" => &mut q.period,
                "counter" => &mut q.counter,
                _ => continue,
            };
            let field = format!("{FORM} {name}");
            if slot.is_some() {
                return Err(PayloadError::Duplicate(field));
            }
            *slot = Some(decode_component(&field, raw_value)?);
        }
        Ok(q)
    }

    /// The code parameters, with the format's defaults.
    fn params(&self, kind: Type) -> Result<OtpParams, PayloadError> {
        let algorithm = match self.algorithm.as_deref() {
            None => Algorithm::Sha1,
            Some(name) => Algorithm::from_name(name).ok_or_else(|| {
                PayloadError::invalid(
                    FORM,
                    format!(
                        "algorithm must be SHA1, SHA256 or SHA512, got {}",
                        shown(name)
                    ),
                )
            })?,
        };
        if kind == Type::Steam {
            let digits = number(self.digits.as_deref(), "digits", 5)?;
            let period = number(self.period.as_deref(), "period", 30)?;
            if (algorithm, digits, period) != (Algorithm::Sha1, 5, 30) {
                return Err(PayloadError::invalid(
                    FORM,
                    format!(
                        "steam codes are SHA1, 5 characters, every 30 seconds; got \
                         {algorithm}, {digits}, {period} s"
                    ),
                ));
            }
            return Ok(OtpParams::steam());
        }
        let digits = number(self.digits.as_deref(), "digits", 6)?;
        let kind = if kind == Type::Totp {
            OtpKind::Totp {
                period: number(self.period.as_deref(), "period", 30)?,
            }
        } else {
            OtpKind::Hotp {
                counter: number(self.counter.as_deref(), "counter", 0)?,
            }
        };
        OtpParams::new(kind, algorithm, digits).map_err(|e| params_error(FORM, e))
    }
}

/// A numeric parameter, or its default when absent.
fn number<T: FromStr>(value: Option<&String>, name: &str, default: T) -> Result<T, PayloadError> {
    match value {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            PayloadError::invalid(FORM, format!("{name} is not a number: {}", shown(text)))
        }),
    }
}

/// Restates an out-of-range parameter for the format `field` (the
/// [`ParamsError`] messages name the `OTP` field of the Tessera payload).
pub(crate) fn params_error(field: &str, e: ParamsError) -> PayloadError {
    match e {
        ParamsError::Digits(d) => PayloadError::invalid(
            field,
            format!("digits must be 6 to 8 for totp (6 to 10 for hotp), got {d}"),
        ),
        ParamsError::Period(p) => {
            PayloadError::invalid(field, format!("period must be 10 to 300 seconds, got {p}"))
        }
        other => other.into(),
    }
}

/// A base32 secret as authenticators write it (any case, spaces, padding
/// or not), for the importers of other apps' backups: the one base32
/// reader of the workspace.
pub fn decode_base32_secret(text: &str) -> Result<SecretBytes, PayloadError> {
    decode_secret(Some(text))
}

/// Decodes the `secret` parameter. The intermediate copies are zeroized.
fn decode_secret(text: Option<&str>) -> Result<SecretBytes, PayloadError> {
    let text = text.ok_or(PayloadError::Missing("otpauth secret"))?;
    let mut cleaned = Zeroizing::new(String::with_capacity(text.len()));
    for c in text.chars().filter(|c| *c != ' ') {
        cleaned.push(c.to_ascii_uppercase());
    }
    let input = cleaned.trim_end_matches('=').as_bytes();
    if input.is_empty() {
        return Err(PayloadError::invalid(FORM, "secret is empty"));
    }
    let not_base32 = |_| PayloadError::invalid(FORM, "secret is not base32");
    let len = BASE32_LENIENT.decode_len(input.len()).map_err(not_base32)?;
    let mut bytes = Zeroizing::new(vec![0; len]);
    let len = BASE32_LENIENT
        .decode_mut(input, &mut bytes)
        .map_err(|partial| not_base32(partial.error))?;
    Ok(SecretBytes::from(&bytes[..len]))
}

/// Splits a label `Issuer:account` (or `account`) and picks the issuer: the
/// explicit one if given and not blank, else the label's prefix. Both names
/// are trimmed and checked; errors name `field` (the format, or a migration
/// account).
pub(crate) fn split_names(
    field: &str,
    explicit_issuer: Option<&str>,
    label: &str,
) -> Result<(Option<String>, String), PayloadError> {
    let (prefix, account) = match label.split_once(':') {
        Some((prefix, account)) => (Some(prefix), account),
        None => (None, label),
    };
    let not_blank = |s: &str| !s.is_empty();
    let issuer = explicit_issuer
        .map(str::trim)
        .filter(|s| not_blank(s))
        .or_else(|| prefix.map(str::trim).filter(|s| not_blank(s)));
    let account = account.trim();
    if account.is_empty() {
        return Err(PayloadError::invalid(
            format!("{field} label"),
            "the account name is empty",
        ));
    }
    check_name(&format!("{field} account"), account)?;
    if let Some(issuer) = issuer {
        check_name(&format!("{field} issuer"), issuer)?;
    }
    Ok((issuer.map(str::to_owned), account.to_owned()))
}

/// The label to write for `issuer` and `account`, as (prefix, account);
/// [`split_names`] reads it back to the same names. The prefix is the issuer
/// when it has no colon; an empty prefix (`:account`) keeps a colon inside
/// the account from being taken for the separator.
pub(crate) fn label_parts<'a>(
    issuer: Option<&'a str>,
    account: &'a str,
) -> (Option<&'a str>, &'a str) {
    match issuer {
        Some(issuer) if !issuer.contains(':') => (Some(issuer), account),
        _ if account.contains(':') => (Some(""), account),
        _ => (None, account),
    }
}

/// An issuer or account name: at most [`MAX_NAME_CHARS`], no control characters.
fn check_name(field: &str, name: &str) -> Result<(), PayloadError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(PayloadError::TooLong {
            field: field.to_owned(),
            max: MAX_NAME_CHARS,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(PayloadError::ControlCharacter(field.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::MAX_PAYLOAD_BYTES;

    /// Google's example from the Key URI format page.
    const GOOGLE: &str =
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    /// `JBSWY3DPEHPK3PXP` decoded.
    const HELLO: &[u8] = b"Hello!\xde\xad\xbe\xef";

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_googles_example_with_defaults() {
        let a = parse(GOOGLE).unwrap();
        assert_eq!(a.issuer.as_deref(), Some("Example"));
        assert_eq!(a.account, "alice@google.com");
        assert_eq!(a.secret.expose(), HELLO);
        assert_eq!(a.params, OtpParams::default_totp());
        let written = write(&a);
        assert_eq!(
            written,
            "otpauth://totp/Example:alice%40google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(parse(&written).unwrap(), a);
    }

    #[test]
    fn parses_every_parameter() {
        let a = parse(
            "OTPAUTH://HOTP/ACME%20Co:%20john.doe@email.com?Secret=hxdm vjec jjws rb3h wizr 4ifu gftm xboz&issuer=ACME%20Co&algorithm=sha256&digits=8&counter=42&period=5&image=https%3A%2F%2Fx",
        )
        .unwrap();
        assert_eq!(a.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(a.account, "john.doe@email.com");
        assert_eq!(a.secret.len(), 20);
        assert_eq!(
            a.params,
            OtpParams::new(OtpKind::Hotp { counter: 42 }, Algorithm::Sha256, 8).unwrap()
        );
        assert_eq!(
            write(&a),
            "otpauth://hotp/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA256&digits=8&counter=42"
        );
    }

    #[test]
    fn steam_links_read_and_write_back() {
        let a = parse("otpauth://steam/Steam:gabe?secret=JBSWY3DPEHPK3PXP&issuer=Steam").unwrap();
        assert_eq!(a.params, OtpParams::steam());
        assert_eq!(
            (a.issuer.as_deref(), a.account.as_str()),
            (Some("Steam"), "gabe")
        );
        // As Aegis writes them, every parameter explicit.
        let written = write(&a);
        assert_eq!(
            written,
            "otpauth://steam/Steam:gabe?secret=JBSWY3DPEHPK3PXP&issuer=Steam&algorithm=SHA1&digits=5&period=30"
        );
        assert_eq!(parse(&written).unwrap(), a);
        let e = parse("otpauth://steam/gabe?secret=JBSWY3DPEHPK3PXP&digits=6").unwrap_err();
        assert_eq!(
            e.to_string(),
            "otpauth: steam codes are SHA1, 5 characters, every 30 seconds; got SHA1, 6, 30 s"
        );
    }

    #[test]
    fn secret_case_padding_and_spaces() {
        for secret in ["MZXW6===", "MZXW6", "mzxw6", "mz xw 6=", "MZXW7"] {
            let a = parse(&format!("otpauth://totp/alice?secret={secret}")).unwrap();
            assert_eq!(a.secret.expose(), b"foo", "{secret}");
        }
        let hotp = parse("otpauth://hotp/alice?secret=MZXW6").unwrap();
        assert_eq!(hotp.params.kind(), OtpKind::Hotp { counter: 0 });
    }

    #[test]
    fn issuer_parameter_wins_over_the_label_prefix() {
        let a = parse("otpauth://totp/Old%3Aalice?secret=MZXW6&issuer=New").unwrap();
        assert_eq!(
            (a.issuer.as_deref(), a.account.as_str()),
            (Some("New"), "alice")
        );
        let a = parse("otpauth://totp/Old:alice?secret=MZXW6&issuer=").unwrap();
        assert_eq!(
            (a.issuer.as_deref(), a.account.as_str()),
            (Some("Old"), "alice")
        );
        let a = parse("otpauth://totp/alice?secret=MZXW6").unwrap();
        assert_eq!((a.issuer, a.account.as_str()), (None, "alice"));
        let a = parse("otpauth://totp/:a:b?secret=MZXW6").unwrap();
        assert_eq!((a.issuer, a.account.as_str()), (None, "a:b"));
    }

    #[test]
    fn names_with_colons_round_trip() {
        let base = parse("otpauth://totp/x?secret=MZXW6").unwrap();
        for (issuer, account) in [
            (None, "a:b"),
            (Some("I:J"), "a"),
            (Some("I:J"), "a:b"),
            (Some("I"), "a:b"),
        ] {
            let a = OtpAuthAccount {
                issuer: issuer.map(str::to_owned),
                account: account.to_owned(),
                ..base.clone()
            };
            assert_eq!(parse(&write(&a)).unwrap(), a, "{issuer:?} {account}");
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let long = "a".repeat(257);
        let cases = [
            ("otpauth://totp/a?secret=", "otpauth: secret is empty"),
            ("otpauth://totp/a?secret====", "otpauth: secret is empty"),
            (
                "otpauth://totp/a?secret=JBSW1",
                "otpauth: secret is not base32",
            ),
            ("otpauth://totp/a?secret=M", "otpauth: secret is not base32"),
            (
                "otpauth://totp/a?secret=MZ=XW6",
                "otpauth: secret is not base32",
            ),
            (
                "otpauth://totp/a",
                "otpauth secret: required field is missing",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&secret=MZXW6",
                "otpauth secret: given more than once",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&Digits=6&digits=8",
                "otpauth digits: given more than once",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&digits=9",
                "otpauth: digits must be 6 to 8 for totp (6 to 10 for hotp), got 9",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&digits=",
                "otpauth: digits is not a number: \"\"",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&period=0",
                "otpauth: period must be 10 to 300 seconds, got 0",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&period=-30",
                "otpauth: period is not a number: \"-30\"",
            ),
            (
                "otpauth://hotp/a?secret=MZXW6&counter=x",
                "otpauth: counter is not a number: \"x\"",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&algorithm=MD5",
                "otpauth: algorithm must be SHA1, SHA256 or SHA512, got \"MD5\"",
            ),
            (
                "otpauth://motp/a?secret=MZXW6",
                "otpauth: type must be totp, hotp or steam, got \"motp\"",
            ),
            (
                "otpauth:totp/a?secret=MZXW6",
                "otpauth: must start with otpauth://",
            ),
            (
                "otpauth://totp?secret=MZXW6",
                "otpauth label: the account name is empty",
            ),
            (
                "otpauth://totp/Issuer:%20?secret=MZXW6",
                "otpauth label: the account name is empty",
            ),
            (
                "otpauth://totp/a%ZZ?secret=MZXW6",
                "otpauth label: % must be followed by two hex digits",
            ),
            (
                "otpauth://totp/a%FF?secret=MZXW6",
                "otpauth label: not valid UTF-8 once percent-decoded",
            ),
            (
                "otpauth://totp/a%0Ab?secret=MZXW6",
                "otpauth account: control characters are not allowed",
            ),
            (
                "otpauth://totp/a?secret=MZXW6&issuer=%07",
                "otpauth issuer: control characters are not allowed",
            ),
            (
                "otpauth://totp/a?secret=MZXW6#x",
                "otpauth: a fragment (#…) is not allowed; write # as %23",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text}");
        }
        assert_eq!(
            err(&format!("otpauth://totp/{long}?secret=MZXW6")),
            "otpauth account: longer than 256 characters"
        );
        assert_eq!(
            err(&format!("otpauth://totp/{long}:a?secret=MZXW6")),
            "otpauth issuer: longer than 256 characters"
        );
        let big = format!("otpauth://totp/a?secret={}", "A".repeat(MAX_PAYLOAD_BYTES));
        assert_eq!(parse(&big), Err(PayloadError::TooLarge(big.len())));
    }

    #[test]
    fn errors_never_show_the_secret() {
        for text in [
            "otpauth://totp/a?secret=SECRETSECRET1",
            "otpauth://totp/a?secret=SECRET%ZZ",
            "otpauth://totp/a?secret=SECRET%FF",
        ] {
            let e = err(text);
            assert!(!e.to_lowercase().contains("secretsecret"), "{e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
        let a = parse(GOOGLE).unwrap();
        assert!(!format!("{a:?}").contains("JBSW"));
    }
}
