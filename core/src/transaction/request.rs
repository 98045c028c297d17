//! A transaction sealed for one device, and the code that answers it.
//!
//! ```text
//! K_tx  = HKDF-SHA256(salt = SN, ikm = IK, info = "tessera/v1/transaction-key", 32)
//! K_sig = HKDF-SHA256(salt = SN, ikm = IK, info = "tessera/v1/transaction-signature", 32)
//! AAD   = "tessera/v1/sign" ‖ SN
//! box   = N (24 random bytes) ‖ XChaCha20-Poly1305(K_tx, N, T, AAD)
//! text  = "tessera://sign?v=1&sn=" SN "&tx=" base64url(box)   (no padding)
//! R     = OCRA-1:HOTP-SHA256-8:QH64 under K_sig, Q = hex(SHA-256(T))
//! ```
//!
//! `IK` is the account's instance key (PROTOCOL.md §4), which only this
//! device instance and the issuer hold; `T` is the canonical transaction.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{Transaction, TransactionError};
use crate::activation::Serial;
use crate::otp::Code;
use crate::otp::{OcraInput, OcraSuite};

/// The OCRA suite of a transaction's response: 8 digits over the 32-byte
/// digest of the canonical transaction, as 64 hex digits.
pub const RESPONSE_SUITE: &str = "OCRA-1:HOTP-SHA256-8:QH64";
/// The start of a signing request's text.
pub const REQUEST_PREFIX: &str = "tessera://sign?";
/// The longest request text read (a canonical transaction's limit, sealed
/// and in base64, with its parameters).
pub const MAX_REQUEST_TEXT: usize = 3000;

const KEY_INFO: &[u8] = b"tessera/v1/transaction-key";
const SIGNATURE_INFO: &[u8] = b"tessera/v1/transaction-signature";
const AAD_PREFIX: &[u8] = b"tessera/v1/sign";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The two keys of one account's transactions, derived from its instance
/// key. Zeroized when dropped; never printed.
pub struct TransactionKeys {
    serial: Serial,
    seal: Zeroizing<[u8; 32]>,
    sign: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for TransactionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionKeys")
            .field("serial", &self.serial.as_str())
            .finish_non_exhaustive()
    }
}

impl TransactionKeys {
    /// The keys of the account `serial` whose instance key is `instance_key`.
    pub fn derive(serial: &Serial, instance_key: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(serial.as_str().as_bytes()), instance_key);
        let mut seal = Zeroizing::new([0u8; 32]);
        let mut sign = Zeroizing::new([0u8; 32]);
        hk.expand(KEY_INFO, seal.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 length");
        hk.expand(SIGNATURE_INFO, sign.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 length");
        Self {
            serial: serial.clone(),
            seal,
            sign,
        }
    }

    fn aad(&self) -> Vec<u8> {
        [AAD_PREFIX, self.serial.as_str().as_bytes()].concat()
    }

    /// The request text of `tx`, sealed under `nonce` (24 random bytes,
    /// never used twice with these keys).
    pub fn seal(
        &self,
        tx: &Transaction,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, TransactionError> {
        if tx.serial != self.serial {
            return Err(TransactionError::SerialMismatch {
                outside: self.serial.to_string(),
                inside: tx.serial.to_string(),
            });
        }
        let cipher = XChaCha20Poly1305::new(self.seal.as_ref().into());
        let aad = self.aad();
        let plain = tx.encode();
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length we make");
        let mut boxed = nonce.to_vec();
        boxed.extend_from_slice(&sealed);
        Ok(format!(
            "{REQUEST_PREFIX}v=1&sn={}&tx={}",
            self.serial,
            URL_SAFE_NO_PAD.encode(boxed)
        ))
    }

    /// Opens a request addressed to this account: the transaction inside,
    /// checked (not yet for its expiry: [`Transaction::check_fresh`]).
    pub fn open(&self, request: &SignRequest) -> Result<Transaction, TransactionError> {
        if request.serial != self.serial {
            return Err(TransactionError::WrongDevice);
        }
        let cipher = XChaCha20Poly1305::new(self.seal.as_ref().into());
        let aad = self.aad();
        let (nonce, sealed) = request.sealed.split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| TransactionError::WrongDevice)?,
        );
        let tx = Transaction::decode(&plain)?;
        if tx.serial != request.serial {
            return Err(TransactionError::SerialMismatch {
                outside: request.serial.to_string(),
                inside: tx.serial.to_string(),
            });
        }
        Ok(tx)
    }

    /// The response code to `tx`: what the user types into the issuer's page.
    pub fn respond(&self, tx: &Transaction) -> Code {
        let suite: OcraSuite = RESPONSE_SUITE.parse().expect("the response suite parses");
        let question = hex_upper(&tx.digest());
        suite
            .respond(self.sign.as_ref(), &OcraInput::new(question.as_str()))
            .expect("a 64-digit hex question fits QH64")
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A signing request as read from an image: addressed to a serial, sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct SignRequest {
    pub serial: Serial,
    sealed: Vec<u8>,
}

impl fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignRequest")
            .field("serial", &self.serial.as_str())
            .field("sealed_bytes", &self.sealed.len())
            .finish()
    }
}

impl SignRequest {
    /// Whether `text` claims to be a signing request (so an image holding
    /// one is answered as such, not as an unknown payload).
    pub fn is_request(text: &str) -> bool {
        text.starts_with(REQUEST_PREFIX)
    }

    /// Reads the request text: `v=1`, `sn` and `tx`, each once, nothing else.
    pub fn parse(text: &str) -> Result<Self, TransactionError> {
        let bad = |m: &str| TransactionError::Request(m.to_owned());
        if text.len() > MAX_REQUEST_TEXT {
            return Err(TransactionError::Request(format!(
                "{} characters is over the limit of {MAX_REQUEST_TEXT}",
                text.len()
            )));
        }
        let query = text
            .strip_prefix(REQUEST_PREFIX)
            .ok_or_else(|| bad("not a signing request (expected tessera://sign?…)"))?;
        let (mut version, mut serial, mut sealed) = (None, None, None);
        for pair in query.split('&') {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| bad("a parameter without a value"))?;
            let slot = match name {
                "v" => &mut version,
                "sn" => &mut serial,
                "tx" => &mut sealed,
                other => {
                    let shown: String = other.chars().take(16).collect();
                    return Err(TransactionError::Request(format!(
                        "unknown parameter {shown:?}"
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(TransactionError::Request(format!("{name} given twice")));
            }
        }
        match version {
            Some("1") => {}
            Some(v) => {
                let shown: String = v.chars().take(8).collect();
                return Err(TransactionError::Request(format!(
                    "version {shown:?} is not supported (this reader knows version 1)"
                )));
            }
            None => return Err(bad("the version (v) is missing")),
        }
        let serial: Serial = serial
            .ok_or_else(|| bad("the serial (sn) is missing"))?
            .parse()
            .map_err(|_| bad("the serial (sn) is not 10 characters A-Z 0-9"))?;
        let sealed = URL_SAFE_NO_PAD
            .decode(sealed.ok_or_else(|| bad("the transaction (tx) is missing"))?)
            .map_err(|_| bad("the transaction (tx) is not base64url"))?;
        if sealed.len() < NONCE_LEN + TAG_LEN + super::MAGIC.len() {
            return Err(bad("the transaction (tx) is too short to be sealed"));
        }
        Ok(Self { serial, sealed })
    }
}
