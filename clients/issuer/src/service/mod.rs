//! The issuer's operations, over any [`Store`]: the one place that decides.
//! The command line (`commands.rs`) and the HTTP API (`server/`) only
//! translate to and from them.
//!
//! Each operation runs in one transaction: it reads the activation (locked),
//! decides, writes the change and its audit line, and commits; an operation
//! that fails writes nothing, except a refused code, whose failure count
//! (and lock) and audit line are the change it commits.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use sha2::{Digest, Sha256};
use tessera_core::activation::{
    ActivationCode, ActivationKey, Challenge, DeviceCode, Serial, finalize_code, instance_key,
};
use tessera_core::otp::{self, OtpKind, OtpParams};
use tessera_core::payload::{Form, MAX_PAYLOAD_BYTES, OtpField, TesseraPayload};
use tessera_core::signature::IssuerSigningKey;
use zeroize::Zeroizing;

mod requests;

pub use requests::{
    Answered, DEFAULT_EXPIRY, IssuedChallenge, MAX_ATTEMPTS, MAX_EXPIRY, MIN_EXPIRY, SignRequest,
    parse_request_id, payment_order,
};

use crate::error::{Error, Result};
use crate::store::{Activation, ApiClient, AuditEvent, NewActivation, State, Store, StoreTx};

/// Default verify window for TOTP: one step either side.
pub const DEFAULT_TOTP_WINDOW: u32 = 1;
/// Default verify window for HOTP: counters looked ahead.
pub const DEFAULT_HOTP_WINDOW: u32 = 10;
/// Length of the finalize code (PROTOCOL.md §5).
pub const FINALIZE_DIGITS: usize = 8;

/// Limits on failed codes, shared by every instance through the store.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Consecutive failed codes (one-time or finalize) after which a serial
    /// is locked.
    pub max_failures: u32,
    /// How long the lock lasts, in seconds.
    pub lock_seconds: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lock_seconds: 300,
        }
    }
}

/// Who asks: `cli`, or an API client's name. Written in the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a>(pub &'a str);

impl Actor<'_> {
    pub const CLI: Actor<'static> = Actor("cli");
}

/// What a new activation is made of.
#[derive(Default)]
pub struct CreateRequest {
    pub serial: Option<Serial>,
    pub key: Option<ActivationKey>,
    pub label: Option<String>,
    pub issuer: Option<String>,
    pub user_id: Option<String>,
    pub challenge: Option<Challenge>,
    pub otp: Option<OtpParams>,
    pub form: Option<Form>,
    /// The client's idempotency key: the same id from the same client gets
    /// the same activation back while it is unbound.
    pub request_id: Option<String>,
}

/// A new (or, for a repeated request id, the same) activation.
pub struct Created {
    pub serial: Serial,
    pub code: ActivationCode,
    pub payload: String,
    pub form: Form,
    pub otp: OtpParams,
    pub signed_by: Option<String>,
    /// The request id was seen before: nothing new was made.
    pub repeated: bool,
}

/// A binding.
#[derive(Debug)]
pub struct Bound {
    pub device_instance: u32,
    /// The device instance this binding replaced, if another one.
    pub replaced: Option<u32>,
}

/// An accepted one-time code.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Totp { step: u64, drift: i128 },
    Hotp { counter: u64, skipped: u64 },
}

/// The code a bound device shows now (support staff, tests).
pub enum CurrentCode {
    Totp {
        code: String,
        at: u64,
        step: u64,
        valid_for: u64,
    },
    Hotp {
        code: String,
        counter: u64,
    },
}

/// The issuer over one store.
pub struct Issuer {
    store: Box<dyn Store>,
    limits: Limits,
    signer: Option<IssuerSigningKey>,
}

