//! OCRA, the OATH challenge-response algorithm (RFC 6287).
//!
//! An [`OcraSuite`] such as `OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1` names the hash,
//! the response length and the inputs a response covers. [`OcraSuite::respond`]
//! computes
//!
//! ```text
//! HMAC(key, suite ‖ 0x00 ‖ [C] ‖ Q ‖ [P] ‖ [S] ‖ [T])
//! ```
//!
//! and truncates it as HOTP does (RFC 4226 §5.3), where
//!
//! - `C` is the counter, 8 bytes big-endian;
//! - `Q` is the question, 128 bytes, left-aligned and zero-padded: a numeric
//!   question is the hexadecimal digits of its value, a hexadecimal question
//!   its digits (an odd count ends in a half byte), an alphanumeric question
//!   its ASCII bytes;
//! - `P` is the hash of the password (PIN) with the suite's `P` hash;
//! - `S` is the session information, exactly as long as the suite says;
//! - `T` is the number of time steps since the Unix epoch, 8 bytes big-endian.
//!
//! The suite string is parsed strictly (upper case, no leading zeros, data
//! inputs in the order `C`, `Q`, `P`, `S`, `T`) because its exact bytes are
//! part of what is authenticated; [`fmt::Display`] writes the same string back.

use std::fmt;
use std::str::FromStr;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use super::{Algorithm, Code, dynamic_truncate};

/// The suite Tessera uses when an issuer names none (PROTOCOL.md §6).
pub const DEFAULT_SUITE: &str = "OCRA-1:HOTP-SHA256-8:QN08";

/// Length of the question block of the data input, in bytes.
const QUESTION_BLOCK: usize = 128;

/// How a question is written, the `F` of `QFxx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuestionFormat {
    /// `A`: text, input as its ASCII bytes. Any printable ASCII character
    /// except space is accepted, as other OCRA implementations do.
    Alphanumeric,
    /// `N`: decimal digits, input as the hexadecimal digits of their value.
    Numeric,
    /// `H`: hexadecimal digits (either case), input as they are.
    Hex,
}

impl QuestionFormat {
    fn letter(self) -> char {
        match self {
            QuestionFormat::Alphanumeric => 'A',
            QuestionFormat::Numeric => 'N',
            QuestionFormat::Hex => 'H',
        }
    }

    fn from_letter(letter: u8) -> Option<Self> {
        match letter {
            b'A' => Some(QuestionFormat::Alphanumeric),
            b'N' => Some(QuestionFormat::Numeric),
            b'H' => Some(QuestionFormat::Hex),
            _ => None,
        }
    }

    fn accepts(self, byte: u8) -> bool {
        match self {
            QuestionFormat::Alphanumeric => byte.is_ascii_graphic(),
            QuestionFormat::Numeric => byte.is_ascii_digit(),
            QuestionFormat::Hex => byte.is_ascii_hexdigit(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            QuestionFormat::Alphanumeric => "printable ASCII without spaces",
            QuestionFormat::Numeric => "decimal digits",
            QuestionFormat::Hex => "hexadecimal digits",
        }
    }
}

/// The unit of a `T` time step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum TimeUnit {
    Seconds,
    Minutes,
    Hours,
}

impl TimeUnit {
    fn from_letter(letter: u8) -> Option<Self> {
        match letter {
            b'S' => Some(TimeUnit::Seconds),
            b'M' => Some(TimeUnit::Minutes),
            b'H' => Some(TimeUnit::Hours),
            _ => None,
        }
    }

    fn letter(self) -> char {
        match self {
            TimeUnit::Seconds => 'S',
            TimeUnit::Minutes => 'M',
            TimeUnit::Hours => 'H',
        }
    }

    fn seconds(self) -> u64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 3600,
        }
    }

    /// Largest step count accepted for the unit (`T59S`, `T59M`, `T48H`).
    fn max(self) -> u32 {
        match self {
            TimeUnit::Seconds | TimeUnit::Minutes => 59,
            TimeUnit::Hours => 48,
        }
    }
}

/// A parsed OCRA suite. Parse with [`str::parse`]; `Display` writes it back
/// unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OcraSuite {
    algorithm: Algorithm,
    digits: u32,
    counter: bool,
    question_format: QuestionFormat,
    question_len: usize,
    password: Option<Algorithm>,
    session_len: Option<usize>,
    time_step: Option<(u32, TimeUnit)>,
}

/// The question of an OCRA computation: one challenge, or two for mutual
/// challenge-response. Each challenge is at most the suite's `xx` characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcraQuestion<'a> {
    /// One-way challenge-response and plain signatures.
    Single(&'a str),
    /// Two challenges, used in this order: mutual challenge-response. Build it with
    /// [`OcraQuestion::server_response`] or [`OcraQuestion::client_response`].
    Pair(&'a str, &'a str),
}

impl<'a> OcraQuestion<'a> {
    /// Mutual mode, the server's response: client challenge, then server challenge.
    pub fn server_response(client_challenge: &'a str, server_challenge: &'a str) -> Self {
        OcraQuestion::Pair(client_challenge, server_challenge)
    }

