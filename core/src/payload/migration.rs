//! `otpauth-migration://offline?data=…`: Google Authenticator's export, one
//! or more accounts in a base64 protobuf. A large export is split into a
//! batch of images; each one is parsed on its own and says where it stands
//! in the batch.
//!
//! - `data` is standard base64 (URL-safe `-` and `_` also accepted), usually
//!   percent-encoded, with or without `=` padding.
//! - Unspecified algorithm means SHA1, unspecified digits 6, unspecified
//!   type TOTP; the period is always 30 s (the format has no field for it).
//! - A name `Issuer:account` is split as in [`super::otpauth`] and the
//!   `issuer` field wins over the prefix.
//! - The HOTP counter is an `int64` on the wire: it is carried bit for bit,
//!   so every `u64` round-trips.

use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use prost::Message;
use zeroize::{Zeroize, Zeroizing};

use super::PayloadError;
use super::error::{check_size, shown};
use super::otpauth::{OtpAuthAccount, label_parts, params_error, split_names};
use super::uri::{decode_component, push_encoded, query_pairs, refuse_fragment, strip_scheme};
use crate::otp::{Algorithm, OtpKind, OtpParams};
use crate::secret::SecretBytes;

/// The "field" errors about this format name.
const FORM: &str = "otpauth-migration";
const SCHEME: &str = "otpauth-migration";
const HOST: &str = "offline";
/// The only period the format knows.
const PERIOD: u32 = 30;

/// A Google Authenticator export: its accounts and its place in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationBatch {
    /// The accounts, in the order of the export; never empty when parsed.
    pub accounts: Vec<OtpAuthAccount>,
    /// Format version (Google writes 1).
    pub version: i32,
    /// How many images the export was split into.
    pub batch_size: i32,
    /// This image's place in the batch, from 0.
    pub batch_index: i32,
    /// Identifies the export the images belong to.
    pub batch_id: i32,
}

/// The protobuf of the export (Google Authenticator's `MigrationPayload`).
#[derive(Clone, PartialEq, Message)]
struct MigrationPayload {
    #[prost(message, repeated, tag = "1")]
    otp_parameters: Vec<OtpParameters>,
    #[prost(int32, tag = "2")]
    version: i32,
    #[prost(int32, tag = "3")]
    batch_size: i32,
    #[prost(int32, tag = "4")]
    batch_index: i32,
    #[prost(int32, tag = "5")]
    batch_id: i32,
}

/// One account in the export. The secret is zeroized on drop and `Debug`
/// does not show it.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
struct OtpParameters {
    #[prost(bytes = "vec", tag = "1")]
    secret: Vec<u8>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    issuer: String,
    /// [`Algorithm`] number: 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5.
    #[prost(int32, tag = "4")]
    algorithm: i32,
    /// 0 unspecified, 1 six, 2 eight.
    #[prost(int32, tag = "5")]
    digits: i32,
    /// 0 unspecified, 1 HOTP, 2 TOTP.
    #[prost(int32, tag = "6")]
    kind: i32,
    #[prost(int64, tag = "7")]
    counter: i64,
}

