//! One-time codes: HOTP (RFC 4226), TOTP (RFC 6238) and OCRA (RFC 6287),
//! plus the code parameters an account carries.

mod ocra;
mod params;

pub use ocra::{
    DEFAULT_SUITE as OCRA_DEFAULT_SUITE, OcraError, OcraInput, OcraPassword, OcraQuestion,
    OcraSuite, QuestionFormat,
};
pub use params::{Encoding, OtpKind, OtpParams, ParamsError};

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// The HMAC hash of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

    /// The ASCII name used on the wire (`SHA1`, `SHA256`, `SHA512`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Output length of the hash in bytes (also the instance-key length, PROTOCOL.md §4).
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// Parses `SHA1`/`SHA256`/`SHA512`, in any case (otpauth URIs vary).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// HMAC of `message` under `key` with this hash.
    pub fn hmac(self, key: &[u8], message: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[&[u8]]) -> Vec<u8> {
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .expect("HMAC accepts keys of any length");
            for part in message {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Algorithm::Sha1 => run::<Hmac<Sha1>>(key, message),
            Algorithm::Sha256 => run::<Hmac<Sha256>>(key, message),
            Algorithm::Sha512 => run::<Hmac<Sha512>>(key, message),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Dynamic truncation of RFC 4226 §5.3: 31 bits from the offset given by
/// the low nibble of the last byte.
pub fn dynamic_truncate(mac: &[u8]) -> u32 {
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff
}

/// A code as shown to the user: exactly `digits` decimal digits, leading zeros kept.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Code(String);

impl Code {
    /// `value mod 10^digits`, zero-padded. `digits` is at most 10.
    pub fn from_value(value: u64, digits: u32) -> Self {
        debug_assert!((1..=10).contains(&digits));
        let modulus = 10u64.pow(digits);
        Code(format!(
            "{:0width$}",
            value % modulus,
            width = digits as usize
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with what a user typed (spaces and hyphens ignored).
    pub fn matches(&self, typed: &str) -> bool {
        use subtle::ConstantTimeEq;
        let typed: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        self.0.as_bytes().ct_eq(typed.as_bytes()).into()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A current code is a short-lived credential: keep it out of logs.
        write!(f, "Code(<{} digits>)", self.0.len())
    }
}

/// HOTP (RFC 4226): the code for `counter`.
pub fn hotp(key: &[u8], algorithm: Algorithm, counter: u64, digits: u32) -> Code {
    let mac = algorithm.hmac(key, &[&counter.to_be_bytes()]);
    Code::from_value(u64::from(dynamic_truncate(&mac)), digits)
}

/// The TOTP time step of `unix_time` (RFC 6238 §4, T0 = 0).
pub fn totp_step(unix_time: u64, period: u32) -> u64 {
    unix_time / u64::from(period)
}

/// TOTP (RFC 6238): the code at `unix_time` seconds.
pub fn totp(key: &[u8], algorithm: Algorithm, unix_time: u64, period: u32, digits: u32) -> Code {
    hotp(key, algorithm, totp_step(unix_time, period), digits)
}

/// Steam Guard's alphabet: digits and consonants that cannot be misread.
const STEAM_ALPHABET: &[u8; 26] = b"23456789BCDFGHJKMNPQRTVWXY";

/// A Steam Guard code at `unix_time`: TOTP's 31 bits (SHA1, 30 s) written
/// as 5 characters of [`STEAM_ALPHABET`], least significant first. Steam
/// publishes no specification; this is what its app computes, checked
/// against an independent implementation's output in the tests.
pub fn steam(key: &[u8], unix_time: u64) -> Code {
    let mac = Algorithm::Sha1.hmac(key, &[&totp_step(unix_time, 30).to_be_bytes()]);
    let mut value = dynamic_truncate(&mac) as usize;
    let mut code = String::with_capacity(5);
    for _ in 0..5 {
        code.push(STEAM_ALPHABET[value % STEAM_ALPHABET.len()] as char);
        value /= STEAM_ALPHABET.len();
    }
    Code(code)
}

/// A Mobile-OTP code at `unix_time` (motp.sourceforge.net's algorithm, as
/// its reference implementations compute it): the first 6 digits of the
/// lower-case hex MD5 of the 10-second step in decimal, the secret in
/// lower-case hex, and the PIN. MD5 because the algorithm is MD5; its
/// weakness is the format's, kept for the accounts that still use it.
pub fn motp(secret: &[u8], pin: &str, unix_time: u64) -> Code {
    use md5::{Digest, Md5};
    let mut hash = Md5::new();
    hash.update(totp_step(unix_time, 10).to_string().as_bytes());
    let hex = data_encoding::HEXLOWER;
    hash.update(zeroize::Zeroizing::new(hex.encode(secret)).as_bytes());
    hash.update(pin.as_bytes());
    let digest = hash.finalize();
    Code(hex.encode(&digest[..3]))
}

/// A Yandex Key code at `unix_time`: HMAC-SHA256 of the 30-second step
/// under SHA-256(PIN ‖ secret) (without its first byte when that is zero),
/// truncated as RFC 4226 does but to 63 bits, modulo 26^8, written as 8
/// letters `a`–`z`, most significant first. `secret` is the 16-byte key
/// (a Yandex secret's first 16 bytes; the rest is its checksum).
pub fn yandex(secret: &[u8], pin: &str, unix_time: u64) -> Code {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(pin.as_bytes());
    hasher.update(secret);
    let key = zeroize::Zeroizing::new(hasher.finalize().to_vec());
    let key = if key[0] == 0 { &key[1..] } else { &key[..] };
    let mut mac = Algorithm::Sha256.hmac(key, &[&totp_step(unix_time, 30).to_be_bytes()]);
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    mac[offset] &= 0x7f;
    let bytes: [u8; 8] = mac[offset..offset + 8].try_into().expect("8 bytes");
    let mut value = u64::from_be_bytes(bytes) % 26u64.pow(8);
    let mut code = [b'a'; 8];
    for c in code.iter_mut().rev() {
        *c = b'a' + (value % 26) as u8;
        value /= 26;
    }
    Code(String::from_utf8(code.to_vec()).expect("ASCII letters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yandex Key's published vectors (as Aegis's YAOTPTest lists them):
    /// PIN, the secret in base32 (26 bytes: the key and its checksum), a
    /// time, the code.
    #[test]
    fn yandex_key_codes_match_the_published_vectors() {
        let cases = [
            (
                "5239",
                "6SB2IKNM6OBZPAVBVTOHDKS4FAAAAAAADFUTQMBTRY",
                1_641_559_648,
                "umozdicq",
            ),
            (
                "7586",
                "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI",
                1_581_064_020,
                "oactmacq",
            ),
            (
                "7586",
                "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI",
                1_581_090_810,
                "wemdwrix",
            ),
            (
                "5210481216086702",
                "JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M",
                1_581_091_469,
                "dfrpywob",
            ),
            (
                "5210481216086702",
                "JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M",
                1_581_093_059,
                "vunyprpd",
            ),
        ];
        for (pin, secret, time, want) in cases {
            let raw = data_encoding::BASE32_NOPAD
                .decode(secret.as_bytes())
                .unwrap();
            let key = &raw[..16];
            assert_eq!(yandex(key, pin, time).as_str(), want, "{time}");
            let p = OtpParams::yandex();
            assert_eq!(p.code_with_pin(key, Some(pin), time).as_str(), want);
        }
        assert_eq!(
            "yandex:SHA256:8:30".parse::<OtpParams>(),
            Ok(OtpParams::yandex())
        );
        assert_eq!(OtpParams::yandex().to_string(), "yandex:SHA256:8:30");
    }

    /// Mobile-OTP's published vectors (as Aegis's MOTPTest lists them).
    #[test]
    fn mobile_otp_codes_match_the_published_vectors() {
        let cases = [
            ("e3152afee62599c8", "1234", 165_892_298, "e7d8b6"),
            ("e3152afee62599c8", "1234", 123_456_789, "4ebfb2"),
            ("bbb1912bb5c515be", "9999", 1_659_540_020, "ced7b1"),
            ("bbb1912bb5c515be", "9999", 1_659_540_022, "ced7b1"),
            ("bbb1912bb5c515be", "9999", 1_659_539_878, "1a14f8"),
        ];
        for (secret, pin, time, want) in cases {
            let secret = hex::decode(secret).unwrap();
            assert_eq!(motp(&secret, pin, time).as_str(), want, "{time}");
        }
    }

    /// Mobile-OTP codes as Python's hashlib computes the algorithm
    /// (`md5(str(t // 10) + secret + pin).hexdigest()[:6]`), an
    /// implementation that shares nothing with ours.
    #[test]
    fn mobile_otp_codes_match_an_independent_implementation() {
        let cases = [
            ("e3152afee62599c8", "1234", 0, "2c244b"),
            ("e3152afee62599c8", "1234", 1_433_844_640, "6b741e"),
            ("e3152afee62599c8", "1234", 1_700_000_005, "ac896a"),
            ("0123456789abcdef", "0000", 1_234_567_890, "93bc6a"),
            ("0123456789abcdef", "987654", 2_000_000_000, "4c30a1"),
        ];
        for (secret, pin, time, want) in cases {
            let secret = hex::decode(secret).unwrap();
            assert_eq!(motp(&secret, pin, time).as_str(), want, "{time}");
            let params = OtpParams::motp();
            assert_eq!(
                params.code_with_pin(&secret, Some(pin), time).as_str(),
                want
            );
        }
        assert_eq!("motp:MD5:6:10".parse::<OtpParams>(), Ok(OtpParams::motp()));
        assert_eq!(OtpParams::motp().to_string(), "motp:MD5:6:10");
    }

    /// Steam Guard codes as the npm package `steam-totp` 2.1.2 (an
    /// independent implementation: `generateAuthCode(base64 secret)` with
    /// `Date.now` set to each time) computes them, for three secrets at six
    /// times.
    #[test]
    fn steam_guard_codes_match_an_independent_implementation() {
        let cases: [(&str, [&str; 6]); 3] = [
            (
                "3132333435363738393031323334353637383930",
                ["GG5F5", "PV9M4", "PY4YB", "VHHQY", "9N776", "R5DMB"],
            ),
            (
                "2a36d1f453a035adce8ba29ce8e511e9c273d992",
                ["JC4WR", "W66D4", "X6GQ4", "32V4H", "CPG6N", "BKC8Q"],
            ),
            (
                "48656c6c6f21deadbeef",
                ["VH8YJ", "2YXGV", "CWDGV", "K8G5W", "HNCVQ", "M9WG3"],
            ),
        ];
        let times = [
            0,
            59,
            1_111_111_109,
            1_234_567_890,
            2_000_000_000,
            20_000_000_000,
        ];
        for (key, codes) in cases {
            let key = hex::decode(key).unwrap();
            for (time, want) in times.iter().zip(codes) {
                assert_eq!(steam(&key, *time).as_str(), want, "{time}");
                assert_eq!(OtpParams::steam().code(&key, *time).as_str(), want);
            }
        }
    }

    /// RFC 4226 Appendix D.
    #[test]
    fn rfc4226_vectors() {
        let key = b"12345678901234567890";
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(
                hotp(key, Algorithm::Sha1, counter as u64, 6).as_str(),
                *want
            );
        }
    }

    /// RFC 4226 Appendix D, the truncated decimal values, checked with 10 digits.
    #[test]
    fn rfc4226_truncated_values_with_ten_digits() {
        let key = b"12345678901234567890";
        let values: [u64; 3] = [1284755224, 1094287082, 137359152];
        for (counter, v) in values.iter().enumerate() {
            let want = format!("{v:010}");
            assert_eq!(
                hotp(key, Algorithm::Sha1, counter as u64, 10).as_str(),
                want
            );
        }
    }

    /// RFC 6238 Appendix B (8 digits, 30 s, the seeds of the reference code).
    #[test]
    fn rfc6238_vectors() {
        let sha1 = b"12345678901234567890".as_slice();
        let sha256 = b"12345678901234567890123456789012".as_slice();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".as_slice();
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, s1, s256, s512) in table {
            assert_eq!(
                totp(sha1, Algorithm::Sha1, t, 30, 8).as_str(),
                s1,
                "SHA1 t={t}"
            );
            assert_eq!(
                totp(sha256, Algorithm::Sha256, t, 30, 8).as_str(),
                s256,
                "SHA256 t={t}"
            );
            assert_eq!(
                totp(sha512, Algorithm::Sha512, t, 30, 8).as_str(),
                s512,
                "SHA512 t={t}"
            );
        }
    }

    #[test]
    fn period_changes_the_step() {
        let key = b"12345678901234567890";
        // t=59 with a 60 s period is step 0, the RFC 4226 counter-0 value.
        assert_eq!(totp(key, Algorithm::Sha1, 59, 60, 6).as_str(), "755224");
        assert_eq!(totp(key, Algorithm::Sha1, 60, 60, 6).as_str(), "287082");
    }

    #[test]
    fn algorithm_names_round_trip_in_any_case() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
            assert_eq!(Algorithm::from_name(&a.name().to_lowercase()), Some(a));
        }
        assert_eq!(Algorithm::from_name("MD5"), None);
    }

    #[test]
    fn code_matching_ignores_separators_only() {
        let c = Code::from_value(12345678, 8);
        assert!(c.matches("1234-5678"));
        assert!(c.matches("1234 5678"));
        assert!(!c.matches("12345679"));
        assert!(!c.matches("1234567"));
        assert_eq!(format!("{c:?}"), "Code(<8 digits>)");
    }
}