    /// Mutual mode, the client's response: server challenge, then client challenge.
    pub fn client_response(client_challenge: &'a str, server_challenge: &'a str) -> Self {
        OcraQuestion::Pair(server_challenge, client_challenge)
    }

    fn challenges(&self) -> impl Iterator<Item = &'a str> {
        let (first, second) = match *self {
            OcraQuestion::Single(q) => (q, None),
            OcraQuestion::Pair(a, b) => (a, Some(b)),
        };
        std::iter::once(first).chain(second)
    }
}

impl<'a> From<&'a str> for OcraQuestion<'a> {
    fn from(question: &'a str) -> Self {
        OcraQuestion::Single(question)
    }
}

/// The `P` input. `Debug` never shows the bytes.
#[derive(Clone, Copy)]
pub enum OcraPassword<'a> {
    /// The password or PIN itself; hashed with the suite's `P` hash.
    Plain(&'a [u8]),
    /// The password already hashed with the suite's `P` hash (what a
    /// verifier stores); must be exactly that hash's length.
    Hashed(&'a [u8]),
}

impl fmt::Debug for OcraPassword<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OcraPassword::Plain(_) => f.write_str("Plain(<redacted>)"),
            OcraPassword::Hashed(_) => f.write_str("Hashed(<redacted>)"),
        }
    }
}

/// The inputs of one OCRA computation. Every input the suite names must be
/// given, and no other:
///
/// ```text
/// OcraInput { counter: Some(7), ..OcraInput::new("12345678") }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct OcraInput<'a> {
    /// `C`: the counter.
    pub counter: Option<u64>,
    /// `Q`: the challenge(s).
    pub question: OcraQuestion<'a>,
    /// `P`: the password or PIN.
    pub password: Option<OcraPassword<'a>>,
    /// `S`: the session information, exactly the suite's `Snnn` bytes.
    pub session: Option<&'a [u8]>,
    /// `T`: whole time steps since the Unix epoch, in the suite's unit; see
    /// [`OcraSuite::timestamp_at`].
    pub timestamp: Option<u64>,
}

impl<'a> OcraInput<'a> {
    /// Only a question; set the other fields as the suite requires.
    pub fn new(question: impl Into<OcraQuestion<'a>>) -> Self {
        Self {
            counter: None,
            question: question.into(),
            password: None,
            session: None,
            timestamp: None,
        }
    }
}