impl Drop for OtpParameters {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl std::fmt::Debug for OtpParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpParameters")
            .field(
                "secret",
                &format_args!("<{} bytes redacted>", self.secret.len()),
            )
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Wire numbers of the enums in [`OtpParameters`].
mod wire {
    pub const ALGORITHM_UNSPECIFIED: i32 = 0;
    pub const ALGORITHM_SHA1: i32 = 1;
    pub const ALGORITHM_SHA256: i32 = 2;
    pub const ALGORITHM_SHA512: i32 = 3;
    pub const ALGORITHM_MD5: i32 = 4;
    pub const DIGITS_UNSPECIFIED: i32 = 0;
    pub const DIGITS_SIX: i32 = 1;
    pub const DIGITS_EIGHT: i32 = 2;
    pub const TYPE_UNSPECIFIED: i32 = 0;
    pub const TYPE_HOTP: i32 = 1;
    pub const TYPE_TOTP: i32 = 2;
}

/// Standard base64 that takes padding or not; the writer pads.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Parses an `otpauth-migration://offline?data=…` URI.
pub fn parse(text: &str) -> Result<MigrationBatch, PayloadError> {
    check_size(text)?;
    let rest = strip_scheme(text.trim(), SCHEME)
        .and_then(|rest| rest.strip_prefix("//"))
        .ok_or_else(|| PayloadError::invalid(FORM, "must start with otpauth-migration://"))?;
    refuse_fragment(FORM, rest)?;
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !host.eq_ignore_ascii_case(HOST) {
        return Err(PayloadError::invalid(
            FORM,
            format!(
                "expected otpauth-migration://offline?data=…, got {}",
                shown(host)
            ),
        ));
    }
    let payload = MigrationPayload::decode(&decode_data(query)?[..]).map_err(|e| {
        PayloadError::invalid(
            FORM,
            format!("data is not a Google Authenticator export ({e})"),
        )
    })?;
    if payload.otp_parameters.is_empty() {
        return Err(PayloadError::invalid(FORM, "the export holds no accounts"));
    }
    let accounts = payload
        .otp_parameters
        .iter()
        .enumerate()
        .map(|(i, p)| account(i + 1, p))
        .collect::<Result<_, _>>()?;
    Ok(MigrationBatch {
        accounts,
        version: payload.version,
        batch_size: payload.batch_size,
        batch_index: payload.batch_index,
        batch_id: payload.batch_id,
    })
}

/// Writes a batch as an `otpauth-migration://` URI. Refuses what the format
/// cannot hold: no accounts, digits other than 6 or 8, a period other than 30 s.
pub fn write(batch: &MigrationBatch) -> Result<String, PayloadError> {
    if batch.accounts.is_empty() {
        return Err(PayloadError::invalid(FORM, "the export holds no accounts"));
    }
    let payload = MigrationPayload {
        otp_parameters: batch
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| to_wire(i + 1, a))
            .collect::<Result<_, _>>()?,
        version: batch.version,
        batch_size: batch.batch_size,
        batch_index: batch.batch_index,
        batch_id: batch.batch_id,
    };
    let bytes = Zeroizing::new(payload.encode_to_vec());
    let data = Zeroizing::new(BASE64.encode(&bytes[..]));
    let mut out = format!("{SCHEME}://{HOST}?data=");
    push_encoded(&mut out, &data);
    Ok(out)
}

/// The decoded `data` parameter; other parameters are ignored.
fn decode_data(query: &str) -> Result<Zeroizing<Vec<u8>>, PayloadError> {
    let mut data = None;
    for (name, raw) in query_pairs(query) {
        if name.eq_ignore_ascii_case("data") {
            if data.is_some() {
                return Err(PayloadError::Duplicate(format!("{FORM} data")));
            }
            data = Some(decode_component("otpauth-migration data", raw)?);
        }
    }
    let data = data.ok_or(PayloadError::Missing("otpauth-migration data"))?;
    let mut standard = Zeroizing::new(data.as_bytes().to_vec());
    for b in standard.iter_mut() {
        *b = match *b {
            b'-' => b'+',
            b'_' => b'/',
            b => b,
        };
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(standard.len()));
    BASE64
        .decode_vec(&standard[..], &mut bytes)
        .map_err(|_| PayloadError::invalid(FORM, "data is not base64"))?;
    Ok(bytes)
}

/// The name errors about account `n` (from 1) use: its number and name.
fn account_field(n: usize, name: &str) -> String {
    format!("{FORM} account {n} ({})", shown(name))
}