impl Issuer {
    pub fn new(store: Box<dyn Store>) -> Self {
        Self {
            store,
            limits: Limits::default(),
            signer: None,
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Payloads are signed with this key from now on.
    pub fn with_signer(mut self, signer: Option<IssuerSigningKey>) -> Self {
        self.signer = signer;
        self
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Makes an activation. `before_commit` runs inside the transaction
    /// (the command line writes the image there, so a failed write stores
    /// nothing).
    pub fn create(
        &self,
        actor: Actor<'_>,
        req: &CreateRequest,
        before_commit: impl FnOnce(&Created) -> Result<()>,
    ) -> Result<Created> {
        let key = match &req.key {
            Some(key) => key.clone(),
            None => random_key(),
        };
        // Everything that depends only on the request is checked before the
        // transaction starts.
        let mut made = self.build(req, req.serial.clone().unwrap_or_else(random_serial), &key)?;
        let request = req.request_id.as_deref().map(|id| (actor.0, id));
        if let Some((client, id)) = request {
            check_request_id(id)?;
            if let Some(done) = self.repeat(client, id)? {
                return Ok(done);
            }
        }
        let mut tx = self.store.begin()?;
        let mut tries = 0;
        while tx.exists(&made.serial)? {
            if req.serial.is_some() {
                return Err(Error::conflict(format!(
                    "{}: an activation with this serial already exists in {}",
                    made.serial,
                    self.store.describe()
                )));
            }
            tries += 1;
            if tries == 16 {
                return Err(Error::conflict("could not find a free random serial"));
            }
            made = self.build(req, random_serial(), &key)?;
        }
        let inserted = tx.insert(&NewActivation {
            serial: &made.serial,
            activation_key: &key,
            label: req.label.as_deref(),
            issuer: req.issuer.as_deref(),
            user_id: req.user_id.as_deref(),
            challenge: req.challenge.as_ref(),
            otp: made.otp,
            request,
            created_at: now_secs(),
        });
        if let Err(e) = inserted {
            if let (Error::Conflict(_), Some((client, id))) = (&e, request) {
                // The same request id from a concurrent request won the race.
                drop(tx);
                if let Some(done) = self.repeat(client, id)? {
                    return Ok(done);
                }
            }
            return Err(e);
        }
        audit(&mut *tx, actor, Some(&made.serial), "created", "ok")?;
        before_commit(&made)?;
        tx.commit()?;
        Ok(made)
    }

    /// The payload of a new activation, checked.
    fn build(&self, req: &CreateRequest, serial: Serial, key: &ActivationKey) -> Result<Created> {
        let form = req.form.unwrap_or(Form::Tag);
        let code = ActivationCode::new(&serial, key);
        let mut payload = TesseraPayload::new(serial.clone(), code.clone());
        payload.label = req.label.clone();
        payload.issuer = req.issuer.clone();
        payload.user_id = req.user_id.clone();
        payload.challenge = req.challenge.clone();
        payload.otp = req.otp.map(OtpField::from);
        payload.validate().map_err(Error::input)?;
        if let Some(signer) = &self.signer {
            signer.sign(&mut payload);
        }
        let text = payload.write(form);
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::input(format!(
                "the payload is {} bytes; the limit is {MAX_PAYLOAD_BYTES}",
                text.len()
            )));
        }
        Ok(Created {
            serial,
            code,
            payload: text,
            form,
            otp: req.otp.unwrap_or_default(),
            signed_by: self.signer.as_ref().map(|k| k.public_key().to_string()),
            repeated: false,
        })
    }

    /// The activation a repeated request id made, rebuilt from the store.
    fn repeat(&self, client: &str, id: &str) -> Result<Option<Created>> {
        let mut tx = self.store.begin_read()?;
        let Some(serial) = tx.find_request(client, id)? else {
            return Ok(None);
        };
        let a = tx.get(&serial)?;
        drop(tx);
        let key = match (a.state, &a.activation_key) {
            (State::Created, Some(key)) => key.clone(),
            _ => {
                return Err(Error::conflict(format!(
                    "request id {id:?} made {serial}, which is {} now; a new activation needs \
                     a new request id",
                    a.state.as_str()
                )));
            }
        };
        let req = CreateRequest {
            label: a.label.clone(),
            issuer: a.issuer.clone(),
            user_id: a.user_id.clone(),
            challenge: a.challenge.clone(),
            // The stored parameters; the default is left out of the payload
            // as it was.
            otp: (a.otp != OtpParams::default()).then_some(a.otp),
            ..CreateRequest::default()
        };
        let mut made = self.build(&req, serial, &key)?;
        made.repeated = true;
        Ok(Some(made))
    }

    /// Checks the device code the user read and stores the device's
    /// instance key. A bound activation may be bound again (another
    /// device) until it is finalized.
    pub fn bind(&self, actor: Actor<'_>, serial: &Serial, device_code: &str) -> Result<Bound> {
        let device_code = DeviceCode::parse(device_code).map_err(Error::input)?;
        let mut tx = self.store.begin()?;
        let a = tx.get(serial)?;
        match a.state {
            State::Active => {
                return Err(Error::conflict(format!(
                    "{serial}: already active; a new device needs a new activation"
                )));
            }
            State::Revoked => return Err(revoked(serial)),
            State::Created | State::Bound => {}
        }
        let key = a
            .activation_key
            .as_ref()
            .ok_or_else(|| Error::store_data(format!("{serial}: the activation key is missing")))?;
        let nonce = device_code
            .verify(key, serial)
            .map_err(|e| Error::input(format!("{serial}: {e}")))?;
        let ik = instance_key(key, serial, nonce, a.otp.algorithm());
        tx.bind(serial, nonce, &ik, now_secs())?;
        audit(&mut *tx, actor, Some(serial), "bound", "ok")?;
        tx.commit()?;
        Ok(Bound {
            device_instance: nonce,
            replaced: a.nonce.filter(|&old| old != nonce),
        })
    }

    /// Checks the finalize code; on success the activation is active and
    /// its activation key erased. A wrong code counts as a failure.
    pub fn finalize(&self, actor: Actor<'_>, serial: &Serial, code: &str) -> Result<()> {
        check_digits("finalize code", code, FINALIZE_DIGITS)?;
        let mut tx = self.store.begin()?;
        let a = tx.get(serial)?;
        match a.state {
            State::Created => {
                return Err(Error::conflict(format!(
                    "{serial}: not bound yet; bind the device code before finalizing"
                )));
            }
            State::Active => return Err(Error::conflict(format!("{serial}: already active"))),
            State::Revoked => return Err(revoked(serial)),
            State::Bound => {}
        }
        let now = now_secs();
        self.check_lock(&mut *tx, actor, &a, "finalize", now)?;
        let ik = bound_key(&a)?;
        if !finalize_code(ik, serial, a.challenge.as_ref()).matches(code) {
            let message = format!(
                "{serial}: the finalize code does not match (the activation stays bound; check \
                 the code with the user)"
            );
            return Err(self.fail(tx, actor, &a, "finalize", "wrong_code", now, message, false));
        }
        tx.activate(serial, now)?;
        audit(&mut *tx, actor, Some(serial), "finalized", "ok")?;
        tx.commit()
    }

    /// Verifies a one-time code of an active activation. TOTP: the steps
    /// within `window` of `at` (default now), never a step at or before the
    /// last accepted; HOTP: `window` counters ahead of the expected one,
    /// moving the counter past the match (resynchronisation).
    pub fn verify(
        &self,
        actor: Actor<'_>,
        serial: &Serial,
        code: &str,
        window: Option<u32>,
        at: Option<u64>,
    ) -> Result<Verified> {
        let mut tx = self.store.begin()?;
        let a = tx.get(serial)?;
        match a.state {
            State::Created => return Err(not_bound(serial)),
            State::Bound => {
                return Err(Error::conflict(format!(
                    "{serial}: not finalized yet; finalize it with the finalize code first"
                )));
            }
            State::Revoked => return Err(revoked(serial)),
            State::Active => {}
        }
        let params = a.otp;
        check_digits("code", code, params.digits() as usize)?;
        let t = at.unwrap_or_else(now_unix);
        let now = now_secs();
        self.check_lock(&mut *tx, actor, &a, "verify", now)?;
        let ik = bound_key(&a)?.expose();
        let (alg, digits) = (params.algorithm(), params.digits());
        let matches = |counter: u64| otp::hotp(ik, alg, counter, digits).matches(code);
        let outcome = match params.kind() {
            OtpKind::Totp { period } => {
                let window = u64::from(window.unwrap_or(DEFAULT_TOTP_WINDOW));
                let step_now = otp::totp_step(t, period);
                // Every step in the window is computed, so the time taken
                // does not tell which one matched.
                let matched: Vec<u64> = (step_now.saturating_sub(window)
                    ..=step_now.saturating_add(window))
                    .filter(|&s| matches(s))
                    .collect();
                let fresh = matched
                    .iter()
                    .copied()
                    .filter(|&s| a.last_accepted.is_none_or(|last| s > last))
                    .min_by_key(|&s| s.abs_diff(step_now));
                match fresh {
                    Some(step) => {
                        tx.accept_totp(serial, step)?;
                        Ok(Verified::Totp {
                            step,
                            drift: i128::from(step) - i128::from(step_now),
                        })
                    }
                    None => Err(!matched.is_empty()),
                }
            }
            OtpKind::Hotp { counter: expected } => {
                let window = u64::from(window.unwrap_or(DEFAULT_HOTP_WINDOW));
                let ahead = (expected..=expected.saturating_add(window)).find(|&c| matches(c));
                match ahead {
                    Some(counter) => {
                        tx.accept_hotp(serial, counter)?;
                        Ok(Verified::Hotp {
                            counter,
                            skipped: counter - expected,
                        })
                    }
                    // An earlier counter's code: used, or skipped by a resync.
                    None => Err((expected.saturating_sub(window.max(1))..expected).any(matches)),
                }
            }
        };
        match outcome {
            Ok(verified) => {
                audit(&mut *tx, actor, Some(serial), "verified", "ok")?;
                tx.commit()?;
                Ok(verified)
            }
            Err(replayed) => {
                let (outcome, message) = if replayed {
                    ("replayed", format!("{serial}: code already used"))
                } else {
                    ("wrong_code", format!("{serial}: code does not match"))
                };
                Err(self.fail(tx, actor, &a, "verify", outcome, now, message, replayed))
            }
        }
    }

    /// Refuses while the serial is locked (the refusal is audited).
    fn check_lock(
        &self,
        tx: &mut dyn StoreTx,
        actor: Actor<'_>,
        a: &Activation,
        action: &str,
        now: i64,
    ) -> Result<()> {
        match a.locked_until {
            Some(until) if until > now => {
                audit(tx, actor, Some(&a.serial), action, "locked")?;
                // The audit line is the only write; a failure to write it is
                // the error to report.
                Err(Error::Locked(format!(
                    "{}: locked after {} failed codes; no code is checked until {} ({} s from now)",
                    a.serial,
                    a.failed_attempts,
                    crate::output::utc(until),
                    until - now
                )))
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong code (locking the serial at the limit), audits it,
    /// commits, and returns the refusal to report. A replayed code is
    /// audited but not counted: it is the right code seen twice (a double
    /// submit, or someone who saw it), not a guess, and counting it would
    /// let anyone who saw one code lock the user out.
    #[allow(clippy::too_many_arguments)]
    fn fail(
        &self,
        mut tx: Box<dyn StoreTx + '_>,
        actor: Actor<'_>,
        a: &Activation,
        action: &str,
        outcome: &str,
        now: i64,
        message: String,
        replayed: bool,
    ) -> Error {
        let mut lock = None;
        let mut written = Ok(());
        if !replayed {
            let failures = a.failed_attempts.saturating_add(1);
            lock = (failures >= self.limits.max_failures)
                .then(|| (failures, now + self.limits.lock_seconds));
            written = tx.record_failure(&a.serial, failures, lock.map(|(_, until)| until));
        }
        let written = written
            .and_then(|()| audit(&mut *tx, actor, Some(&a.serial), action, outcome))
            .and_then(|()| tx.commit());
        if let Err(e) = written {
            return e;
        }
        let message = match lock {
            Some((failures, until)) => format!(
                "{message}; {failures} failed codes: locked until {}",
                crate::output::utc(until)
            ),
            None => message,
        };
        if replayed {
            Error::Replayed(message)
        } else {
            Error::Rejected(message)
        }
    }

    /// The code the device shows at `at` (TOTP) or for the next counter
    /// (HOTP). Reads only.
    pub fn code(&self, serial: &Serial, at: Option<u64>) -> Result<CurrentCode> {
        let a = self.show(serial)?;
        if a.state == State::Created {
            return Err(not_bound(serial));
        }
        if a.state == State::Revoked {
            return Err(revoked(serial));
        }
        let ik = bound_key(&a)?;
        let params = a.otp;
        Ok(match params.kind() {
            OtpKind::Totp { period } => {
                let t = at.unwrap_or_else(now_unix);
                CurrentCode::Totp {
                    code: params.code(ik.expose(), t).to_string(),
                    at: t,
                    step: otp::totp_step(t, period),
                    valid_for: u64::from(period) - t % u64::from(period),
                }
            }
            OtpKind::Hotp { counter } => CurrentCode::Hotp {
                code: params.code(ik.expose(), 0).to_string(),
                counter,
            },
        })
    }

    /// One activation (no key material leaves the service through it but
    /// for [`Issuer::code`]'s use).
    pub fn show(&self, serial: &Serial) -> Result<Activation> {
        let mut tx = self.store.begin_read()?;
        tx.get(serial)
    }

    /// Activations in creation order, a page after `after`.
    pub fn list(&self, after: Option<&Serial>, limit: Option<u32>) -> Result<Vec<Activation>> {
        let mut tx = self.store.begin_read()?;
        if let Some(after) = after {
            // An unknown cursor is an error, not an empty page.
            tx.get(after)?;
        }
        tx.list(after, limit)
    }

    /// Revokes an activation for good: its keys are erased.
    pub fn revoke(&self, actor: Actor<'_>, serial: &Serial) -> Result<()> {
        let mut tx = self.store.begin()?;
        let a = tx.get(serial)?;
        if a.state == State::Revoked {
            return Err(revoked(serial));
        }
        tx.revoke(serial, now_secs())?;
        audit(&mut *tx, actor, Some(serial), "revoked", "ok")?;
        tx.commit()
    }

    pub fn audit_log(&self, serial: Option<&Serial>, limit: u32) -> Result<Vec<AuditEvent>> {
        self.store.begin_read()?.audit_log(serial, limit)
    }

    /// A new API client; returns its bearer token, shown once (only its
    /// SHA-256 is stored).
    pub fn add_client(&self, name: &str) -> Result<Zeroizing<String>> {
        check_client_name(name)?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut bytes[..]);
        let token = Zeroizing::new(format!("tsi_{}", hex::encode(&bytes[..])));
        let mut tx = self.store.begin()?;
        tx.add_client(name, &token_hash(&token), now_secs())?;
        audit(
            &mut *tx,
            Actor::CLI,
            None,
            &format!("client_added:{name}"),
            "ok",
        )?;
        tx.commit()?;
        Ok(token)
    }

    pub fn clients(&self) -> Result<Vec<ApiClient>> {
        self.store.begin_read()?.clients()
    }

    pub fn revoke_client(&self, name: &str) -> Result<()> {
        let mut tx = self.store.begin()?;
        if !tx.revoke_client(name, now_secs())? {
            return Err(Error::NotFound(format!(
                "{name}: no such client, or revoked already"
            )));
        }
        audit(
            &mut *tx,
            Actor::CLI,
            None,
            &format!("client_revoked:{name}"),
            "ok",
        )?;
        tx.commit()
    }

    /// The client a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Result<String> {
        let name = self
            .store
            .begin_read()?
            .client_by_token(&token_hash(token))?;
        name.ok_or_else(|| {
            Error::Unauthorized("the bearer token is not a client's (unknown or revoked)".into())
        })
    }
}

/// SHA-256 of a bearer token: tokens are 256 random bits, so a fast hash
/// suffices (nothing to guess), and a lookup by hash needs no salt.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn check_client_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "client name {name:?}: 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.'"
        )))
    }
}

