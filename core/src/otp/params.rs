//! Code parameters of an account and the `OTP` field of PROTOCOL.md §2/§6
//! (`TYPE:ALG:DIGITS[:PERIOD]`). Every payload format converts into these.

use std::fmt;
use std::str::FromStr;

use super::{Algorithm, Code, hotp, motp, steam, totp, yandex};

/// Time-based or counter-based codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtpKind {
    /// RFC 6238, a code per `period` seconds.
    Totp { period: u32 },
    /// RFC 4226; `counter` is the next counter value to use.
    Hotp { counter: u64 },
}

/// How a code's value is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `digits` decimal digits (RFC 4226).
    #[default]
    Decimal,
    /// Steam Guard: five characters of Steam's 26-letter alphabet, from
    /// the same 31 bits (TOTP, SHA1, 30 s).
    Steam,
    /// Mobile-OTP: the first 6 hex digits of MD5(time step ‖ secret in hex
    /// ‖ PIN), every 10 s ([`super::motp`]); the PIN is the account's.
    Motp,
    /// Yandex Key: 8 letters from HMAC-SHA256 under SHA-256(PIN ‖ secret),
    /// every 30 s ([`super::yandex`]); the PIN is the account's.
    Yandex,
}

/// How an account's codes are computed. Construct with [`OtpParams::new`],
/// which enforces the ranges of PROTOCOL.md §6, or [`OtpParams::steam`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OtpParams {
    kind: OtpKind,
    algorithm: Algorithm,
    digits: u32,
    encoding: Encoding,
}

/// Why code parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("OTP: digits must be 6 to 8 for TOTP (6 to 10 for HOTP), got {0}")]
    Digits(u32),
    #[error("OTP: period must be 10 to 300 seconds, got {0}")]
    Period(u32),
    #[error("OTP: type must be totp or hotp, got {0:?}")]
    Type(String),
    #[error("OTP: algorithm must be SHA1, SHA256 or SHA512, got {0:?}")]
    Algorithm(String),
    #[error("OTP: {0:?} is not a number")]
    NotANumber(String),
    #[error("OTP: expected TYPE:ALG:DIGITS[:PERIOD] (e.g. totp:SHA1:6:30), got {0:?}")]
    Shape(String),
    #[error("OTP: Steam Guard codes are SHA1, 5 characters, every 30 seconds; got {0:?}")]
    Steam(String),
}

pub const PERIOD_RANGE: std::ops::RangeInclusive<u32> = 10..=300;

impl OtpParams {
    pub fn new(kind: OtpKind, algorithm: Algorithm, digits: u32) -> Result<Self, ParamsError> {
        let max_digits = match kind {
            OtpKind::Totp { period } => {
                if !PERIOD_RANGE.contains(&period) {
                    return Err(ParamsError::Period(period));
                }
                8
            }
            OtpKind::Hotp { .. } => 10,
        };
        if !(6..=max_digits).contains(&digits) {
            return Err(ParamsError::Digits(digits));
        }
        Ok(Self {
            kind,
            algorithm,
            digits,
            encoding: Encoding::Decimal,
        })
    }

    /// `totp:SHA1:6:30`, the protocol default.
    pub fn default_totp() -> Self {
        Self {
            kind: OtpKind::Totp { period: 30 },
            algorithm: Algorithm::Sha1,
            digits: 6,
            encoding: Encoding::Decimal,
        }
    }

    /// Steam Guard's: TOTP, SHA1, 30 s, shown as 5 characters
    /// ([`super::steam`]). Not a PROTOCOL.md form: only `otpauth://steam/`
    /// and the peer apps' files carry it.
    pub fn steam() -> Self {
        Self {
            kind: OtpKind::Totp { period: 30 },
            algorithm: Algorithm::Sha1,
            digits: 5,
            encoding: Encoding::Steam,
        }
    }

