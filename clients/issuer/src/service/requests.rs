//! Requests a device answers once: transaction signing (docs/protocol.md,
//! "Transaction signing") and OCRA challenges (§6; with a message, the
//! daemon's approvals). Each is stored with a random 16-byte id; its
//! response counts once, before the expiry, against exactly what was
//! stored. A wrong response counts against every request it could have been
//! for (refused after [`MAX_ATTEMPTS`]) and against the serial's failed-code
//! limit, as a wrong one-time code does; a right response to a request that
//! is answered, refused or expired is audited, not counted.

use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use tessera_core::activation::Serial;
use tessera_core::otp::{Code, OcraInput, OcraSuite, QuestionFormat};
use tessera_core::transaction::{Currency, Payment, Transaction, TransactionKeys};

use super::{Actor, Issuer, audit, bound_key, check_digits, now_secs, now_unix, revoked};
use crate::error::{Error, Result};
use crate::store::{Activation, NewRequest, RequestKind, SignRecord, SignState, State, StoreTx};

/// Wrong responses after which a request is refused for good.
pub const MAX_ATTEMPTS: u32 = 3;
/// How long a request may be answered, in seconds, by default and at most.
pub const DEFAULT_EXPIRY: u64 = 300;
pub const MIN_EXPIRY: u64 = 30;
pub const MAX_EXPIRY: u64 = 86_400;
/// Digits of a transaction's response (its suite's `HOTP-SHA256-8`).
const SIGNATURE_DIGITS: usize = 8;
/// A message to approve, at most (bytes): what a notification shows.
const MAX_MESSAGE: usize = 1024;

/// A stored signing request.
#[derive(Debug)]
pub struct SignRequest {
    pub nonce: [u8; 16],
    pub transaction: Transaction,
    /// What the device scans: the sealed request's text.
    pub text: String,
    pub expires_at: u64,
}

/// A stored challenge.
#[derive(Debug)]
pub struct IssuedChallenge {
    pub nonce: [u8; 16],
    pub suite: OcraSuite,
    pub question: String,
    pub expires_at: u64,
}

/// A request whose response was accepted.
#[derive(Debug)]
pub struct Answered {
    pub nonce: Vec<u8>,
    /// The transaction the user approved (signing requests only).
    pub transaction: Option<Transaction>,
}

impl Issuer {
    /// Stores a signing request for the active account `serial`. `render`
    /// gets the request's text before the commit (to draw and write its
    /// image): when it fails, nothing is stored.
    pub fn sign_request<R>(
        &self,
        actor: Actor<'_>,
        serial: &Serial,
        currency: Currency,
        payments: Vec<Payment>,
        expires_in: u64,
        render: impl FnOnce(&str) -> Result<R>,
    ) -> Result<(SignRequest, R)> {
        check_expiry(expires_in)?;
        let nonce = random_nonce();
        let expires_at = now_unix() + expires_in;
        let transaction = Transaction::new(serial.clone(), nonce, expires_at, currency, payments)
            .map_err(Error::input)?;
        let mut tx = self.store.begin()?;
        let a = active(&mut *tx, serial, "signs")?;
        let keys = TransactionKeys::derive(serial, bound_key(&a)?.expose());
        let mut seal_nonce = [0u8; 24];
        OsRng.fill_bytes(&mut seal_nonce);
        let text = keys.seal(&transaction, seal_nonce).map_err(Error::input)?;
        let encoded = transaction.encode();
        tx.insert_sign_request(
            serial,
            new_request(RequestKind::Transaction, &nonce, &encoded, expires_at),
        )?;
        let rendered = render(&text)?;
        audit(&mut *tx, actor, Some(serial), "sign_request", "ok")?;
        tx.commit()?;
        let request = SignRequest {
            nonce,
            transaction,
            text,
            expires_at,
        };
        Ok((request, rendered))
    }

    /// Checks the response a device showed for a signing request of
    /// `serial`: the one with `nonce`, or (when none is given) any of them.
    pub fn verify_signature(
        &self,
        actor: Actor<'_>,
        serial: &Serial,
        nonce: Option<&[u8; 16]>,
        response: &str,
        at: Option<u64>,
    ) -> Result<Answered> {
        check_digits("response", response, SIGNATURE_DIGITS)?;
        self.answer(
            actor,
            serial,
            RequestKind::Transaction,
            nonce,
            response,
            at,
            |a, record| {
                let transaction = Transaction::decode(&record.tx).map_err(|e| {
                    Error::store_data(format!(
                        "{}: signing request {} is unreadable: {e}",
                        a.serial, record.id
                    ))
                })?;
                let keys = TransactionKeys::derive(&a.serial, bound_key(a)?.expose());
                Ok((keys.respond(&transaction), Some(transaction)))
            },
        )
    }