fn check_request_id(id: &str) -> Result<()> {
    if (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(Error::input(
            "request_id: 1 to 128 printable ASCII characters, no spaces",
        ))
    }
}

fn audit(
    tx: &mut dyn StoreTx,
    actor: Actor<'_>,
    serial: Option<&Serial>,
    action: &str,
    outcome: &str,
) -> Result<()> {
    tx.audit(&AuditEvent {
        at: now_secs(),
        actor: actor.0.to_owned(),
        serial: serial.map(|s| s.as_str().to_owned()),
        action: action.to_owned(),
        outcome: outcome.to_owned(),
    })
}

fn revoked(serial: &Serial) -> Error {
    Error::conflict(format!(
        "{serial}: revoked; a new device needs a new activation"
    ))
}

pub(crate) fn not_bound(serial: &Serial) -> Error {
    Error::conflict(format!(
        "{serial}: not bound yet; there is no instance key before binding the device code"
    ))
}

/// The instance key of a bound or active activation.
pub(crate) fn bound_key(a: &Activation) -> Result<&tessera_core::SecretBytes> {
    a.instance_key
        .as_ref()
        .ok_or_else(|| Error::store_data(format!("{}: the instance key is missing", a.serial)))
}

/// A typed code must be `len` digits once spaces and hyphens are removed.
pub(crate) fn check_digits(what: &str, typed: &str, len: usize) -> Result<()> {
    let digits: Zeroizing<String> =
        Zeroizing::new(typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect());
    if digits.len() == len && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::input(format!(
            "{what}: must be {len} digits (spaces and hyphens are ignored)"
        )))
    }
}

