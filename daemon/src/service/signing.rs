//! Transaction signing (docs/protocol.md, "Transaction signing"): a
//! signing request read from an image, the camera, the screen or a pasted
//! text; the transaction decoded and shown (only what was decoded, never
//! anything the caller sends); approved with the PIN or a finger; answered
//! with the response code. The states are `signing::machine`'s.
//!
//! A request opens only with the keys of the account its serial names
//! (derived from that account's instance key): an image made for another
//! device, or altered, is refused. A signed request is remembered (its
//! serial and nonce) for as long as the daemon runs, so the same image
//! cannot be signed twice; the issuer refuses a second use of a response
//! in any case.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tessera_core::SecretString;
use tessera_core::transaction::{SignRequest, Transaction, TransactionError, TransactionKeys};

use super::Service;
use super::scanning::ScanSource;
use crate::account::{AccountInfo, AccountKind};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::signing::{Event, State, transition};
use crate::vault::SlotKind;

/// Most signings kept at once (finished ones are dropped first).
pub const MAX_SIGNINGS: usize = 8;

/// Where a signing request comes from.
pub enum SigningSource {
    /// A scanner source (image bytes, a camera, the screen).
    Scan(ScanSource),
    /// The request's text, pasted or from a link.
    Text(String),
}

/// How the user confirms an approval.
pub enum Confirmation {
    /// The vault's PIN (counted as any wrong PIN when wrong).
    Pin(SecretString),
    /// A finger on the reader (the vault must have biometrics enabled).
    Finger,
    /// Nothing more: only for a vault without a PIN (keyring protection),
    /// whose login session is the proof.
    Session,
}

/// One payment as the user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentView {
    /// With its currency: `125.00 EUR`.
    pub amount: String,
    pub payee: String,
    pub account: String,
    pub reference: String,
}

/// A signing as clients see it: the decoded fields, where it is, and the
/// response once signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningView {
    pub id: String,
    /// `review`, `signed`, `declined`, `expired`.
    pub state: &'static str,
    pub account: AccountInfo,
    pub serial: String,
    pub payments: Vec<PaymentView>,
    /// The sum, with its currency.
    pub total: String,
    pub expires_unix: u64,
    /// The 8-digit response, in `signed` only.
    pub response: Option<String>,
}

struct Signing {
    tx: Transaction,
    keys: TransactionKeys,
    account: AccountInfo,
    state: State,
    /// When it was started, for dropping the oldest finished ones.
    order: u64,
}

#[derive(Default)]
pub(crate) struct Signings {
    open: Mutex<HashMap<String, Signing>>,
    /// (serial, nonce) of every request signed since start-up.
    signed: Mutex<HashSet<(String, [u8; 16])>>,
    started: std::sync::atomic::AtomicU64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn refused(e: TransactionError) -> ServiceError {
    match e {
        TransactionError::Expired { .. } => ServiceError::new(ErrorCode::Expired, e),
        _ => ServiceError::new(ErrorCode::InvalidPayload, e),
    }
}

impl Service {
    /// Reads a signing request and opens it for review.
    pub async fn start_signing(&self, source: SigningSource) -> ServiceResult<SigningView> {
        let texts = match source {
            SigningSource::Scan(scan) => self.scan_texts(scan, None).await?,
            SigningSource::Text(text) => vec![text],
        };
        let Some(text) = texts.iter().find(|t| SignRequest::is_request(t)) else {
            let activation = texts
                .iter()
                .any(|t| tessera_core::payload::parse(t).is_ok());
            return Err(ServiceError::new(
                ErrorCode::InvalidPayload,
                if activation {
                    "this is an activation image, not a signing request: use `tessera activate`"
                } else {
                    "no signing request found (expected a code holding tessera://sign?…)"
                },
            ));
        };
        let request = SignRequest::parse(text).map_err(refused)?;
        self.ensure_unlocked().await?;
        let serial = request.serial.clone();
        let found = self
            .with_vault(move |v| -> ServiceResult<_> {
                let account = v.accounts()?.iter().find(
                    |a| matches!(&a.kind, AccountKind::Tessera { serial: s, .. } if *s == serial),
                );
                Ok(account.map(|a| {
                    (
                        AccountInfo::from(a),
                        TransactionKeys::derive(&serial, a.secret.expose()),
                    )
                }))
            })
            .await??;
        let Some((account, keys)) = found else {
            return Err(ServiceError::new(
                ErrorCode::NotFound,
                format!(
                    "no account with serial {} on this device: the request was made for another device",
                    request.serial
                ),
            ));
        };
        let tx = keys.open(&request).map_err(refused)?;
        tx.check_fresh(now()).map_err(refused)?;
        if self.signings().was_signed(&tx) {
            return Err(ServiceError::new(
                ErrorCode::AlreadyExists,
                "this request was signed before; a request is signed once (ask for a new one)",
            ));
        }
        let id = random_id();
        let signings = self.signings();
        let mut open = signings.open.lock().expect("poisoned");
        if open.len() >= MAX_SIGNINGS {
            let oldest_done = open
                .iter()
                .filter(|(_, s)| s.state.is_final())
                .min_by_key(|(_, s)| s.order)
                .map(|(id, _)| id.clone());
            match oldest_done {
                Some(done) => {
                    open.remove(&done);
                }
                None => {
                    return Err(ServiceError::new(
                        ErrorCode::Busy,
                        format!(
                            "{MAX_SIGNINGS} signings are waiting for a decision; approve or decline one first"
                        ),
                    ));
                }
            }
        }
        let order = signings
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let signing = Signing {
            tx,
            keys,
            account,
            state: State::Review,
            order,
        };
        let view = signing.view(&id);
        tracing::info!(serial = %view.serial, "signing request opened for review");
        open.insert(id, signing);
        Ok(view)
    }

