//! The activation protocol of PROTOCOL.md §1 and §3–§5: serial numbers,
//! activation codes and their check digits, the device code, the instance
//! key and the finalize code. Pure functions; the randomness (activation key,
//! nonce) is supplied by the caller.

use std::fmt;
use std::str::FromStr;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::otp::{Algorithm, Code, dynamic_truncate};
use crate::secret::SecretBytes;

/// Why an activation value was refused. Each message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    #[error("SN: must be exactly 10 characters, got {0}")]
    SerialLength(usize),
    #[error("SN: only A-Z and 0-9 are allowed, found {0:?}")]
    SerialCharacter(char),
    #[error(
        "AC: a {0}-digit code is a legacy 64-bit activation key, which Tessera does not accept; ask the issuer for a new activation"
    )]
    LegacyCode(usize),
    #[error("AC: must be 41 digits, got {0}")]
    CodeLength(usize),
    #[error("AC: only digits are allowed (spaces and hyphens are ignored), found {0:?}")]
    CodeCharacter(char),
    #[error("AC: check digits do not match the serial number")]
    CodeCheck,
    #[error("AC: the key part is larger than 128 bits")]
    CodeRange,
    #[error("CHALLENGE: must be 1 to 16 digits")]
    Challenge,
    #[error("device code: must be 12 digits, got {0}")]
    DeviceCodeLength(usize),
    #[error("device code: only digits are allowed (spaces and hyphens are ignored), found {0:?}")]
    DeviceCodeCharacter(char),
    #[error("device code: the instance number is larger than 4294967295")]
    DeviceCodeRange,
    #[error(
        "device code: check digits do not match; it was mistyped or belongs to another activation"
    )]
    DeviceCodeCheck,
}

/// Removes what a user may type between groups of digits.
fn strip_separators(typed: &str) -> Zeroizing<String> {
    Zeroizing::new(typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect())
}