/// 32 hex digits, an activation key given by the caller.
pub fn parse_key_hex(text: &str, what: &str) -> Result<ActivationKey> {
    let mut bytes = Zeroizing::new([0u8; ActivationKey::LEN]);
    hex::decode_to_slice(text.trim(), &mut bytes[..])
        .map_err(|_| Error::input(format!("{what}: must be 32 hex digits (16 bytes)")))?;
    Ok(ActivationKey::from_bytes(*bytes))
}

fn random_key() -> ActivationKey {
    let mut bytes = Zeroizing::new([0u8; ActivationKey::LEN]);
    OsRng.fill_bytes(&mut bytes[..]);
    ActivationKey::from_bytes(*bytes)
}

/// 10 characters drawn uniformly from `A-Z0-9` (`choose` samples without
/// modulo bias).
pub(crate) fn random_serial() -> Serial {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let text: String = (0..Serial::LEN)
        .map(|_| char::from(*ALPHABET.choose(&mut OsRng).expect("not empty")))
        .collect();
    text.parse().expect("drawn from the serial alphabet")
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn now_secs() -> i64 {
    i64::try_from(now_unix()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_valid_and_differ() {
        let a = random_serial();
        let b = random_serial();
        assert_eq!(a.as_str().len(), 10);
        assert_ne!(a, b);
    }

    #[test]
    fn typed_codes_are_checked_for_shape() {
        assert!(check_digits("code", "123 456", 6).is_ok());
        assert!(check_digits("code", "12-34-56", 6).is_ok());
        assert!(check_digits("code", "12345", 6).is_err());
        assert!(check_digits("code", "12345a", 6).is_err());
    }

    #[test]
    fn client_names_and_request_ids_are_checked() {
        assert!(check_client_name("bank-web.1").is_ok());
        assert!(check_client_name("").is_err());
        assert!(check_client_name("a b").is_err());
        assert!(check_request_id("0b7c2f1e-…").is_err());
        assert!(check_request_id("0b7c2f1e-9").is_ok());
    }

    #[test]
    fn token_hashes_differ_per_token() {
        assert_ne!(token_hash("tsi_a"), token_hash("tsi_b"));
        assert_eq!(token_hash("tsi_a"), token_hash("tsi_a"));
    }
}