    /// One signing, as it is now (an expired review becomes `expired`).
    pub fn signing(&self, id: &str) -> ServiceResult<SigningView> {
        self.step(id, Event::Tick { now: now() })
    }

    /// The user declines: nothing is signed.
    pub fn decline_signing(&self, id: &str) -> ServiceResult<SigningView> {
        self.step(id, Event::Decline)
    }

    /// The user approves with `approval`; the view then holds the response.
    pub async fn approve_signing(
        &self,
        id: &str,
        confirmation: Confirmation,
    ) -> ServiceResult<SigningView> {
        // Still under review (and not expired) before asking for anything.
        let view = self.signing(id)?;
        if view.state != "review" {
            return Err(ServiceError::new(
                if view.state == "expired" {
                    ErrorCode::Expired
                } else {
                    ErrorCode::InvalidEvent
                },
                format!("this signing is {}; it cannot be approved", view.state),
            ));
        }
        match confirmation {
            Confirmation::Pin(pin) => {
                self.with_vault(move |v| {
                    if !v.has_pin() {
                        return Err(ServiceError::invalid_argument(
                            "this vault has no PIN (keyring protection): approve without one",
                        ));
                    }
                    v.verify_pin(&pin, SystemTime::now())
                        .map_err(|e| super::vault_ops::pin_error(v, e))
                })
                .await??;
            }
            Confirmation::Finger => {
                let enabled = self
                    .vault()
                    .lock()
                    .await
                    .slots()
                    .contains(&SlotKind::Biometric);
                if !enabled {
                    return Err(ServiceError::new(
                        ErrorCode::BiometricsUnavailable,
                        "biometrics are not enabled for this vault; approve with the PIN",
                    ));
                }
                self.finger_matches("approve").await?;
            }
            Confirmation::Session => {
                if self.vault().lock().await.has_pin() {
                    return Err(ServiceError::new(
                        ErrorCode::WrongPin,
                        "approving a payment needs the vault's PIN (or a finger)",
                    ));
                }
            }
        }
        let view = self.step(id, Event::Approve { now: now() })?;
        if view.state == "expired" {
            return Err(ServiceError::new(
                ErrorCode::Expired,
                "the request expired while it was being approved; nothing was signed",
            ));
        }
        tracing::info!(serial = %view.serial, "transaction signed");
        Ok(view)
    }

    fn signings(&self) -> &Signings {
        &self.inner.signings
    }

    fn step(&self, id: &str, event: Event) -> ServiceResult<SigningView> {
        let signings = self.signings();
        let mut open = signings.open.lock().expect("poisoned");
        let signing = open.get_mut(id).ok_or_else(|| {
            ServiceError::new(
                ErrorCode::NotFound,
                "no such signing (it ended, or the daemon restarted): scan the request again",
            )
        })?;
        if matches!(event, Event::Approve { .. }) && signings.was_signed(&signing.tx) {
            return Err(ServiceError::new(
                ErrorCode::AlreadyExists,
                "this request was signed before; a request is signed once (ask for a new one)",
            ));
        }
        let next = match transition(&signing.state, event, &signing.tx, &signing.keys) {
            Ok(next) => next,
            // Looking at a finished signing changes nothing.
            Err(_) if matches!(event, Event::Tick { .. }) => signing.state.clone(),
            Err(refusal) => return Err(ServiceError::new(ErrorCode::InvalidEvent, refusal)),
        };
        if matches!(next, State::Signed(_)) {
            signings
                .signed
                .lock()
                .expect("poisoned")
                .insert((signing.tx.serial.to_string(), signing.tx.nonce));
        }
        signing.state = next;
        Ok(signing.view(id))
    }
}

impl Signings {
    fn was_signed(&self, tx: &Transaction) -> bool {
        self.signed
            .lock()
            .expect("poisoned")
            .contains(&(tx.serial.to_string(), tx.nonce))
    }
}

impl Signing {
    fn view(&self, id: &str) -> SigningView {
        let c = self.tx.currency;
        SigningView {
            id: id.to_owned(),
            state: self.state.name(),
            account: self.account.clone(),
            serial: self.tx.serial.to_string(),
            payments: self
                .tx
                .payments
                .iter()
                .map(|p| PaymentView {
                    amount: c.format(p.amount),
                    payee: p.payee_name.clone(),
                    account: p.payee_account.clone(),
                    reference: p.reference.clone(),
                })
                .collect(),
            total: c.format(self.tx.total()),
            expires_unix: self.tx.expires_at,
            response: match &self.state {
                State::Signed(code) => Some(code.as_str().to_owned()),
                _ => None,
            },
        }
    }
}

fn random_id() -> String {
    let bytes: [u8; 12] = rand::random();
    hex::encode(bytes)
}
