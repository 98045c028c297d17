//! The Tessera activation payload (PROTOCOL.md §2), independent of the form
//! (tag or URI) it was written in.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::activation::{ActivationCode, Challenge, Serial};
use crate::otp::OtpParams;

use super::PayloadError;
use super::error::shown;

/// The two text forms of PROTOCOL.md §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Form {
    /// `<QRCode><SN>…</SN>…</QRCode>`
    #[default]
    Tag,
    /// `tessera://activate?sn=…`
    Uri,
}

/// Longest value of `USERID`, `ISS` and `LBL`, in characters.
pub const MAX_TEXT_CHARS: usize = 64;

/// The `OTP` field: its parameters and the text it was written as (the
/// signature of §7 covers the text as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpField {
    text: String,
    params: OtpParams,
}

impl OtpField {
    pub fn parse(text: &str) -> Result<Self, PayloadError> {
        let params: OtpParams = text.parse()?;
        // The vault's Steam and mOTP forms are not PROTOCOL.md §6 types.
        if params.encoding() != crate::otp::Encoding::Decimal {
            let kind = text.split(':').next().unwrap_or_default();
            return Err(crate::otp::ParamsError::Type(kind.into()).into());
        }
        Ok(Self {
            params,
            text: text.to_owned(),
        })
    }

    pub fn params(&self) -> OtpParams {
        self.params
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<OtpParams> for OtpField {
    fn from(params: OtpParams) -> Self {
        Self {
            text: params.to_string(),
            params,
        }
    }
}

impl fmt::Display for OtpField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Unknown tags or parameters, kept in the order they appeared and shown to
/// clients; they never change the protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extra(Vec<(String, String)>);

impl Extra {
    pub const MAX_ENTRIES: usize = 16;
    pub const MAX_BYTES: usize = 256;

    /// Adds one unknown field, enforcing the limits of §2.
    pub fn push(&mut self, name: &str, value: &str) -> Result<(), PayloadError> {
        if name.is_empty() {
            return Err(PayloadError::invalid(
                "payload",
                "a field has an empty name",
            ));
        }
        if self.0.iter().any(|(n, _)| n == name) {
            return Err(PayloadError::Duplicate(name.to_owned()));
        }
        if self.0.len() == Self::MAX_ENTRIES {
            return Err(PayloadError::TooManyExtra(Self::MAX_ENTRIES));
        }
        if name.len() > Self::MAX_BYTES || value.len() > Self::MAX_BYTES {
            return Err(PayloadError::invalid(
                name,
                format!("unknown fields are limited to {} bytes", Self::MAX_BYTES),
            ));
        }
        self.0.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Checks a free-text field (`USERID`, `ISS`, `LBL`): at most 64 characters,
/// no control characters.
pub fn check_text(field: &str, value: &str) -> Result<(), PayloadError> {
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(PayloadError::TooLong {
            field: field.to_owned(),
            max: MAX_TEXT_CHARS,
        });
    }
    if value.chars().any(char::is_control) {
        return Err(PayloadError::ControlCharacter(field.to_owned()));
    }
    Ok(())
}

/// A Tessera activation payload. The free-text fields are checked by
/// [`check_text`] in the parsers; [`TesseraPayload::validate`] rechecks a
/// payload built in code before it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TesseraPayload {
    pub serial: Serial,
    pub activation_code: ActivationCode,
    pub user_id: Option<String>,
    pub challenge: Option<Challenge>,
    pub issuer: Option<String>,
    pub label: Option<String>,
    pub otp: Option<OtpField>,
    /// The issuer's Ed25519 signature (§7), if any.
    pub signature: Option<[u8; 64]>,
    pub extra: Extra,
}

impl TesseraPayload {
    /// A payload with only the required fields.
    pub fn new(serial: Serial, activation_code: ActivationCode) -> Self {
        Self {
            serial,
            activation_code,
            user_id: None,
            challenge: None,
            issuer: None,
            label: None,
            otp: None,
            signature: None,
            extra: Extra::default(),
        }
    }

    /// The code parameters, with the protocol default when `OTP` is absent.
    pub fn otp_params(&self) -> OtpParams {
        self.otp.as_ref().map(OtpField::params).unwrap_or_default()
    }

    /// The optional fields in the order of §7 (`USERID`, `CHALLENGE`, `ISS`,
    /// `LBL`, `OTP`), with their upper-case names, present ones only. The
    /// writers and the signature use this one list.
    pub fn optional_fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("USERID", self.user_id.as_deref()),
            ("CHALLENGE", self.challenge.as_ref().map(Challenge::as_str)),
            ("ISS", self.issuer.as_deref()),
            ("LBL", self.label.as_deref()),
            ("OTP", self.otp.as_ref().map(OtpField::as_str)),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
    }

    /// Rechecks the free-text limits (parsers already did).
    pub fn validate(&self) -> Result<(), PayloadError> {
        for (name, value) in self.optional_fields() {
            if matches!(name, "USERID" | "ISS" | "LBL") {
                check_text(name, value)?;
            }
        }
        Ok(())
    }

    /// Every field in the order both text forms write it: `SN`, `AC`, the
    /// optional fields of §7, the extra fields as they came, then `SIG`.
    /// Values are unescaped; each form escapes them its own way.
    pub(crate) fn write_fields(&self, mut emit: impl FnMut(FieldName<'_>, &str)) {
        emit(FieldName::Known("SN"), self.serial.as_str());
        emit(FieldName::Known("AC"), self.activation_code.expose());
        for (name, value) in self.optional_fields() {
            emit(FieldName::Known(name), value);
        }
        for (name, value) in self.extra.iter() {
            emit(FieldName::Extra(name), value);
        }
        if let Some(sig) = &self.signature {
            emit(FieldName::Known("SIG"), &URL_SAFE_NO_PAD.encode(sig));
        }
    }

    /// Writes the payload in `form`.
    pub fn write(&self, form: Form) -> String {
        match form {
            Form::Tag => super::tag::write(self),
            Form::Uri => super::uri::write(self),
        }
    }
}

/// The upper-case names of the fields §2 defines, as tags.
pub(crate) const FIELD_NAMES: [&str; 8] = [
    "SN",
    "AC",
    "USERID",
    "CHALLENGE",
    "ISS",
    "LBL",
    "OTP",
    "SIG",
];

/// The §2 field `name` denotes, ignoring ASCII case (the URI form writes
/// them in lower case); `None` for an extra field.
pub(crate) fn known_field(name: &str) -> Option<&'static str> {
    FIELD_NAMES
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(name))
}