    /// Mobile-OTP's: every 10 s, 6 hex digits of an MD5 ([`super::motp`];
    /// the algorithm field is unused). Not a PROTOCOL.md form: only the
    /// peer apps' files carry it, with the account's PIN.
    pub fn motp() -> Self {
        Self {
            kind: OtpKind::Totp { period: 10 },
            algorithm: Algorithm::Sha1,
            digits: 6,
            encoding: Encoding::Motp,
        }
    }

    /// Yandex Key's: every 30 s, 8 letters ([`super::yandex`]). Not a
    /// PROTOCOL.md form: only the peer apps' files carry it, with the PIN.
    pub fn yandex() -> Self {
        Self {
            kind: OtpKind::Totp { period: 30 },
            algorithm: Algorithm::Sha256,
            digits: 8,
            encoding: Encoding::Yandex,
        }
    }

    /// Whether the codes hash the account's PIN (mOTP, Yandex Key).
    pub fn needs_pin(&self) -> bool {
        matches!(self.encoding, Encoding::Motp | Encoding::Yandex)
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub fn kind(&self) -> OtpKind {
        self.kind
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// The same parameters with another HOTP counter (no-op for TOTP).
    pub fn with_counter(mut self, counter: u64) -> Self {
        if let OtpKind::Hotp { .. } = self.kind {
            self.kind = OtpKind::Hotp { counter };
        }
        self
    }

    /// The current code: at `unix_time` for TOTP, at the stored counter for
    /// HOTP. An mOTP account's code needs its PIN: [`Self::code_with_pin`].
    pub fn code(&self, key: &[u8], unix_time: u64) -> Code {
        self.code_with_pin(key, None, unix_time)
    }

    /// [`Self::code`] with the account's mOTP PIN (unused by the other
    /// kinds; an mOTP account without one hashes an empty PIN).
    pub fn code_with_pin(&self, key: &[u8], pin: Option<&str>, unix_time: u64) -> Code {
        match (self.kind, self.encoding) {
            (OtpKind::Totp { .. }, Encoding::Motp) => motp(key, pin.unwrap_or(""), unix_time),
            (OtpKind::Totp { .. }, Encoding::Yandex) => yandex(key, pin.unwrap_or(""), unix_time),
            (OtpKind::Totp { .. }, Encoding::Steam) => steam(key, unix_time),
            (OtpKind::Totp { period }, _) => {
                totp(key, self.algorithm, unix_time, period, self.digits)
            }
            (OtpKind::Hotp { counter }, _) => hotp(key, self.algorithm, counter, self.digits),
        }
    }
}

impl Default for OtpParams {
    fn default() -> Self {
        Self::default_totp()
    }
}

/// Writes the `OTP` field form; an HOTP counter is account state, not part of it.
impl fmt::Display for OtpParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            OtpKind::Totp { .. } if self.encoding == Encoding::Steam => f.write_str("steam:SHA1:5"),
            OtpKind::Totp { .. } if self.encoding == Encoding::Motp => f.write_str("motp:MD5:6:10"),
            OtpKind::Totp { .. } if self.encoding == Encoding::Yandex => {
                f.write_str("yandex:SHA256:8:30")
            }
            OtpKind::Totp { period } => {
                write!(f, "totp:{}:{}:{}", self.algorithm, self.digits, period)
            }
            OtpKind::Hotp { .. } => write!(f, "hotp:{}:{}", self.algorithm, self.digits),
        }
    }
}

