//! Transaction signing (docs/protocol.md, "Transaction signing"): what the
//! user is asked to approve, encoded one way only, sealed for one device,
//! and answered with an OCRA code bound to exactly those bytes.
//!
//! - [`Transaction`]: a payment or a batch, its canonical encoding
//!   ([`Transaction::encode`], [`Transaction::decode`]) and its checks.
//! - [`Currency`]: ISO 4217 code and minor units; amounts typed and shown.
//! - [`request`]: the keys derived from the account's instance key, the
//!   sealed request text (`tessera://sign?…`), the response code.
//!
//! The encoding is hand-written because it is the protocol: every byte is
//! specified in docs/protocol.md and the vectors there are tests.

use std::fmt;

use sha2::{Digest, Sha256};
use unicode_normalization::{UnicodeNormalization, is_nfc};

use crate::activation::Serial;
use crate::text::unsafe_char;

pub mod request;

pub use request::{RESPONSE_SUITE, SignRequest, TransactionKeys};

/// The first bytes of a canonical transaction: `TTX` and version 1.
pub const MAGIC: &[u8; 4] = b"TTX\x01";
/// The longest canonical transaction.
pub const MAX_TRANSACTION_BYTES: usize = 2048;
/// Most payments in a batch.
pub const MAX_PAYMENTS: usize = 16;
/// Longest payee name, in characters (SEPA's creditor name).
pub const MAX_PAYEE_NAME: usize = 70;
/// Longest payee account, in characters (an IBAN's 34).
pub const MAX_PAYEE_ACCOUNT: usize = 34;
/// Longest reference, in characters (SEPA's unstructured remittance).
pub const MAX_REFERENCE: usize = 140;

/// Why a transaction, a request or a response was refused. Messages name
/// the field at fault and never hold a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("transaction: {0}")]
    Field(String),
    #[error("transaction: {len} bytes is over the limit of {MAX_TRANSACTION_BYTES}")]
    TooLarge { len: usize },
    #[error("transaction: not a Tessera transaction (no TTX header)")]
    NotATransaction,
    #[error("transaction: version {0} is not supported (this reader knows version 1)")]
    UnsupportedVersion(u8),
    #[error("transaction: the encoding is malformed ({0})")]
    Malformed(&'static str),
    #[error("signing request: {0}")]
    Request(String),
    #[error(
        "signing request: it was not made for this device, or it was altered on the way \
         (its seal does not open with this account's key)"
    )]
    WrongDevice,
    #[error("signing request: it is for serial {inside}, but was addressed to {outside}")]
    SerialMismatch { outside: String, inside: String },
    #[error("signing request: it expired at {expires_at} (Unix time); ask for a new one")]
    Expired { expires_at: u64 },
}

fn field(message: impl Into<String>) -> TransactionError {
    TransactionError::Field(message.into())
}

/// An ISO 4217 currency: its three letters and its minor units.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// ISO 4217 currencies whose minor unit is not 2 (the list of 2024).
const EXPONENTS: &[(&str, u8)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

impl Currency {
    /// A currency by its code (three upper-case letters), with the minor
    /// units ISO 4217 gives it.
    pub fn new(code: &str) -> Result<Self, TransactionError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(field(format!(
                "currency {code:?}: expected an ISO 4217 code of three upper-case letters, e.g. EUR"
            )));
        }
        let exponent = EXPONENTS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(2, |(_, e)| *e);
        Ok(Self {
            code: [bytes[0], bytes[1], bytes[2]],
            exponent,
        })
    }

    /// The three letters.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("checked ASCII")
    }

    /// Digits after the decimal point.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// An amount as typed (`125`, `125.5`, `125.00`) in minor units. No
    /// sign, no thousands separators, no more decimals than the currency has.
    pub fn parse_amount(&self, text: &str) -> Result<u64, TransactionError> {
        let bad = || {
            field(format!(
                "amount {text:?}: expected digits with at most {} decimals, e.g. {}",
                self.exponent,
                self.format_number(12_500 * 10u64.pow(u32::from(self.exponent)) / 100)
            ))
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || fraction.len() > usize::from(self.exponent)
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(bad());
        }
        let scale = 10u64.pow(u32::from(self.exponent));
        let padded = format!("{fraction:0<width$}", width = usize::from(self.exponent));
        let minor = whole
            .parse::<u64>()
            .ok()
            .and_then(|w| w.checked_mul(scale))
            .and_then(|w| w.checked_add(padded.parse::<u64>().unwrap_or(0)))
            .ok_or_else(bad)?;
        if minor == 0 {
            return Err(field(format!("amount {text:?}: must be more than zero")));
        }
        Ok(minor)
    }

    /// An amount in minor units, written with its decimals: `125.00`.
    pub fn format_number(&self, minor: u64) -> String {
        if self.exponent == 0 {
            return minor.to_string();
        }
        let scale = 10u64.pow(u32::from(self.exponent));
        format!(
            "{}.{:0width$}",
            minor / scale,
            minor % scale,
            width = usize::from(self.exponent)
        )
    }

    /// An amount with its currency: `125.00 EUR`.
    pub fn format(&self, minor: u64) -> String {
        format!("{} {}", self.format_number(minor), self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// One payment: how much, to whom, what for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    /// In the currency's minor units (cents).
    pub amount: u64,
    /// The payee's name, NFC, as the bank has it.
    pub payee_name: String,
    /// The payee's account: an IBAN or another account number, upper-case
    /// letters and digits without spaces.
    pub payee_account: String,
    /// The payer's reference, possibly empty.
    pub reference: String,
}

/// What a user is asked to sign: one payment, or a batch with its total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The account (device) it is for.
    pub serial: Serial,
    /// The issuer's nonce: no two requests share one.
    pub nonce: [u8; 16],
    /// The end of its validity, Unix seconds.
    pub expires_at: u64,
    pub currency: Currency,
    /// One payment, or a batch of up to [`MAX_PAYMENTS`].
    pub payments: Vec<Payment>,
}