/// A field's name as [`TesseraPayload::write_fields`] gives it: a §2 field
/// (upper case, each form spells it its own way) or an extra one (as given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldName<'a> {
    Known(&'static str),
    Extra(&'a str),
}

/// Bytes in an Ed25519 signature (`SIG`).
const SIGNATURE_LEN: usize = 64;

/// Builds a [`TesseraPayload`] from `NAME = value` pairs in any order: the
/// field-by-field checks of §2, shared by the tag and URI forms, which only
/// differ in how they spell and escape fields.
#[derive(Default)]
pub(crate) struct FieldCollector {
    serial: Option<Serial>,
    /// Checked in [`FieldCollector::finish`]: its check digits need `SN`,
    /// which may come later.
    code: Option<Zeroizing<String>>,
    user_id: Option<String>,
    challenge: Option<Challenge>,
    issuer: Option<String>,
    label: Option<String>,
    otp: Option<OtpField>,
    signature: Option<[u8; SIGNATURE_LEN]>,
    extra: Extra,
}

impl FieldCollector {
    /// Adds one field. `name` is upper case for the §2 fields (see
    /// [`known_field`]); any other name is kept as an extra field.
    pub(crate) fn add(&mut self, name: &str, value: &str) -> Result<(), PayloadError> {
        match name {
            "SN" => fill(&mut self.serial, "SN", || Ok(value.parse()?)),
            "AC" => fill(&mut self.code, "AC", || {
                Ok(Zeroizing::new(value.to_owned()))
            }),
            "USERID" => fill(&mut self.user_id, "USERID", || text("USERID", value)),
            "CHALLENGE" => fill(&mut self.challenge, "CHALLENGE", || Ok(value.parse()?)),
            "ISS" => fill(&mut self.issuer, "ISS", || text("ISS", value)),
            "LBL" => fill(&mut self.label, "LBL", || text("LBL", value)),
            "OTP" => fill(&mut self.otp, "OTP", || OtpField::parse(value)),
            "SIG" => fill(&mut self.signature, "SIG", || signature(value)),
            _ => {
                if name.chars().any(char::is_control) {
                    return Err(PayloadError::invalid(
                        "payload",
                        format!("field name {} has control characters", shown(name)),
                    ));
                }
                if value.chars().any(char::is_control) {
                    return Err(PayloadError::ControlCharacter(name.to_owned()));
                }
                self.extra.push(name, value)
            }
        }
    }

    /// The payload, once `SN` and `AC` are there and `AC` fits `SN`.
    pub(crate) fn finish(self) -> Result<TesseraPayload, PayloadError> {
        let serial = self.serial.ok_or(PayloadError::Missing("SN"))?;
        let code = self.code.ok_or(PayloadError::Missing("AC"))?;
        Ok(TesseraPayload {
            activation_code: ActivationCode::parse(&serial, &code)?,
            serial,
            user_id: self.user_id,
            challenge: self.challenge,
            issuer: self.issuer,
            label: self.label,
            otp: self.otp,
            signature: self.signature,
            extra: self.extra,
        })
    }
}

/// Stores a field's parsed value, refusing a second occurrence before
/// looking at its value.
fn fill<T>(
    slot: &mut Option<T>,
    name: &str,
    parse: impl FnOnce() -> Result<T, PayloadError>,
) -> Result<(), PayloadError> {
    if slot.is_some() {
        return Err(PayloadError::Duplicate(name.to_owned()));
    }
    *slot = Some(parse()?);
    Ok(())
}

/// A free-text field, checked by [`check_text`].
fn text(field: &str, value: &str) -> Result<String, PayloadError> {
    check_text(field, value)?;
    Ok(value.to_owned())
}

/// `SIG`: 64 bytes, base64url without padding.
fn signature(value: &str) -> Result<[u8; SIGNATURE_LEN], PayloadError> {
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            PayloadError::invalid(
                "SIG",
                format!("must be {SIGNATURE_LEN} bytes in base64url without padding"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::OtpField;

    /// The vault's `steam:SHA1:5` is not a PROTOCOL.md §6 type: a Tessera
    /// payload cannot ask for it.
    #[test]
    fn the_otp_field_refuses_the_steam_form() {
        assert!(OtpField::parse("totp:SHA1:6:30").is_ok());
        for vault_only in ["steam:SHA1:5", "motp:MD5:6:10"] {
            let e = OtpField::parse(vault_only).unwrap_err();
            assert!(e.to_string().contains("totp or hotp"), "{e}");
        }
    }
}