/// Why a suite string or an OCRA input was refused. Messages name the
/// problem, never the key or password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcraError {
    #[error("OCRA suite: expected OCRA-1:HOTP-<hash>-<digits>:<data input>, got {0:?}")]
    Shape(String),
    #[error("OCRA suite: version must be OCRA-1, got {0:?}")]
    Version(String),
    #[error(
        "OCRA suite: crypto function must be HOTP-SHA1, HOTP-SHA256 or HOTP-SHA512 and -<digits>, got {0:?}"
    )]
    CryptoFunction(String),
    #[error("OCRA suite: digits must be 0 (no truncation) or 4 to 10, got {0:?}")]
    Digits(String),
    #[error("OCRA suite: question must be QA, QN or QH and a length of 04 to 64, got {0:?}")]
    QuestionSpec(String),
    #[error("OCRA suite: password must be PSHA1, PSHA256 or PSHA512, got {0:?}")]
    PasswordSpec(String),
    #[error("OCRA suite: session information must be S001 to S999, got {0:?}")]
    SessionSpec(String),
    #[error("OCRA suite: time step must be T1S-T59S, T1M-T59M or T1H-T48H, got {0:?}")]
    TimeStepSpec(String),
    #[error("OCRA suite: unexpected data input {0:?} (expected [C-]QFxx[-PH][-Snnn][-TG])")]
    DataInput(String),
    #[error("OCRA challenge: the suite requires a {0}")]
    Missing(&'static str),
    #[error("OCRA challenge: the suite takes no {0}")]
    Unexpected(&'static str),
    #[error("OCRA challenge: question must be {}", .0.describe())]
    QuestionCharacters(QuestionFormat),
    #[error("OCRA challenge: question must be 1 to {max} characters, got {len}")]
    QuestionLength { max: usize, len: usize },
    #[error("OCRA challenge: {what} must be {expected} bytes, got {len}")]
    InputLength {
        what: &'static str,
        expected: usize,
        len: usize,
    },
}

impl OcraSuite {
    /// The HMAC hash.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Response digits; 0 means no truncation (the whole HMAC, in hex).
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// Whether the suite takes a counter (`C`).
    pub fn uses_counter(&self) -> bool {
        self.counter
    }

    /// How questions are written.
    pub fn question_format(&self) -> QuestionFormat {
        self.question_format
    }

    /// Maximum length of one challenge, in characters (the `xx` of `QFxx`).
    pub fn question_len(&self) -> usize {
        self.question_len
    }

    /// The password hash (`PH`), if the suite takes a password.
    pub fn password_algorithm(&self) -> Option<Algorithm> {
        self.password
    }

    /// Session information length in bytes (`Snnn`), if the suite takes one.
    pub fn session_len(&self) -> Option<usize> {
        self.session_len
    }

    /// The time step in seconds (`TG`), if the suite takes a timestamp.
    pub fn time_step(&self) -> Option<u64> {
        self.time_step
            .map(|(count, unit)| u64::from(count) * unit.seconds())
    }

    /// The `T` input at `unix_time` seconds, if the suite takes a timestamp.
    pub fn timestamp_at(&self, unix_time: u64) -> Option<u64> {
        self.time_step().map(|step| unix_time / step)
    }

    /// The question an approval of `message` is answered for
    /// (docs/protocol.md, "Approvals"): SHA-256 of the message with leading
    /// and trailing white space trimmed, written the way the suite's
    /// questions are. The daemon asks it; the issuer checks the response
    /// against it.
    pub fn message_question(&self, message: &str) -> String {
        let hash = Sha256::digest(message.trim().as_bytes());
        let len = self.question_len;
        match self.question_format {
            QuestionFormat::Numeric => {
                let digits = len.min(19);
                let value = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"));
                let modulus = 10u64.pow(digits as u32);
                format!("{:0digits$}", value % modulus)
            }
            QuestionFormat::Hex | QuestionFormat::Alphanumeric => {
                let mut hex = data_encoding::HEXLOWER.encode(&hash);
                hex.truncate(len.min(64));
                hex
            }
        }
    }

    /// The response to `input` under `key`.
    ///
    /// ```
    /// use tessera_core::otp::{OcraInput, OcraSuite};
    ///
    /// let suite: OcraSuite = "OCRA-1:HOTP-SHA1-6:QN08".parse().unwrap();
    /// let code = suite.respond(b"12345678901234567890", &OcraInput::new("00000000")).unwrap();
    /// assert_eq!(code.as_str(), "237653");
    /// ```
    pub fn respond(&self, key: &[u8], input: &OcraInput<'_>) -> Result<Code, OcraError> {
        let suite = self.to_string();
        let counter = presence(self.counter.then_some(()), input.counter, "counter")?
            .map(|((), counter)| counter.to_be_bytes());
        let question = self.question_block(&input.question)?;
        let password = presence(self.password, input.password, "password")?
            .map(|(algorithm, password)| password_hash(algorithm, password))
            .transpose()?;
        let session = presence(self.session_len, input.session, "session information")?
            .map(|(len, session)| {
                exact_len("session information", len, session.len()).map(|()| session)
            })
            .transpose()?;
        let timestamp = presence(self.time_step, input.timestamp, "timestamp")?
            .map(|(_, timestamp)| timestamp.to_be_bytes());

        // Absent inputs are empty parts: they add nothing to the HMAC.
        let mac = Zeroizing::new(self.algorithm.hmac(
            key,
            &[
                suite.as_bytes(),
                &[0],
                counter.as_ref().map_or(&[], |c| c),
                &question,
                password.as_deref().map_or(&[], |p| p),
                session.unwrap_or_default(),
                timestamp.as_ref().map_or(&[], |t| t),
            ],
        ));
        Ok(match self.digits {
            0 => Code(data_encoding::HEXLOWER.encode(&mac)),
            digits => Code::from_value(u64::from(dynamic_truncate(&mac)), digits),
        })
    }

    /// The 128-byte `Q` block, after checking each challenge.
    fn question_block(
        &self,
        question: &OcraQuestion<'_>,
    ) -> Result<[u8; QUESTION_BLOCK], OcraError> {
        let format = self.question_format;
        let mut text = String::new();
        for challenge in question.challenges() {
            if !challenge.bytes().all(|b| format.accepts(b)) {
                return Err(OcraError::QuestionCharacters(format));
            }
            if !(1..=self.question_len).contains(&challenge.len()) {
                return Err(OcraError::QuestionLength {
                    max: self.question_len,
                    len: challenge.len(),
                });
            }
            text.push_str(challenge);
        }
        // At most two challenges of 64 characters: everything below fits in 128 bytes.
        let mut block = [0u8; QUESTION_BLOCK];
        match format {
            QuestionFormat::Alphanumeric => block[..text.len()].copy_from_slice(text.as_bytes()),
            QuestionFormat::Hex => {
                let nibbles = text
                    .bytes()
                    .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8);
                pack_nibbles(&mut block, nibbles);
            }
            QuestionFormat::Numeric => pack_nibbles(&mut block, decimal_to_hex(&text)),
        }
        Ok(block)
    }
}