/// Converts account `n` (from 1) of the export.
fn account(n: usize, p: &OtpParameters) -> Result<OtpAuthAccount, PayloadError> {
    let field = account_field(n, &p.name);
    if p.secret.is_empty() {
        return Err(PayloadError::invalid(field, "secret is empty"));
    }
    let algorithm = match p.algorithm {
        wire::ALGORITHM_UNSPECIFIED | wire::ALGORITHM_SHA1 => Algorithm::Sha1,
        wire::ALGORITHM_SHA256 => Algorithm::Sha256,
        wire::ALGORITHM_SHA512 => Algorithm::Sha512,
        wire::ALGORITHM_MD5 => {
            return Err(PayloadError::invalid(
                field,
                "algorithm MD5 is not supported",
            ));
        }
        other => {
            return Err(PayloadError::invalid(
                field,
                format!("algorithm {other} is unknown"),
            ));
        }
    };
    let digits = match p.digits {
        wire::DIGITS_UNSPECIFIED | wire::DIGITS_SIX => 6,
        wire::DIGITS_EIGHT => 8,
        other => {
            return Err(PayloadError::invalid(
                field,
                format!("digit count {other} is unknown"),
            ));
        }
    };
    let kind = match p.kind {
        wire::TYPE_UNSPECIFIED | wire::TYPE_TOTP => OtpKind::Totp { period: PERIOD },
        // Carried bit for bit: see the module documentation.
        wire::TYPE_HOTP => OtpKind::Hotp {
            counter: p.counter as u64,
        },
        other => {
            return Err(PayloadError::invalid(
                field,
                format!("type {other} is unknown"),
            ));
        }
    };
    let params = OtpParams::new(kind, algorithm, digits).map_err(|e| params_error(&field, e))?;
    let issuer = Some(p.issuer.as_str()).filter(|s| !s.is_empty());
    let (issuer, account) = split_names(&field, issuer, &p.name)?;
    Ok(OtpAuthAccount {
        issuer,
        account,
        secret: SecretBytes::from(&p.secret[..]),
        params,
        pin: None,
    })
}