/// Groups a digit string for display: `sep` between blocks of `block`.
pub fn group_digits(digits: &str, block: usize, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / block);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % block == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A serial number: 10 characters `[A-Z0-9]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(String);

impl Serial {
    pub const LEN: usize = 10;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `digits(SN)`: `0`–`9` as themselves, `A`–`Z` as `10`–`35`.
    fn digits(&self) -> String {
        self.0
            .chars()
            .map(|c| c.to_digit(36).expect("validated").to_string())
            .collect()
    }
}

impl Serial {
    /// A serial as a person types it: case, spaces and hyphens do not
    /// matter (`tsr-000 0001` is `TSR0000001`); then as [`FromStr`].
    pub fn from_typed(typed: &str) -> Result<Self, ActivationError> {
        strip_separators(typed).trim().to_ascii_uppercase().parse()
    }
}

impl FromStr for Serial {
    type Err = ActivationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit()))
        {
            return Err(ActivationError::SerialCharacter(bad));
        }
        if s.len() != Self::LEN {
            return Err(ActivationError::SerialLength(s.len()));
        }
        Ok(Serial(s.to_owned()))
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `AK`, the 16-byte activation key the issuer makes.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationKey(SecretBytes);

impl ActivationKey {
    pub const LEN: usize = 16;

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let key = Self(SecretBytes::from(&bytes[..]));
        let mut bytes = bytes;
        zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }

    fn as_u128(&self) -> u128 {
        let mut b = [0u8; 16];
        b.copy_from_slice(self.0.expose());
        let v = u128::from_be_bytes(b);
        zeroize::Zeroize::zeroize(&mut b);
        v
    }
}

impl fmt::Debug for ActivationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationKey(<redacted>)")
    }
}

/// `(decimal string) mod 97`, streaming, for ISO 7064 MOD 97-10.
fn mod97(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0u32, |acc, d| (acc * 10 + u32::from(d - b'0')) % 97)
}

/// `AC`: the activation code, `D(AK)` then two check digits. It carries the
/// key, so it is a secret: zeroized on drop and redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(Zeroizing<String>);

impl ActivationCode {
    pub const LEN: usize = 41;
    const KEY_DIGITS: usize = 39;

    /// The code for `key` under `serial` (the issuer's side).
    pub fn new(serial: &Serial, key: &ActivationKey) -> Self {
        let d = Zeroizing::new(format!("{:039}", key.as_u128()));
        let n = Zeroizing::new(format!("{}{}", serial.digits(), d.as_str()));
        let check = 98 - (mod97(&n) * 100) % 97;
        Self(Zeroizing::new(format!("{}{check:02}", d.as_str())))
    }

    /// Validates a code typed or scanned for `serial`. Spaces and hyphens
    /// are ignored; a 20/21-digit legacy code has its own error.
    pub fn parse(serial: &Serial, typed: &str) -> Result<Self, ActivationError> {
        let digits = strip_separators(typed);
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(ActivationError::CodeCharacter(bad));
        }
        match digits.len() {
            Self::LEN => {}
            n @ (20 | 21) => return Err(ActivationError::LegacyCode(n)),
            n => return Err(ActivationError::CodeLength(n)),
        }
        let with_serial = Zeroizing::new(format!("{}{}", serial.digits(), digits.as_str()));
        if mod97(&with_serial) != 1 {
            return Err(ActivationError::CodeCheck);
        }
        if digits[..Self::KEY_DIGITS].parse::<u128>().is_err() {
            return Err(ActivationError::CodeRange);
        }
        Ok(Self(digits))
    }

    /// The activation key inside the code.
    pub fn key(&self) -> ActivationKey {
        let value: u128 = self.0[..Self::KEY_DIGITS]
            .parse()
            .expect("validated when constructed");
        ActivationKey::from_bytes(value.to_be_bytes())
    }

    /// The 41 digits, for writing a payload.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The code in blocks of 5 digits for manual entry: `00000-52331-…-2`.
    pub fn grouped(&self) -> String {
        group_digits(&self.0, 5, '-')
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(<redacted>)")
    }
}

/// `CHALLENGE`: 1–16 digits from the issuer that enter the finalize code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Challenge(String);

impl Challenge {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Challenge {
    type Err = ActivationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ActivationError::Challenge)
        }
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 12-digit device code of §3: the instance nonce and two check digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceCode {
    nonce: u32,
    check: u8,
}

const DEVICE_CODE_LABEL: &[u8] = b"tessera/v1/device-code";
const INSTANCE_KEY_LABEL: &[u8] = b"tessera/v1/instance-key";
const FINALIZE_LABEL: &[u8] = b"tessera/v1/finalize";

fn device_check(key: &ActivationKey, serial: &Serial, nonce: u32) -> u8 {
    let m = Algorithm::Sha256.hmac(
        key.expose(),
        &[
            DEVICE_CODE_LABEL,
            serial.as_str().as_bytes(),
            &nonce.to_be_bytes(),
        ],
    );
    (u32::from_be_bytes([m[0], m[1], m[2], m[3]]) % 100) as u8
}

impl DeviceCode {
    pub const LEN: usize = 12;

    /// The authenticator's side: the code for a fresh `nonce`.
    pub fn new(key: &ActivationKey, serial: &Serial, nonce: u32) -> Self {
        Self {
            nonce,
            check: device_check(key, serial, nonce),
        }
    }

    /// Reads a typed code (spaces and hyphens ignored). This checks only its
    /// form; [`DeviceCode::verify`] checks it against an activation.
    pub fn parse(typed: &str) -> Result<Self, ActivationError> {
        let digits = strip_separators(typed);
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(ActivationError::DeviceCodeCharacter(bad));
        }
        if digits.len() != Self::LEN {
            return Err(ActivationError::DeviceCodeLength(digits.len()));
        }
        let nonce = digits[..10]
            .parse::<u32>()
            .map_err(|_| ActivationError::DeviceCodeRange)?;
        let check = digits[10..].parse::<u8>().expect("two digits");
        Ok(Self { nonce, check })
    }

    /// The issuer's side: the nonce, if the check digits fit this activation.
    pub fn verify(&self, key: &ActivationKey, serial: &Serial) -> Result<u32, ActivationError> {
        if device_check(key, serial, self.nonce) == self.check {
            Ok(self.nonce)
        } else {
            Err(ActivationError::DeviceCodeCheck)
        }
    }

    pub fn nonce(&self) -> u32 {
        self.nonce
    }

    /// Shown as `0123 4567 8998`: blocks of 4 split by spaces, as the
    /// authenticator shows it, so issuer and user read the same thing.
    pub fn grouped(&self) -> String {
        group_digits(&self.to_string(), 4, ' ')
    }
}

impl fmt::Display for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}{:02}", self.nonce, self.check)
    }
}

/// `IK` of §4: the account's secret from activation on.
pub fn instance_key(
    key: &ActivationKey,
    serial: &Serial,
    nonce: u32,
    algorithm: Algorithm,
) -> SecretBytes {
    let hk = Hkdf::<Sha256>::new(Some(serial.as_str().as_bytes()), key.expose());
    let mut info = Vec::with_capacity(INSTANCE_KEY_LABEL.len() + 4 + 6);
    info.extend_from_slice(INSTANCE_KEY_LABEL);
    info.extend_from_slice(&nonce.to_be_bytes());
    info.extend_from_slice(algorithm.name().as_bytes());
    let mut okm = vec![0u8; algorithm.output_len()];
    hk.expand(&info, &mut okm)
        .expect("64 bytes is within HKDF-SHA256's limit");
    SecretBytes::new(okm)
}

/// `FIN` of §5: 8 digits proving the device derived the right key.
pub fn finalize_code(
    instance_key: &SecretBytes,
    serial: &Serial,
    challenge: Option<&Challenge>,
) -> Code {
    let f = Algorithm::Sha256.hmac(
        instance_key.expose(),
        &[
            FINALIZE_LABEL,
            serial.as_str().as_bytes(),
            challenge.map_or(&b""[..], |c| c.as_str().as_bytes()),
        ],
    );
    Code::from_value(u64::from(dynamic_truncate(&f)), 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::totp;

    fn serial() -> Serial {
        "TSR0000001".parse().unwrap()
    }

    fn key() -> ActivationKey {
        ActivationKey::from_bytes(core::array::from_fn(|i| i as u8))
    }

    const AC: &str = "00000523310060624280605095539573136129562";
    const NONCE: u32 = 123_456_789;

    #[test]
    fn typed_serials_ignore_case_spaces_and_hyphens() {
        assert_eq!(Serial::from_typed(" tsr-000 0001 ").unwrap(), serial());
        assert_eq!(
            Serial::from_typed("tsr00001"),
            Err(ActivationError::SerialLength(8))
        );
        assert_eq!(
            Serial::from_typed("TSR_000001"),
            Err(ActivationError::SerialCharacter('_'))
        );
    }

    /// PROTOCOL.md §8, every row.
    #[test]
    fn protocol_vectors() {
        let ac = ActivationCode::new(&serial(), &key());
        assert_eq!(ac.expose(), AC);
        assert_eq!(
            DeviceCode::new(&key(), &serial(), NONCE).to_string(),
            "012345678998"
        );

        let ik1 = instance_key(&key(), &serial(), NONCE, Algorithm::Sha1);
        assert_eq!(
            hex(ik1.expose()),
            "0e5c12a28151a4853ae256af13004f672b146fdb"
        );
        assert_eq!(finalize_code(&ik1, &serial(), None).as_str(), "35535829");
        let ch: Challenge = "12345678".parse().unwrap();
        assert_eq!(
            finalize_code(&ik1, &serial(), Some(&ch)).as_str(),
            "19468555"
        );
        assert_eq!(
            totp(ik1.expose(), Algorithm::Sha1, 59, 30, 8).as_str(),
            "39718867"
        );

        let ik256 = instance_key(&key(), &serial(), NONCE, Algorithm::Sha256);
        assert_eq!(
            hex(ik256.expose()),
            "dfbb98c92411c73a0bb754b5e404a9ad9978c963e0c5c648a89d39178395e9c9"
        );
        assert_eq!(finalize_code(&ik256, &serial(), None).as_str(), "84382008");
        assert_eq!(
            instance_key(&key(), &serial(), NONCE, Algorithm::Sha512).len(),
            64
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn activation_code_round_trips_the_key() {
        let ac = ActivationCode::parse(&serial(), AC).unwrap();
        assert_eq!(ac.key(), key());
        let grouped = ac.grouped();
        assert_eq!(grouped, "00000-52331-00606-24280-60509-55395-73136-12956-2");
        assert_eq!(ActivationCode::parse(&serial(), &grouped).unwrap(), ac);
        let spaced = grouped.replace('-', " ");
        assert_eq!(ActivationCode::parse(&serial(), &spaced).unwrap(), ac);
    }

    #[test]
    fn extreme_keys_make_valid_codes() {
        for bytes in [[0u8; 16], [0xff; 16]] {
            let k = ActivationKey::from_bytes(bytes);
            let ac = ActivationCode::new(&serial(), &k);
            assert_eq!(ac.expose().len(), 41);
            assert_eq!(
                ActivationCode::parse(&serial(), ac.expose()).unwrap().key(),
                k
            );
        }
    }

    #[test]
    fn activation_code_errors_name_what_is_wrong() {
        let other: Serial = "TSR0000002".parse().unwrap();
        assert_eq!(
            ActivationCode::parse(&other, AC),
            Err(ActivationError::CodeCheck)
        );
        let mut typo = AC.to_owned();
        typo.replace_range(7..8, "4");
        assert_eq!(
            ActivationCode::parse(&serial(), &typo),
            Err(ActivationError::CodeCheck)
        );
        assert_eq!(
            ActivationCode::parse(&serial(), "12345678901234567890"),
            Err(ActivationError::LegacyCode(20))
        );
        assert_eq!(
            ActivationCode::parse(&serial(), "123456789012345678901"),
            Err(ActivationError::LegacyCode(21))
        );
        assert_eq!(
            ActivationCode::parse(&serial(), "123"),
            Err(ActivationError::CodeLength(3))
        );
        assert_eq!(
            ActivationCode::parse(&serial(), "0000052331006062428060509553957313612956x"),
            Err(ActivationError::CodeCharacter('x'))
        );
        // 39 nines exceed 2^128 - 1; give it valid check digits to reach the range test.
        let nines = "9".repeat(39);
        let n = format!("{}{}", serial().digits(), nines);
        let check = 98 - (mod97(&n) * 100) % 97;
        assert_eq!(
            ActivationCode::parse(&serial(), &format!("{nines}{check:02}")),
            Err(ActivationError::CodeRange)
        );
        assert_eq!(
            ActivationError::CodeCheck.to_string(),
            "AC: check digits do not match the serial number"
        );
    }

    #[test]
    fn serial_validation() {
        assert_eq!(
            "TSR000001".parse::<Serial>(),
            Err(ActivationError::SerialLength(9))
        );
        assert_eq!(
            "tsr0000001".parse::<Serial>(),
            Err(ActivationError::SerialCharacter('t'))
        );
        assert_eq!(
            "TSR-000001".parse::<Serial>(),
            Err(ActivationError::SerialCharacter('-'))
        );
        assert_eq!(
            "ZZZZZZZZZZ".parse::<Serial>().unwrap().digits(),
            "35".repeat(10)
        );
    }

    #[test]
    fn device_code_is_checked_against_its_activation() {
        let dc = DeviceCode::new(&key(), &serial(), NONCE);
        assert_eq!(dc.grouped(), "0123 4567 8998");
        let typed = DeviceCode::parse("0123-4567 8998").unwrap();
        assert_eq!(typed.verify(&key(), &serial()), Ok(NONCE));
        let typo = DeviceCode::parse("012345678999").unwrap();
        assert_eq!(
            typo.verify(&key(), &serial()),
            Err(ActivationError::DeviceCodeCheck)
        );
        let other = ActivationKey::from_bytes([7; 16]);
        assert_eq!(
            dc.verify(&other, &serial()),
            Err(ActivationError::DeviceCodeCheck)
        );
        assert_eq!(
            DeviceCode::parse("12345"),
            Err(ActivationError::DeviceCodeLength(5))
        );
        assert_eq!(
            DeviceCode::parse("99999999999 9"),
            Err(ActivationError::DeviceCodeRange)
        );
        assert_eq!(
            DeviceCode::parse("01234567899a"),
            Err(ActivationError::DeviceCodeCharacter('a'))
        );
    }

    #[test]
    fn challenge_limits() {
        assert!("1".parse::<Challenge>().is_ok());
        assert!("1234567890123456".parse::<Challenge>().is_ok());
        assert!("".parse::<Challenge>().is_err());
        assert!("12345678901234567".parse::<Challenge>().is_err());
        assert!("12a".parse::<Challenge>().is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let ac = ActivationCode::new(&serial(), &key());
        assert!(!format!("{ac:?}").contains("523310"));
        assert_eq!(format!("{:?}", key()), "ActivationKey(<redacted>)");
    }
}