impl Transaction {
    /// A transaction after its checks: names and references normalised to
    /// NFC (what is shown is what is signed), accounts without spaces and in
    /// upper case, every field within its limits.
    pub fn new(
        serial: Serial,
        nonce: [u8; 16],
        expires_at: u64,
        currency: Currency,
        payments: Vec<Payment>,
    ) -> Result<Self, TransactionError> {
        let payments = payments
            .into_iter()
            .map(|p| Payment {
                amount: p.amount,
                payee_name: p.payee_name.trim().nfc().collect(),
                payee_account: p
                    .payee_account
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_ascii_uppercase(),
                reference: p.reference.trim().nfc().collect(),
            })
            .collect();
        let tx = Self {
            serial,
            nonce,
            expires_at,
            currency,
            payments,
        };
        tx.check()?;
        let len = tx.encode().len();
        if len > MAX_TRANSACTION_BYTES {
            return Err(TransactionError::TooLarge { len });
        }
        Ok(tx)
    }

    /// The sum of the payments (checked not to overflow by [`Self::new`] and
    /// [`Self::decode`]).
    pub fn total(&self) -> u64 {
        self.payments.iter().map(|p| p.amount).sum()
    }

    /// Whether this is a batch of several payments.
    pub fn is_batch(&self) -> bool {
        self.payments.len() > 1
    }