/// Parses the `OTP` field: `totp:ALG:DIGITS:PERIOD`, `totp:ALG:DIGITS` (30 s)
/// or `hotp:ALG:DIGITS` (counter 0); and `steam:SHA1:5`, `motp:MD5:6:10`
/// and `yandex:SHA256:8:30`, the vault's forms of Steam Guard, Mobile-OTP
/// and Yandex Key accounts (a Tessera payload refuses them,
/// `payload::tessera`).
impl FromStr for OtpParams {
    type Err = ParamsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("steam:") {
            return match rest {
                "SHA1:5" | "SHA1:5:30" => Ok(Self::steam()),
                _ => Err(ParamsError::Steam(s.to_owned())),
            };
        }
        if let Some(rest) = s.strip_prefix("motp:") {
            return match rest {
                "MD5:6" | "MD5:6:10" => Ok(Self::motp()),
                _ => Err(ParamsError::Type("motp".into())),
            };
        }
        if let Some(rest) = s.strip_prefix("yandex:") {
            return match rest {
                "SHA256:8" | "SHA256:8:30" => Ok(Self::yandex()),
                _ => Err(ParamsError::Type("yandex".into())),
            };
        }
        let parts: Vec<&str> = s.split(':').collect();
        if !(3..=4).contains(&parts.len()) {
            return Err(ParamsError::Shape(s.to_owned()));
        }
        let number = |p: &str| {
            p.parse::<u32>()
                .map_err(|_| ParamsError::NotANumber(p.to_owned()))
        };
        let algorithm = Algorithm::from_name(parts[1])
            .filter(|a| a.name() == parts[1])
            .ok_or_else(|| ParamsError::Algorithm(parts[1].to_owned()))?;
        let digits = number(parts[2])?;
        let kind = match (parts[0], parts.get(3)) {
            ("totp", Some(p)) => OtpKind::Totp { period: number(p)? },
            ("totp", None) => OtpKind::Totp { period: 30 },
            ("hotp", None) => OtpKind::Hotp { counter: 0 },
            ("hotp", Some(_)) => return Err(ParamsError::Shape(s.to_owned())),
            (other, _) => return Err(ParamsError::Type(other.to_owned())),
        };
        Self::new(kind, algorithm, digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_the_otp_field() {
        for text in [
            "totp:SHA1:6:30",
            "totp:SHA256:8:60",
            "hotp:SHA512:10",
            "totp:SHA1:7:10",
        ] {
            let p: OtpParams = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
        assert_eq!(
            "totp:SHA1:6".parse::<OtpParams>().unwrap(),
            OtpParams::default()
        );
    }

    #[test]
    fn the_steam_form_round_trips_and_is_exact() {
        let p: OtpParams = "steam:SHA1:5".parse().unwrap();
        assert_eq!(p, OtpParams::steam());
        assert_eq!(p.to_string(), "steam:SHA1:5");
        assert_eq!(p.kind(), OtpKind::Totp { period: 30 });
        assert_ne!(
            p,
            OtpParams::new(OtpKind::Totp { period: 30 }, Algorithm::Sha1, 6).unwrap()
        );
        for bad in ["steam:SHA1:6", "steam:SHA256:5", "steam"] {
            assert!(bad.parse::<OtpParams>().is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_out_of_range_and_malformed_fields() {
        let cases = [
            ("totp:SHA1:5:30", ParamsError::Digits(5)),
            ("totp:SHA1:9:30", ParamsError::Digits(9)),
            ("hotp:SHA1:11", ParamsError::Digits(11)),
            ("totp:SHA1:6:9", ParamsError::Period(9)),
            ("totp:SHA1:6:301", ParamsError::Period(301)),
            ("motp:SHA1:6", ParamsError::Type("motp".into())),
            ("totp:MD5:6", ParamsError::Algorithm("MD5".into())),
            ("totp:sha1:6", ParamsError::Algorithm("sha1".into())),
            ("totp:SHA1:six", ParamsError::NotANumber("six".into())),
            ("totp", ParamsError::Shape("totp".into())),
            (
                "hotp:SHA1:6:30",
                ParamsError::Shape("hotp:SHA1:6:30".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<OtpParams>(), Err(want), "{text}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = "totp:SHA1:6:1".parse::<OtpParams>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "OTP: period must be 10 to 300 seconds, got 1"
        );
    }
}