/// Pairs what the suite asks for (`spec`) with the input given for it;
/// an error if one is there without the other.
fn presence<S, T>(
    spec: Option<S>,
    given: Option<T>,
    what: &'static str,
) -> Result<Option<(S, T)>, OcraError> {
    match (spec, given) {
        (Some(spec), Some(given)) => Ok(Some((spec, given))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(OcraError::Missing(what)),
        (None, Some(_)) => Err(OcraError::Unexpected(what)),
    }
}

fn exact_len(what: &'static str, expected: usize, len: usize) -> Result<(), OcraError> {
    if len == expected {
        Ok(())
    } else {
        Err(OcraError::InputLength {
            what,
            expected,
            len,
        })
    }
}

/// The `P` input: the password hashed with `algorithm`, or the given hash.
fn password_hash(
    algorithm: Algorithm,
    password: OcraPassword<'_>,
) -> Result<Zeroizing<Vec<u8>>, OcraError> {
    Ok(Zeroizing::new(match password {
        OcraPassword::Plain(pin) => match algorithm {
            Algorithm::Sha1 => Sha1::digest(pin).to_vec(),
            Algorithm::Sha256 => Sha256::digest(pin).to_vec(),
            Algorithm::Sha512 => Sha512::digest(pin).to_vec(),
        },
        OcraPassword::Hashed(hash) => {
            exact_len("password hash", algorithm.output_len(), hash.len())?;
            hash.to_vec()
        }
    }))
}

/// Writes half bytes into `block` from the left, high half first.
fn pack_nibbles(block: &mut [u8], nibbles: impl IntoIterator<Item = u8>) {
    for (i, nibble) in nibbles.into_iter().enumerate() {
        block[i / 2] |= nibble << if i % 2 == 0 { 4 } else { 0 };
    }
}

/// The hexadecimal digits (as values, most significant first, no leading
/// zeros but at least one) of a decimal number of any length.
fn decimal_to_hex(decimal: &str) -> Vec<u8> {
    // Little-endian base-16 digits; multiply by ten and add, digit by digit.
    let mut digits: Vec<u8> = Vec::new();
    for d in decimal.bytes().map(|b| b - b'0') {
        let mut carry = u32::from(d);
        for digit in digits.iter_mut() {
            let v = u32::from(*digit) * 10 + carry;
            *digit = (v % 16) as u8;
            carry = v / 16;
        }
        while carry > 0 {
            digits.push((carry % 16) as u8);
            carry /= 16;
        }
    }
    if digits.is_empty() {
        digits.push(0);
    }
    digits.reverse();
    digits
}

/// Parses a number of ASCII digits: exactly `width` digits if given,
/// otherwise 1 to 2 digits without a leading zero.
fn number(text: &str, width: Option<usize>) -> Option<u32> {
    let well_formed = match width {
        Some(w) => text.len() == w,
        None => (1..=2).contains(&text.len()) && (text == "0" || !text.starts_with('0')),
    };
    if well_formed && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// An upper-case hash name exactly as RFC 6287 writes it.
fn hash_name(name: &str) -> Option<Algorithm> {
    Algorithm::from_name(name).filter(|a| a.name() == name)
}

impl FromStr for OcraSuite {
    type Err = OcraError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let &[version, crypto, data] = parts.as_slice() else {
            return Err(OcraError::Shape(s.to_owned()));
        };
        if version != "OCRA-1" {
            return Err(OcraError::Version(version.to_owned()));
        }

        let crypto_err = || OcraError::CryptoFunction(crypto.to_owned());
        let (algorithm, digits_text) = crypto
            .strip_prefix("HOTP-")
            .and_then(|rest| rest.split_once('-'))
            .ok_or_else(crypto_err)?;
        let algorithm = hash_name(algorithm).ok_or_else(crypto_err)?;
        let digits = number(digits_text, None)
            .filter(|d| *d == 0 || (4..=10).contains(d))
            .ok_or_else(|| OcraError::Digits(digits_text.to_owned()))?;

        let mut items = data.split('-').peekable();
        let counter = items.next_if_eq(&"C").is_some();
        let question = items.next().unwrap_or_default();
        let (question_format, question_len) = question
            .strip_prefix('Q')
            .and_then(|q| {
                let format = QuestionFormat::from_letter(*q.as_bytes().first()?)?;
                let len = number(&q[1..], Some(2)).filter(|n| (4..=64).contains(n))?;
                Some((format, len as usize))
            })
            .ok_or_else(|| OcraError::QuestionSpec(question.to_owned()))?;

        let mut suite = OcraSuite {
            algorithm,
            digits,
            counter,
            question_format,
            question_len,
            password: None,
            session_len: None,
            time_step: None,
        };
        for item in items {
            // Each optional input at most once, in the order P, S, T.
            let (head, rest) = item.split_at_checked(1).unwrap_or(("", item));
            match head {
                "P" if suite.password.is_none()
                    && suite.session_len.is_none()
                    && suite.time_step.is_none() =>
                {
                    let alg =
                        hash_name(rest).ok_or_else(|| OcraError::PasswordSpec(item.to_owned()))?;
                    suite.password = Some(alg);
                }
                "S" if suite.session_len.is_none() && suite.time_step.is_none() => {
                    let len = number(rest, Some(3))
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| OcraError::SessionSpec(item.to_owned()))?;
                    suite.session_len = Some(len as usize);
                }
                "T" if suite.time_step.is_none() => {
                    let step = rest
                        .split_at_checked(rest.len().saturating_sub(1))
                        .and_then(|(count, unit)| {
                            let unit = TimeUnit::from_letter(*unit.as_bytes().first()?)?;
                            let count =
                                number(count, None).filter(|n| (1..=unit.max()).contains(n))?;
                            Some((count, unit))
                        })
                        .ok_or_else(|| OcraError::TimeStepSpec(item.to_owned()))?;
                    suite.time_step = Some(step);
                }
                _ => return Err(OcraError::DataInput(item.to_owned())),
            }
        }
        Ok(suite)
    }
}