/// Converts account `n` (from 1) for the export.
fn to_wire(n: usize, a: &OtpAuthAccount) -> Result<OtpParameters, PayloadError> {
    let (prefix, account) = label_parts(a.issuer.as_deref(), &a.account);
    let name = match prefix {
        Some(prefix) => format!("{prefix}:{account}"),
        None => account.to_owned(),
    };
    let field = || account_field(n, &name);
    let params = a.params;
    let algorithm = match params.algorithm() {
        Algorithm::Sha1 => wire::ALGORITHM_SHA1,
        Algorithm::Sha256 => wire::ALGORITHM_SHA256,
        Algorithm::Sha512 => wire::ALGORITHM_SHA512,
    };
    let digits = match params.digits() {
        6 => wire::DIGITS_SIX,
        8 => wire::DIGITS_EIGHT,
        d => {
            return Err(PayloadError::invalid(
                field(),
                format!("{d} digits cannot be exported (6 or 8 only)"),
            ));
        }
    };
    let (kind, counter) = match params.kind() {
        OtpKind::Totp { period: PERIOD } => (wire::TYPE_TOTP, 0),
        OtpKind::Totp { period } => {
            return Err(PayloadError::invalid(
                field(),
                format!("a {period} s period cannot be exported (30 s only)"),
            ));
        }
        // Carried bit for bit: see the module documentation.
        OtpKind::Hotp { counter } => (wire::TYPE_HOTP, counter as i64),
    };
    Ok(OtpParameters {
        secret: a.secret.expose().to_vec(),
        name,
        issuer: a.issuer.clone().unwrap_or_default(),
        algorithm,
        digits,
        kind,
        counter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::MAX_PAYLOAD_BYTES;

    fn account(
        issuer: Option<&str>,
        name: &str,
        secret: &[u8],
        params: OtpParams,
    ) -> OtpAuthAccount {
        OtpAuthAccount {
            issuer: issuer.map(str::to_owned),
            account: name.to_owned(),
            secret: SecretBytes::from(secret),
            params,
            pin: None,
        }
    }

    fn sample() -> MigrationBatch {
        MigrationBatch {
            accounts: vec![
                account(
                    Some("Example"),
                    "alice@google.com",
                    b"Hello!\xde\xad\xbe\xef",
                    OtpParams::default_totp(),
                ),
                account(
                    None,
                    "bob",
                    b"12345678901234567890",
                    OtpParams::new(OtpKind::Hotp { counter: 7 }, Algorithm::Sha512, 8).unwrap(),
                ),
            ],
            version: 1,
            batch_size: 2,
            batch_index: 1,
            batch_id: -123_456,
        }
    }

    /// Encodes raw protobuf accounts the way Google Authenticator does.
    fn uri_of(parameters: Vec<OtpParameters>) -> String {
        let payload = MigrationPayload {
            otp_parameters: parameters,
            version: 1,
            batch_size: 1,
            batch_index: 0,
            batch_id: 99,
        };
        let data = BASE64.encode(payload.encode_to_vec());
        let mut out = "otpauth-migration://offline?data=".to_owned();
        push_encoded(&mut out, &data);
        out
    }

    fn wire_account(name: &str, issuer: &str) -> OtpParameters {
        OtpParameters {
            secret: b"Hello!\xde\xad\xbe\xef".to_vec(),
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            algorithm: 0,
            digits: 0,
            kind: 0,
            counter: 0,
        }
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn round_trips_a_batch_of_several_accounts() {
        let batch = sample();
        let text = write(&batch).unwrap();
        assert!(
            text.starts_with("otpauth-migration://offline?data="),
            "{text}"
        );
        assert!(!text["otpauth-migration://offline?data=".len()..].contains(['+', '/', '=']));
        assert_eq!(parse(&text).unwrap(), batch);
    }

    #[test]
    fn google_style_export_with_unspecified_fields() {
        let text = uri_of(vec![
            wire_account("Example:alice@google.com", ""),
            wire_account("alice@google.com", "Example"),
            wire_account("Old: alice@google.com", "Example"),
        ]);
        let batch = parse(&text).unwrap();
        assert_eq!(
            (
                batch.version,
                batch.batch_size,
                batch.batch_index,
                batch.batch_id
            ),
            (1, 1, 0, 99)
        );
        assert_eq!(batch.accounts.len(), 3);
        for a in &batch.accounts {
            assert_eq!(a.issuer.as_deref(), Some("Example"));
            assert_eq!(a.account, "alice@google.com");
            assert_eq!(a.secret.expose(), b"Hello!\xde\xad\xbe\xef");
            assert_eq!(a.params, OtpParams::default_totp());
        }
        // The same account as an otpauth URI parses to the same thing.
        let google =
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
        assert_eq!(
            super::super::otpauth::parse(google).unwrap(),
            batch.accounts[0]
        );
    }

    #[test]
    fn data_encodings_accepted() {
        let payload = MigrationPayload {
            otp_parameters: vec![wire_account("a", "")],
            ..Default::default()
        };
        let bytes = payload.encode_to_vec();
        let padded = BASE64.encode(&bytes);
        let unpadded = padded.trim_end_matches('=');
        let url_safe = padded.replace('+', "-").replace('/', "_");
        for data in [padded.as_str(), unpadded, &url_safe] {
            let batch = parse(&format!("OTPAUTH-MIGRATION://Offline?data={data}&x=1")).unwrap();
            assert_eq!(batch.accounts[0].account, "a", "{data}");
        }
    }

    #[test]
    fn account_errors_name_the_account() {
        let mut md5 = wire_account("Example:alice", "");
        md5.algorithm = wire::ALGORITHM_MD5;
        let mut digits = wire_account("b", "");
        digits.digits = 3;
        let mut kind = wire_account("c", "");
        kind.kind = 9;
        let mut algorithm = wire_account("d", "");
        algorithm.algorithm = -1;
        let mut empty = wire_account("e", "");
        empty.secret.clear();
        let mut control = wire_account("f\u{1b}", "");
        control.secret = vec![1];
        let cases = [
            (
                vec![wire_account("ok", ""), md5],
                "otpauth-migration account 2 (\"Example:alice\"): algorithm MD5 is not supported",
            ),
            (
                vec![digits],
                "otpauth-migration account 1 (\"b\"): digit count 3 is unknown",
            ),
            (
                vec![kind],
                "otpauth-migration account 1 (\"c\"): type 9 is unknown",
            ),
            (
                vec![algorithm],
                "otpauth-migration account 1 (\"d\"): algorithm -1 is unknown",
            ),
            (
                vec![empty],
                "otpauth-migration account 1 (\"e\"): secret is empty",
            ),
            (
                vec![control],
                "otpauth-migration account 1 (\"f\\u{1b}\") account: control characters are not allowed",
            ),
            (
                vec![wire_account("", "Issuer")],
                "otpauth-migration account 1 (\"\") label: the account name is empty",
            ),
            (vec![], "otpauth-migration: the export holds no accounts"),
        ];
        for (accounts, want) in cases {
            assert_eq!(err(&uri_of(accounts)), want);
        }
    }

    #[test]
    fn format_errors() {
        let cases = [
            (
                "otpauth-migration://offline",
                "otpauth-migration data: required field is missing",
            ),
            (
                "otpauth-migration://offline?data=AA&data=AA",
                "otpauth-migration data: given more than once",
            ),
            (
                "otpauth-migration://offline?data=%%",
                "otpauth-migration data: % must be followed by two hex digits",
            ),
            (
                "otpauth-migration://offline?data=A",
                "otpauth-migration: data is not base64",
            ),
            (
                "otpauth-migration://offline?data=!!!!",
                "otpauth-migration: data is not base64",
            ),
            (
                "otpauth-migration://online?data=AA",
                "otpauth-migration: expected otpauth-migration://offline?data=…, got \"online\"",
            ),
            (
                "otpauth-migration:offline?data=AA",
                "otpauth-migration: must start with otpauth-migration://",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text}");
        }
        // 0xff: a field with wire type 7, which protobuf does not have.
        let e = err("otpauth-migration://offline?data=%2F%2F%2F%2F");
        assert!(
            e.starts_with("otpauth-migration: data is not a Google Authenticator export ("),
            "{e}"
        );
        let big = format!(
            "otpauth-migration://offline?data={}",
            "A".repeat(MAX_PAYLOAD_BYTES)
        );
        assert_eq!(parse(&big), Err(PayloadError::TooLarge(big.len())));
    }

    #[test]
    fn write_refuses_what_the_format_cannot_hold() {
        let mut batch = sample();
        batch.accounts[1].params =
            OtpParams::new(OtpKind::Hotp { counter: 0 }, Algorithm::Sha1, 7).unwrap();
        assert_eq!(
            write(&batch).unwrap_err().to_string(),
            "otpauth-migration account 2 (\"bob\"): 7 digits cannot be exported (6 or 8 only)"
        );
        batch.accounts[1].params =
            OtpParams::new(OtpKind::Totp { period: 60 }, Algorithm::Sha1, 6).unwrap();
        assert_eq!(
            write(&batch).unwrap_err().to_string(),
            "otpauth-migration account 2 (\"bob\"): a 60 s period cannot be exported (30 s only)"
        );
        batch.accounts.clear();
        assert_eq!(
            write(&batch).unwrap_err().to_string(),
            "otpauth-migration: the export holds no accounts"
        );
    }

    #[test]
    fn large_counters_round_trip() {
        let mut batch = sample();
        batch.accounts[1].params = batch.accounts[1].params.with_counter(u64::MAX);
        assert_eq!(parse(&write(&batch).unwrap()).unwrap(), batch);
    }

    #[test]
    fn debug_hides_secrets() {
        let p = wire_account("a", "");
        assert!(!format!("{p:?}").contains("72"), "{p:?}");
        assert!(format!("{p:?}").contains("<10 bytes redacted>"));
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("Hello"), "{shown}");
    }
}