    /// Refuses a transaction whose validity ended before `now`.
    pub fn check_fresh(&self, now: u64) -> Result<(), TransactionError> {
        if now >= self.expires_at {
            return Err(TransactionError::Expired {
                expires_at: self.expires_at,
            });
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TransactionError> {
        if self.payments.is_empty() {
            return Err(field("there is no payment"));
        }
        if self.payments.len() > MAX_PAYMENTS {
            return Err(field(format!(
                "{} payments; a batch holds at most {MAX_PAYMENTS}",
                self.payments.len()
            )));
        }
        if self.expires_at == 0 {
            return Err(field("the expiry is missing"));
        }
        let mut total = 0u64;
        for (i, p) in self.payments.iter().enumerate() {
            let which = if self.payments.len() == 1 {
                String::new()
            } else {
                format!("payment {}: ", i + 1)
            };
            if p.amount == 0 {
                return Err(field(format!("{which}the amount must be more than zero")));
            }
            total = total
                .checked_add(p.amount)
                .ok_or_else(|| field("the batch total is too large"))?;
            check_text(&which, "payee name", &p.payee_name, 1, MAX_PAYEE_NAME)?;
            check_text(&which, "reference", &p.reference, 0, MAX_REFERENCE)?;
            check_account(&which, &p.payee_account)?;
        }
        Ok(())
    }

    /// The canonical encoding (docs/protocol.md):
    ///
    /// ```text
    /// "TTX" 0x01 ‖ SN (10 bytes) ‖ nonce (16) ‖ be64(expires_at)
    ///   ‖ currency (3 ASCII) ‖ exponent (1) ‖ count (1)
    ///   ‖ count × ( be64(amount) ‖ str(payee name) ‖ str(payee account) ‖ str(reference) )
    ///   ‖ be64(total)
    /// str(s) = be16(len(s)) ‖ UTF-8(s)
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(self.serial.as_str().as_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(&self.currency.code);
        out.push(self.currency.exponent);
        out.push(self.payments.len() as u8);
        for p in &self.payments {
            out.extend_from_slice(&p.amount.to_be_bytes());
            for s in [&p.payee_name, &p.payee_account, &p.reference] {
                out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
        out.extend_from_slice(&self.total().to_be_bytes());
        out
    }

    /// Reads a canonical encoding. Anything else is refused: other
    /// versions, trailing bytes, text that is not NFC, a total that is not
    /// the sum, a currency whose minor units are not ISO 4217's.
    pub fn decode(bytes: &[u8]) -> Result<Self, TransactionError> {
        if bytes.len() > MAX_TRANSACTION_BYTES {
            return Err(TransactionError::TooLarge { len: bytes.len() });
        }
        if bytes.len() < 4 || &bytes[..3] != b"TTX" {
            return Err(TransactionError::NotATransaction);
        }
        if bytes[3] != MAGIC[3] {
            return Err(TransactionError::UnsupportedVersion(bytes[3]));
        }
        let mut r = Reader(&bytes[4..]);
        let serial = std::str::from_utf8(r.take(10)?)
            .ok()
            .and_then(|s| s.parse::<Serial>().ok())
            .ok_or(TransactionError::Malformed("the serial"))?;
        let nonce: [u8; 16] = r.take(16)?.try_into().expect("16 bytes");
        let expires_at = r.u64()?;
        let code = std::str::from_utf8(r.take(3)?)
            .map_err(|_| TransactionError::Malformed("the currency"))?
            .to_owned();
        let currency = Currency::new(&code)?;
        if r.take(1)?[0] != currency.exponent {
            return Err(field(format!(
                "the minor units given for {code} are not ISO 4217's ({})",
                currency.exponent
            )));
        }
        let count = usize::from(r.take(1)?[0]);
        let mut payments = Vec::with_capacity(count.min(MAX_PAYMENTS));
        for _ in 0..count.min(MAX_PAYMENTS + 1) {
            let amount = r.u64()?;
            let payee_name = r.text()?;
            let payee_account = r.text()?;
            let reference = r.text()?;
            payments.push(Payment {
                amount,
                payee_name,
                payee_account,
                reference,
            });
        }
        let tx = Self {
            serial,
            nonce,
            expires_at,
            currency,
            payments,
        };
        tx.check()?;
        let total = r.u64()?;
        if total != tx.total() {
            return Err(field("the batch total is not the sum of its payments"));
        }
        if !r.0.is_empty() {
            return Err(TransactionError::Malformed("bytes after the total"));
        }
        Ok(tx)
    }

    /// SHA-256 of the canonical encoding: the OCRA question.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }
}

fn check_text(
    which: &str,
    name: &str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<(), TransactionError> {
    let chars = text.chars().count();
    if chars < min || text.trim().len() < text.len() || (min > 0 && text.trim().is_empty()) {
        return Err(field(format!(
            "{which}the {name} is {}",
            if chars < min || text.trim().is_empty() {
                "missing"
            } else {
                "padded with spaces"
            }
        )));
    }
    if chars > max {
        return Err(field(format!(
            "{which}the {name} is {chars} characters; the limit is {max}"
        )));
    }
    if let Some((c, what)) = text.chars().find_map(|c| unsafe_char(c).map(|w| (c, w))) {
        return Err(field(format!(
            "{which}the {name} contains {what} (U+{:04X}), which can make it look like another",
            u32::from(c)
        )));
    }
    if !is_nfc(text) {
        return Err(field(format!(
            "{which}the {name} is not in Unicode normal form C"
        )));
    }
    Ok(())
}

fn check_account(which: &str, account: &str) -> Result<(), TransactionError> {
    let len = account.len();
    if len == 0 {
        return Err(field(format!("{which}the payee account is missing")));
    }
    if len > MAX_PAYEE_ACCOUNT
        || !account
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(field(format!(
            "{which}the payee account must be up to {MAX_PAYEE_ACCOUNT} upper-case letters and digits"
        )));
    }
    let b = account.as_bytes();
    let looks_like_iban = len >= 15
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_uppercase()
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit();
    if looks_like_iban && !iban_checks(account) {
        return Err(field(format!(
            "{which}the payee account {account} is not a valid IBAN (its check digits are wrong)"
        )));
    }
    Ok(())
}

/// ISO 13616's check: the country and check digits moved to the end, letters
/// as 10–35, the number mod 97 is 1 (the same MOD 97-10 as activation codes).
fn iban_checks(iban: &str) -> bool {
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    let mut rem = 0u32;
    for b in rearranged {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if value >= 10 {
            (rem * 100 + value) % 97
        } else {
            (rem * 10 + value) % 97
        };
    }
    rem == 1
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TransactionError> {
        if self.0.len() < n {
            return Err(TransactionError::Malformed("it ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, TransactionError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn text(&mut self) -> Result<String, TransactionError> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes"));
        let bytes = self.take(usize::from(len))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| TransactionError::Malformed("text is not UTF-8"))
    }
}

#[cfg(test)]
mod tests;