impl fmt::Display for OcraSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OCRA-1:HOTP-{}-{}:", self.algorithm, self.digits)?;
        if self.counter {
            f.write_str("C-")?;
        }
        write!(
            f,
            "Q{}{:02}",
            self.question_format.letter(),
            self.question_len
        )?;
        if let Some(alg) = self.password {
            write!(f, "-P{alg}")?;
        }
        if let Some(len) = self.session_len {
            write!(f, "-S{len:03}")?;
        }
        if let Some((count, unit)) = self.time_step {
            write!(f, "-T{count}{}", unit.letter())?;
        }
        Ok(())
    }
}

/// The suite of [`DEFAULT_SUITE`].
impl Default for OcraSuite {
    fn default() -> Self {
        DEFAULT_SUITE.parse().expect("the default suite is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The RFC 6287 Appendix C keys: SEED, SEED32 and SEED64 of the reference code.
    const KEY20: &[u8] = b"12345678901234567890";
    const KEY32: &[u8] = b"12345678901234567890123456789012";
    const KEY64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
    const PIN: OcraPassword = OcraPassword::Plain(b"1234");
    /// Mar 25 2008, 12:06:30 GMT in minutes, the `T` of Appendix C.
    const T: u64 = 0x132d0b6;

    fn suite(text: &str) -> OcraSuite {
        text.parse().unwrap()
    }

    #[test]
    fn message_questions_follow_the_suite() {
        // SHA-256("abc") = ba7816bf8f01cfea…; be64 = 0xba7816bf8f01cfea.
        let qn08 = suite("OCRA-1:HOTP-SHA256-8:QN08");
        let value = 0xba78_16bf_8f01_cfea_u64;
        assert_eq!(
            qn08.message_question("abc"),
            format!("{:08}", value % 100_000_000)
        );
        // White space around the message does not change the question.
        assert_eq!(
            qn08.message_question(" abc\n"),
            qn08.message_question("abc")
        );
        assert_ne!(qn08.message_question("abd"), qn08.message_question("abc"));
        assert_eq!(
            suite("OCRA-1:HOTP-SHA1-6:QH10").message_question("abc"),
            "ba7816bf8f"
        );
        assert_eq!(
            suite("OCRA-1:HOTP-SHA1-6:QA08").message_question("abc"),
            "ba7816bf"
        );
        // The suite accepts its own question.
        let q = qn08.message_question("abc");
        assert!(qn08.respond(b"key", &OcraInput::new(q.as_str())).is_ok());
    }

    fn respond(text: &str, key: &[u8], input: OcraInput) -> String {
        suite(text)
            .respond(key, &input)
            .unwrap()
            .as_str()
            .to_owned()
    }

    fn repeated(digit: usize) -> String {
        digit.to_string().repeat(8)
    }

    // The expected values of the `rfc6287_*` tests are from RFC 6287
    // Appendix C, also recomputed with an independent Python implementation.

    #[test]
    fn rfc6287_c1_one_way_sha1_qn08() {
        let want = [
            "237653", "243178", "653583", "740991", "608993", "388898", "816933", "224598",
            "750600", "294470",
        ];
        for (i, want) in want.iter().enumerate() {
            let q = repeated(i);
            let got = respond("OCRA-1:HOTP-SHA1-6:QN08", KEY20, OcraInput::new(q.as_str()));
            assert_eq!(got, *want, "Q={q}");
        }
    }

    #[test]
    fn rfc6287_c1_one_way_counter_and_pin() {
        let want = [
            "65347737", "86775851", "78192410", "71565254", "10104329", "65983500", "70069104",
            "91771096", "75011558", "08522129",
        ];
        for (c, want) in want.iter().enumerate() {
            let input = OcraInput {
                counter: Some(c as u64),
                password: Some(PIN),
                ..OcraInput::new("12345678")
            };
            let got = respond("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KEY32, input);
            assert_eq!(got, *want, "C={c}");
        }
    }

    #[test]
    fn rfc6287_c1_one_way_pin() {
        let want = ["83238735", "01501458", "17957585", "86776967", "86807031"];
        for (i, want) in want.iter().enumerate() {
            let q = repeated(i);
            let input = OcraInput {
                password: Some(PIN),
                ..OcraInput::new(q.as_str())
            };
            assert_eq!(
                respond("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, input),
                *want,
                "Q={q}"
            );
        }
    }

    #[test]
    fn rfc6287_c1_one_way_counter_sha512() {
        let want = [
            "07016083", "63947962", "70123924", "25341727", "33203315", "34205738", "44343969",
            "51946085", "20403879", "31409299",
        ];
        for (i, want) in want.iter().enumerate() {
            let q = repeated(i);
            let input = OcraInput {
                counter: Some(i as u64),
                ..OcraInput::new(q.as_str())
            };
            assert_eq!(
                respond("OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, input),
                *want,
                "C={i}"
            );
        }
    }

    #[test]
    fn rfc6287_c1_one_way_time() {
        let want = ["95209754", "55907591", "22048402", "24218844", "36209546"];
        for (i, want) in want.iter().enumerate() {
            let q = repeated(i);
            let input = OcraInput {
                timestamp: Some(T),
                ..OcraInput::new(q.as_str())
            };
            assert_eq!(
                respond("OCRA-1:HOTP-SHA512-8:QN08-T1M", KEY64, input),
                *want,
                "Q={q}"
            );
        }
    }

    #[test]
    fn rfc6287_c2_mutual_sha256() {
        let server = ["28247970", "01984843", "65387857", "03351211", "83412541"];
        let client = ["15510767", "90175646", "33777207", "95285278", "28934924"];
        for i in 0..5 {
            let (qc, qs) = (format!("CLI2222{i}"), format!("SRV1111{i}"));
            let input = OcraInput::new(OcraQuestion::server_response(&qc, &qs));
            assert_eq!(
                respond("OCRA-1:HOTP-SHA256-8:QA08", KEY32, input),
                server[i]
            );
            let input = OcraInput::new(OcraQuestion::client_response(&qc, &qs));
            assert_eq!(
                respond("OCRA-1:HOTP-SHA256-8:QA08", KEY32, input),
                client[i]
            );
        }
    }

    #[test]
    fn rfc6287_c2_mutual_sha512() {
        let server = ["79496648", "76831980", "12250499", "90856481", "12761449"];
        let client = ["18806276", "70020315", "01600026", "18951020", "32528969"];
        for i in 0..5 {
            let (qc, qs) = (format!("CLI2222{i}"), format!("SRV1111{i}"));
            let input = OcraInput::new(OcraQuestion::server_response(&qc, &qs));
            assert_eq!(
                respond("OCRA-1:HOTP-SHA512-8:QA08", KEY64, input),
                server[i]
            );
            let input = OcraInput {
                password: Some(PIN),
                ..OcraInput::new(OcraQuestion::client_response(&qc, &qs))
            };
            assert_eq!(
                respond("OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KEY64, input),
                client[i]
            );
        }
    }

    #[test]
    fn rfc6287_c3_plain_signature() {
        let want = ["53095496", "04110475", "31331128", "76028668", "46554205"];
        for (i, want) in want.iter().enumerate() {
            let q = format!("SIG1{i}000");
            assert_eq!(
                respond(
                    "OCRA-1:HOTP-SHA256-8:QA08",
                    KEY32,
                    OcraInput::new(q.as_str())
                ),
                *want
            );
        }
    }

    #[test]
    fn rfc6287_c3_plain_signature_with_time() {
        let want = ["77537423", "31970405", "10235557", "95213541", "65360607"];
        for (i, want) in want.iter().enumerate() {
            let q = format!("SIG1{i}00000");
            let input = OcraInput {
                timestamp: Some(T),
                ..OcraInput::new(q.as_str())
            };
            assert_eq!(
                respond("OCRA-1:HOTP-SHA512-8:QA10-T1M", KEY64, input),
                *want
            );
        }
    }

    #[test]
    fn timestamp_from_unix_time() {
        let s = suite("OCRA-1:HOTP-SHA512-8:QA10-T1M");
        assert_eq!(s.time_step(), Some(60));
        assert_eq!(s.timestamp_at(1_206_446_790), Some(T)); // Mar 25 2008, 12:06:30 GMT
        assert_eq!(suite("OCRA-1:HOTP-SHA1-6:QN08-T2H").time_step(), Some(7200));
        assert_eq!(suite(DEFAULT_SUITE).timestamp_at(1_206_446_790), None);
    }

    #[test]
    fn hashed_password_equals_plain() {
        // SHA-1 of "1234", the PASS1234 of the reference code.
        let hash = data_encoding::HEXLOWER
            .decode(b"7110eda4d09e062aa5e4a390b0a572ac0d2c0220")
            .unwrap();
        let input = |password| OcraInput {
            counter: Some(0),
            password: Some(password),
            ..OcraInput::new("12345678")
        };
        let s = "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1";
        assert_eq!(
            respond(s, KEY32, input(OcraPassword::Hashed(&hash))),
            "65347737"
        );
        assert_eq!(respond(s, KEY32, input(PIN)), "65347737");
    }

    /// Inputs Appendix C does not cover (session information, odd-length hex,
    /// no truncation, long and concatenated numeric questions); the values are
    /// from an independent Python implementation, not from the RFC.
    #[test]
    fn inputs_beyond_appendix_c() {
        let session: Vec<u8> = (0..64).collect();
        let input = OcraInput {
            session: Some(&session),
            ..OcraInput::new("ABC")
        };
        assert_eq!(
            respond("OCRA-1:HOTP-SHA256-8:QH08-S064", KEY32, input),
            "65205877"
        );

        let input = OcraInput {
            counter: Some(u64::MAX),
            password: Some(OcraPassword::Plain(b"secret")),
            session: Some(&[0xaa; 128]),
            timestamp: Some(1_234_567_890 / 30),
            ..OcraInput::new("0123456789abcdefABCDEF0123456789abcdef0123456789ABCDEF0123456789")
        };
        let s = "OCRA-1:HOTP-SHA1-10:C-QH64-PSHA256-S128-T30S";
        assert_eq!(respond(s, KEY20, input), "1404820436");

        let full = respond("OCRA-1:HOTP-SHA1-0:QN08", KEY20, OcraInput::new("12345678"));
        assert_eq!(full, "20c95bc9c4f0508d274e75f3e6e8067cbe44c182");

        let pair = OcraInput::new(OcraQuestion::Pair("12345678", "87654321"));
        assert_eq!(respond("OCRA-1:HOTP-SHA256-6:QN08", KEY32, pair), "624284");

        let nines = "9".repeat(64);
        let input = OcraInput::new(nines.as_str());
        assert_eq!(respond("OCRA-1:HOTP-SHA512-4:QN64", KEY64, input), "0417");
    }

    #[test]
    fn decimal_to_hex_matches_formatting() {
        for n in [0u64, 9, 10, 255, 256, 22222222, 12345678, u64::MAX] {
            let want: Vec<u8> = format!("{n:x}")
                .chars()
                .map(|c| c.to_digit(16).unwrap() as u8)
                .collect();
            assert_eq!(decimal_to_hex(&n.to_string()), want, "{n}");
        }
        assert_eq!(decimal_to_hex("00000000"), [0]);
        assert_eq!(decimal_to_hex("0000000255"), [15, 15]);
    }

    #[test]
    fn suites_round_trip() {
        for text in [
            DEFAULT_SUITE,
            "OCRA-1:HOTP-SHA1-6:QN08",
            "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
            "OCRA-1:HOTP-SHA512-8:QN08-T1M",
            "OCRA-1:HOTP-SHA256-8:QA08",
            "OCRA-1:HOTP-SHA512-8:C-QN08",
            "OCRA-1:HOTP-SHA256-8:QH08-S064",
            "OCRA-1:HOTP-SHA1-0:C-QH64-PSHA512-S512-T59S",
            "OCRA-1:HOTP-SHA1-10:QA04-T48H",
            "OCRA-1:HOTP-SHA1-4:QN64-S001",
        ] {
            assert_eq!(suite(text).to_string(), text);
        }
        let s = suite("OCRA-1:HOTP-SHA256-8:C-QH10-PSHA1-S128-T30S");
        assert_eq!(s.algorithm(), Algorithm::Sha256);
        assert_eq!(s.digits(), 8);
        assert!(s.uses_counter());
        assert_eq!(s.question_format(), QuestionFormat::Hex);
        assert_eq!(s.question_len(), 10);
        assert_eq!(s.password_algorithm(), Some(Algorithm::Sha1));
        assert_eq!(s.session_len(), Some(128));
        assert_eq!(s.time_step(), Some(30));
        assert_eq!(OcraSuite::default().to_string(), DEFAULT_SUITE);
    }

    #[test]
    fn refuses_bad_suites() {
        use OcraError::*;
        let owned = |s: &str| s.to_owned();
        let cases = [
            ("OCRA-1:HOTP-SHA1-6", Shape(owned("OCRA-1:HOTP-SHA1-6"))),
            (
                "OCRA-1:HOTP-SHA1-6:QN08:X",
                Shape(owned("OCRA-1:HOTP-SHA1-6:QN08:X")),
            ),
            ("OCRA-2:HOTP-SHA1-6:QN08", Version(owned("OCRA-2"))),
            ("ocra-1:HOTP-SHA1-6:QN08", Version(owned("ocra-1"))),
            (
                "OCRA-1:TOTP-SHA1-6:QN08",
                CryptoFunction(owned("TOTP-SHA1-6")),
            ),
            (
                "OCRA-1:HOTP-MD5-6:QN08",
                CryptoFunction(owned("HOTP-MD5-6")),
            ),
            (
                "OCRA-1:HOTP-sha1-6:QN08",
                CryptoFunction(owned("HOTP-sha1-6")),
            ),
            ("OCRA-1:HOTP-SHA1:QN08", CryptoFunction(owned("HOTP-SHA1"))),
            ("OCRA-1:HOTP-SHA1-3:QN08", Digits(owned("3"))),
            ("OCRA-1:HOTP-SHA1-11:QN08", Digits(owned("11"))),
            ("OCRA-1:HOTP-SHA1-06:QN08", Digits(owned("06"))),
            ("OCRA-1:HOTP-SHA1-+6:QN08", Digits(owned("+6"))),
            ("OCRA-1:HOTP-SHA1-6:", QuestionSpec(owned(""))),
            ("OCRA-1:HOTP-SHA1-6:C", QuestionSpec(owned(""))),
            ("OCRA-1:HOTP-SHA1-6:QX08", QuestionSpec(owned("QX08"))),
            ("OCRA-1:HOTP-SHA1-6:QN03", QuestionSpec(owned("QN03"))),
            ("OCRA-1:HOTP-SHA1-6:QN65", QuestionSpec(owned("QN65"))),
            ("OCRA-1:HOTP-SHA1-6:QN8", QuestionSpec(owned("QN8"))),
            ("OCRA-1:HOTP-SHA1-6:qn08", QuestionSpec(owned("qn08"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-C", DataInput(owned("C"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-X", DataInput(owned("X"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-", DataInput(owned(""))),
            ("OCRA-1:HOTP-SHA1-6:QN08-é", DataInput(owned("é"))),
            (
                "OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1",
                DataInput(owned("PSHA1")),
            ),
            (
                "OCRA-1:HOTP-SHA1-6:QN08-S064-S064",
                DataInput(owned("S064")),
            ),
            ("OCRA-1:HOTP-SHA1-6:QN08-PMD5", PasswordSpec(owned("PMD5"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-S64", SessionSpec(owned("S64"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-S000", SessionSpec(owned("S000"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-T0M", TimeStepSpec(owned("T0M"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-T60S", TimeStepSpec(owned("T60S"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-T49H", TimeStepSpec(owned("T49H"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-T01M", TimeStepSpec(owned("T01M"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-T1D", TimeStepSpec(owned("T1D"))),
            ("OCRA-1:HOTP-SHA1-6:QN08-T", TimeStepSpec(owned("T"))),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<OcraSuite>(), Err(want), "{text}");
        }
    }

    #[test]
    fn refuses_missing_and_unexpected_inputs() {
        let err = |text: &str, input: OcraInput| suite(text).respond(KEY32, &input).unwrap_err();
        let with_counter = OcraInput {
            counter: Some(1),
            ..OcraInput::new("12345678")
        };
        assert_eq!(
            err("OCRA-1:HOTP-SHA512-8:C-QN08", OcraInput::new("12345678")),
            OcraError::Missing("counter")
        );
        assert_eq!(
            err(DEFAULT_SUITE, with_counter),
            OcraError::Unexpected("counter")
        );
        assert_eq!(
            err("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", OcraInput::new("1")),
            OcraError::Missing("password")
        );
        let with_pin = OcraInput {
            password: Some(PIN),
            ..OcraInput::new("1")
        };
        assert_eq!(
            err(DEFAULT_SUITE, with_pin),
            OcraError::Unexpected("password")
        );
        assert_eq!(
            err("OCRA-1:HOTP-SHA256-8:QN08-S064", OcraInput::new("1")),
            OcraError::Missing("session information")
        );
        assert_eq!(
            err("OCRA-1:HOTP-SHA512-8:QN08-T1M", OcraInput::new("1")),
            OcraError::Missing("timestamp")
        );
        let with_time = OcraInput {
            timestamp: Some(T),
            ..OcraInput::new("1")
        };
        assert_eq!(
            err(DEFAULT_SUITE, with_time),
            OcraError::Unexpected("timestamp")
        );
        let short_session = OcraInput {
            session: Some(&[0; 63]),
            ..OcraInput::new("1")
        };
        assert_eq!(
            err("OCRA-1:HOTP-SHA256-8:QN08-S064", short_session),
            OcraError::InputLength {
                what: "session information",
                expected: 64,
                len: 63
            }
        );
        let bad_hash = OcraInput {
            password: Some(OcraPassword::Hashed(&[0; 32])),
            ..OcraInput::new("1")
        };
        assert_eq!(
            err("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", bad_hash),
            OcraError::InputLength {
                what: "password hash",
                expected: 20,
                len: 32
            }
        );
    }

    #[test]
    fn refuses_malformed_questions() {
        let err = |text: &str, q: OcraQuestion| {
            suite(text).respond(KEY32, &OcraInput::new(q)).unwrap_err()
        };
        let too_long = OcraError::QuestionLength { max: 8, len: 9 };
        assert_eq!(err(DEFAULT_SUITE, "123456789".into()), too_long);
        assert_eq!(
            err(DEFAULT_SUITE, "".into()),
            OcraError::QuestionLength { max: 8, len: 0 }
        );
        assert_eq!(
            err(DEFAULT_SUITE, OcraQuestion::Pair("1", "123456789")),
            too_long
        );
        assert_eq!(
            err("OCRA-1:HOTP-SHA256-8:QA08", "SIG10000X".into()),
            too_long
        );
        let numeric = OcraError::QuestionCharacters(QuestionFormat::Numeric);
        for q in ["1234567a", "-1234", "+1234", " 1234", "１２３４"] {
            assert_eq!(err(DEFAULT_SUITE, q.into()), numeric, "{q:?}");
        }
        let hex = OcraError::QuestionCharacters(QuestionFormat::Hex);
        assert_eq!(err("OCRA-1:HOTP-SHA256-8:QH08", "12345G".into()), hex);
        let text = OcraError::QuestionCharacters(QuestionFormat::Alphanumeric);
        assert_eq!(err("OCRA-1:HOTP-SHA256-8:QA08", "SIG 1".into()), text);
        assert_eq!(err("OCRA-1:HOTP-SHA256-8:QA08", "SIGé".into()), text);
    }

    #[test]
    fn errors_name_the_problem_and_hide_secrets() {
        let e = "OCRA-1:HOTP-SHA1-6:QN99".parse::<OcraSuite>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "OCRA suite: question must be QA, QN or QH and a length of 04 to 64, got \"QN99\""
        );
        let s = suite("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1");
        let input = OcraInput {
            password: Some(OcraPassword::Plain(b"hunter2")),
            ..OcraInput::new("12345678")
        };
        let e = s.respond(b"hunter2-key", &input).unwrap_err();
        assert_eq!(
            e.to_string(),
            "OCRA challenge: the suite requires a counter"
        );
        let e = suite(DEFAULT_SUITE)
            .respond(KEY32, &OcraInput::new("12x"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "OCRA challenge: question must be decimal digits"
        );
        let shown = format!("{input:?}");
        assert!(shown.contains("Plain(<redacted>)"), "{shown}");
        assert!(!shown.contains("104, 117, 110"), "{shown}"); // the bytes of "hun"
    }
}