    /// Stores a challenge for the active account `serial`: a random
    /// question, or with `message` the question the daemon's approval of
    /// that message answers (docs/protocol.md, "Approvals").
    pub fn challenge(
        &self,
        actor: Actor<'_>,
        serial: &Serial,
        message: Option<&str>,
        expires_in: u64,
    ) -> Result<IssuedChallenge> {
        check_expiry(expires_in)?;
        let suite = OcraSuite::default();
        let question = match message {
            Some(m) if m.trim().is_empty() => {
                return Err(Error::input(
                    "message: empty; leave it out for a random question",
                ));
            }
            Some(m) if m.len() > MAX_MESSAGE => {
                return Err(Error::input(format!(
                    "message: {} bytes, at most {MAX_MESSAGE}",
                    m.len()
                )));
            }
            Some(m) => suite.message_question(m),
            None => random_question(&suite),
        };
        let nonce = random_nonce();
        let expires_at = now_unix() + expires_in;
        let mut tx = self.store.begin()?;
        active(&mut *tx, serial, "answers challenges")?;
        tx.insert_sign_request(
            serial,
            new_request(
                RequestKind::Challenge,
                &nonce,
                question.as_bytes(),
                expires_at,
            ),
        )?;
        audit(&mut *tx, actor, Some(serial), "challenge", "ok")?;
        tx.commit()?;
        Ok(IssuedChallenge {
            nonce,
            suite,
            question,
            expires_at,
        })
    }

    /// Checks the response to the challenge `nonce` of `serial`.
    pub fn verify_response(
        &self,
        actor: Actor<'_>,
        serial: &Serial,
        nonce: &[u8; 16],
        response: &str,
        at: Option<u64>,
    ) -> Result<Answered> {
        let suite = OcraSuite::default();
        check_digits("response", response, suite.digits() as usize)?;
        self.answer(
            actor,
            serial,
            RequestKind::Challenge,
            Some(nonce),
            response,
            at,
            |a, record| {
                let question = std::str::from_utf8(&record.tx).map_err(|_| {
                    Error::store_data(format!(
                        "{}: challenge {} has an unreadable question",
                        a.serial, record.id
                    ))
                })?;
                let code = suite
                    .respond(bound_key(a)?.expose(), &OcraInput::new(question))
                    .map_err(|e| {
                        Error::store_data(format!("{}: challenge {}: {e}", a.serial, record.id))
                    })?;
                Ok((code, None))
            },
        )
    }

    /// The one check of a response against stored requests (see the
    /// module's comment); `respond` gives a request's right response.
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        actor: Actor<'_>,
        serial: &Serial,
        kind: RequestKind,
        nonce: Option<&[u8; 16]>,
        response: &str,
        at: Option<u64>,
        respond: impl Fn(&Activation, &SignRecord) -> Result<(Code, Option<Transaction>)>,
    ) -> Result<Answered> {
        let (action, what) = match kind {
            RequestKind::Transaction => ("verify_signature", "signing request"),
            RequestKind::Challenge => ("verify_response", "challenge"),
        };
        let now = at.unwrap_or_else(now_unix);
        let stamp = now_secs();
        let mut tx = self.store.begin()?;
        let a = active(&mut *tx, serial, "answers")?;
        self.check_lock(&mut *tx, actor, &a, action, stamp)?;
        let records = tx.sign_requests(serial, kind, nonce)?;
        if records.is_empty() {
            return Err(Error::NotFound(match nonce {
                Some(n) => format!("{serial}: no {what} {}", hex::encode(n)),
                None => format!("{serial}: no {what} was made"),
            }));
        }
        let mut open = Vec::new();
        for record in &records {
            let (right, transaction) = respond(&a, record)?;
            let waiting = record.state == SignState::Pending && now < record.expires_at;
            if !right.matches(response) {
                if waiting {
                    open.push(record.id);
                }
                continue;
            }
            let refusal = match record.state {
                SignState::Pending if waiting => None,
                SignState::Pending => Some((
                    "expired",
                    format!(
                        "{serial}: the {what} expired at {} (Unix time); make a new one",
                        record.expires_at
                    ),
                )),
                SignState::Signed => Some((
                    "replayed",
                    format!("{serial}: this response was accepted before; it counts once"),
                )),
                SignState::Refused => Some((
                    "refused",
                    format!(
                        "{serial}: the {what} was refused after {MAX_ATTEMPTS} wrong responses; \
                         make a new one"
                    ),
                )),
            };
            if let Some((outcome, message)) = refusal {
                audit(&mut *tx, actor, Some(serial), action, outcome)?;
                tx.commit()?;
                return Err(if outcome == "replayed" {
                    Error::Replayed(message)
                } else {
                    Error::Rejected(message)
                });
            }
            tx.mark_signed(record.id, stamp)?;
            if a.failed_attempts > 0 {
                tx.record_failure(serial, 0, None)?;
            }
            audit(&mut *tx, actor, Some(serial), action, "ok")?;
            tx.commit()?;
            return Ok(Answered {
                nonce: record.nonce.clone(),
                transaction,
            });
        }
        for id in &open {
            tx.count_wrong_response(*id, MAX_ATTEMPTS)?;
        }
        let message = if open.is_empty() {
            format!(
                "{serial}: the response does not match, and no {what} is waiting (expired, answered or refused)"
            )
        } else {
            format!("{serial}: the response does not match")
        };
        Err(self.fail(tx, actor, &a, action, "wrong_code", stamp, message, false))
    }
}

/// A payment order, checked: the currency and one payment per amount
/// (`payees`, `accounts` and, when given, `references` alike).
pub fn payment_order(
    currency: &str,
    amounts: &[String],
    payees: &[String],
    accounts: &[String],
    references: &[String],
) -> Result<(Currency, Vec<Payment>)> {
    let currency = Currency::new(currency).map_err(Error::input)?;
    let count = amounts.len();
    if payees.len() != count
        || accounts.len() != count
        || !(references.is_empty() || references.len() == count)
    {
        return Err(Error::input(format!(
            "a batch gives --amount, --payee and --iban once per payment (and --reference \
             once per payment or not at all): got {count} amounts, {} payees, {} accounts, \
             {} references",
            payees.len(),
            accounts.len(),
            references.len()
        )));
    }
    let mut payments = Vec::with_capacity(count);
    for i in 0..count {
        payments.push(Payment {
            amount: currency.parse_amount(&amounts[i]).map_err(Error::input)?,
            payee_name: payees[i].clone(),
            payee_account: accounts[i].clone(),
            reference: references.get(i).cloned().unwrap_or_default(),
        });
    }
    Ok((currency, payments))
}

/// A request's id as the API and the CLI take it: 32 hexadecimal digits.
pub fn parse_request_id(text: &str) -> Result<[u8; 16]> {
    let mut nonce = [0u8; 16];
    hex::decode_to_slice(text, &mut nonce).map_err(|_| {
        Error::input(format!(
            "id {text:?}: 32 hexadecimal digits are needed (as it was given out)"
        ))
    })?;
    Ok(nonce)
}

/// The activation `serial`, which must be active to `does` anything.
fn active(tx: &mut dyn StoreTx, serial: &Serial, does: &str) -> Result<Activation> {
    let a = tx.get(serial)?;
    match a.state {
        State::Active => Ok(a),
        State::Revoked => Err(revoked(serial)),
        other => Err(Error::conflict(format!(
            "{serial}: the activation is {}; only an active account {does} (finalize it first)",
            other.as_str()
        ))),
    }
}

fn check_expiry(expires_in: u64) -> Result<()> {
    if (MIN_EXPIRY..=MAX_EXPIRY).contains(&expires_in) {
        Ok(())
    } else {
        Err(Error::input(format!(
            "expires_in: {expires_in} s; between {MIN_EXPIRY} and {MAX_EXPIRY}"
        )))
    }
}

fn new_request<'a>(
    kind: RequestKind,
    nonce: &'a [u8; 16],
    tx: &'a [u8],
    expires_at: u64,
) -> NewRequest<'a> {
    NewRequest {
        kind,
        nonce,
        tx,
        expires_at,
        created_at: now_secs(),
    }
}

fn random_nonce() -> [u8; 16] {
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    nonce
}

/// A uniformly random question of the suite's full length.
fn random_question(suite: &OcraSuite) -> String {
    let alphabet: &[u8] = match suite.question_format() {
        QuestionFormat::Numeric => b"0123456789",
        QuestionFormat::Hex | QuestionFormat::Alphanumeric => b"0123456789abcdef",
    };
    (0..suite.question_len())
        .map(|_| char::from(alphabet[OsRng.gen_range(0..alphabet.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_questions_fit_the_suite_and_differ() {
        let suite = OcraSuite::default();
        let a = random_question(&suite);
        assert_eq!(a.len(), suite.question_len());
        assert!(a.bytes().all(|b| b.is_ascii_digit()), "{a}");
        assert!(suite.respond(b"key", &OcraInput::new(a.as_str())).is_ok());
        let many: std::collections::HashSet<String> =
            (0..50).map(|_| random_question(&suite)).collect();
        assert!(many.len() > 45, "{} distinct of 50", many.len());
    }

    #[test]
    fn expiries_are_bounded() {
        assert!(check_expiry(DEFAULT_EXPIRY).is_ok());
        assert!(check_expiry(MIN_EXPIRY - 1).is_err());
        assert!(check_expiry(MAX_EXPIRY + 1).is_err());
    }
}
