//! The issuer's store: one trait, [`Store`], over two databases.
//!
//! - SQLite (`--db FILE`, [`sqlite`]): one file, mode 0600, the embedded
//!   default of the command line.
//! - PostgreSQL (`--database-url postgres://…`, [`postgres`]): the store
//!   at scale, shared by several `tessera-issuer serve` instances.
//!
//! Every command and every API request runs in one transaction
//! ([`Store::begin`]): it reads the activation, decides and writes, so two
//! concurrent verifications of one code cannot both accept it. In SQLite the
//! transaction is `BEGIN IMMEDIATE` (the file's write lock); in PostgreSQL
//! the activation is read `FOR UPDATE` (its row lock), which every instance
//! over the same database waits for. A transaction dropped without
//! [`StoreTx::commit`] rolls back.
//!
//! Key material (the activation key until finalize, the instance key from
//! bind on) is sealed by [`sealing`] before it is written: envelope
//! encryption under a key from a file or the environment. A SQLite file made
//! without a key keeps its keys as bytes in the 0600 file, as before.

pub mod postgres;
pub mod sealing;
pub mod sqlite;

use tessera_core::SecretBytes;
use tessera_core::activation::{ActivationKey, Challenge, Serial};
use tessera_core::otp::{OtpKind, OtpParams};

use crate::error::{Error, Result};

/// Where an activation is in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// `new` made it; waiting for the device code.
    Created,
    /// The device code was accepted; waiting for the finalize code.
    Bound,
    /// The finalize code was accepted; codes verify.
    Active,
    /// Revoked by the issuer: nothing verifies any more, for good.
    Revoked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Bound => "bound",
            State::Active => "active",
            State::Revoked => "revoked",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [State::Created, State::Bound, State::Active, State::Revoked]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Where a signing request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignState {
    /// Waiting for the response code.
    Pending,
    /// Its response code was accepted (once; never again).
    Signed,
    /// Too many wrong response codes: it cannot be signed any more.
    Refused,
}

impl SignState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Signed => "signed",
            Self::Refused => "refused",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Signed, Self::Refused]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What a request asks the device for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// A signature of a transaction (docs/protocol.md, "Transaction
    /// signing"); `tx` is the canonical transaction.
    Transaction,
    /// An OCRA response to a question (docs/protocol.md §6); `tx` is the
    /// question's ASCII. "signed" means answered.
    Challenge,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transaction => "transaction",
            Self::Challenge => "challenge",
        }
    }
}

/// A request the device answers once (a signing request or a challenge),
/// as stored.
#[derive(Clone, Debug)]
pub struct SignRecord {
    pub id: i64,
    pub kind: RequestKind,
    /// Random, 16 bytes; its hex is the request's id in the API.
    pub nonce: Vec<u8>,
    /// What the response is computed over (see `RequestKind`).
    pub tx: Vec<u8>,
    pub expires_at: u64,
    pub created_at: i64,
    pub state: SignState,
    pub attempts: u32,
}

/// A request to store (`StoreTx::insert_sign_request`).
#[derive(Clone, Copy, Debug)]
pub struct NewRequest<'a> {
    pub kind: RequestKind,
    pub nonce: &'a [u8; 16],
    pub tx: &'a [u8],
    pub expires_at: u64,
    pub created_at: i64,
}

/// One activation.
#[derive(Debug)]
pub struct Activation {
    pub serial: Serial,
    pub activation_key: Option<ActivationKey>,
    pub label: Option<String>,
    pub issuer: Option<String>,
    pub user_id: Option<String>,
    pub challenge: Option<Challenge>,
    /// With the stored HOTP counter.
    pub otp: OtpParams,
    pub state: State,
    pub nonce: Option<u32>,
    pub instance_key: Option<SecretBytes>,
    pub last_accepted: Option<u64>,
    /// Wrong or replayed codes since the last accepted one.
    pub failed_attempts: u32,
    /// Unix time until which no code is checked (too many failures).
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub bound_at: Option<i64>,
    pub activated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Activation {
    /// The next HOTP counter the issuer expects, for an HOTP activation.
    pub fn hotp_counter(&self) -> Option<u64> {
        match self.otp.kind() {
            OtpKind::Hotp { counter } => Some(counter),
            OtpKind::Totp { .. } => None,
        }
    }
}

/// What `new` stores.
pub struct NewActivation<'a> {
    pub serial: &'a Serial,
    pub activation_key: &'a ActivationKey,
    pub label: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub challenge: Option<&'a Challenge>,
    pub otp: OtpParams,
    /// The API client's idempotency key: (client, request id) is unique.
    pub request: Option<(&'a str, &'a str)>,
    pub created_at: i64,
}

/// One line of the audit log: every state change, with who made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: i64,
    /// `cli` for the command line, otherwise the API client's name.
    pub actor: String,
    pub serial: Option<String>,
    /// `created`, `bound`, `finalized`, `verified`, `revoked`, …
    pub action: String,
    /// `ok`, or why it was refused (`wrong_code`, `replayed`, `locked`, …).
    pub outcome: String,
}

/// An API client: its name and the SHA-256 of its bearer token.
#[derive(Clone, Debug)]
pub struct ApiClient {
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An issuer database: SQLite or PostgreSQL.
pub trait Store: Send + Sync {
    /// A transaction for a command that writes: rows it reads stay locked
    /// until it ends.
    fn begin(&self) -> Result<Box<dyn StoreTx + '_>>;
    /// A transaction for a command that only reads.
    fn begin_read(&self) -> Result<Box<dyn StoreTx + '_>>;
    /// Whether the database answers (readiness).
    fn ping(&self) -> Result<()>;
    /// The database, for messages: a path, or the URL without its password.
    fn describe(&self) -> &str;
    /// The keys its key material is sealed with, as loaded when opened.
    fn keys(&self) -> &sealing::Keys;
}

/// One transaction. Dropped without [`StoreTx::commit`], it rolls back.
pub trait StoreTx {
    fn commit(self: Box<Self>) -> Result<()>;

    fn exists(&mut self, serial: &Serial) -> Result<bool>;
    /// The activation `serial` (locked in a write transaction); an unknown
    /// serial is [`Error::NotFound`].
    fn get(&mut self, serial: &Serial) -> Result<Activation>;
    /// Activations in creation order, after the serial `after` (paging).
    fn list(&mut self, after: Option<&Serial>, limit: Option<u32>) -> Result<Vec<Activation>>;
    /// The activation a client made with this request id, if any.
    fn find_request(&mut self, client: &str, request_id: &str) -> Result<Option<Serial>>;
    fn insert(&mut self, new: &NewActivation<'_>) -> Result<()>;
    /// `bind`: the device's nonce and the instance key; the state becomes
    /// `bound`. A new binding starts afresh: HOTP counter 0, no code
    /// accepted, no failures.
    fn bind(
        &mut self,
        serial: &Serial,
        nonce: u32,
        instance_key: &SecretBytes,
        at: i64,
    ) -> Result<()>;
    /// `finalize`: the state becomes `active` and the activation key is
    /// erased.
    fn activate(&mut self, serial: &Serial, at: i64) -> Result<()>;
    /// A TOTP step was accepted; the failures are forgotten.
    fn accept_totp(&mut self, serial: &Serial, step: u64) -> Result<()>;
    /// An HOTP counter was accepted: the next one expected is after it.
    fn accept_hotp(&mut self, serial: &Serial, counter: u64) -> Result<()>;
    /// A wrong or replayed code: the failures as counted now, and the lock
    /// (`locked_until`) when they reach the limit.
    fn record_failure(
        &mut self,
        serial: &Serial,
        failures: u32,
        locked_until: Option<i64>,
    ) -> Result<()>;
    /// Revoked: both keys erased, nothing verifies again.
    fn revoke(&mut self, serial: &Serial, at: i64) -> Result<()>;

    /// Stores a new request (pending); returns its id.
    fn insert_sign_request(&mut self, serial: &Serial, new: NewRequest<'_>) -> Result<i64>;
    /// The requests of `serial` of one kind, newest first; only the one
    /// with `nonce` when given.
    fn sign_requests(
        &mut self,
        serial: &Serial,
        kind: RequestKind,
        nonce: Option<&[u8; 16]>,
    ) -> Result<Vec<SignRecord>>;
    /// A request's response was accepted.
    fn mark_signed(&mut self, id: i64, at: i64) -> Result<()>;
    /// A wrong response was typed for the request; refused from
    /// `max_attempts` on.
    fn count_wrong_response(&mut self, id: i64, max_attempts: u32) -> Result<()>;

    fn audit(&mut self, event: &AuditEvent) -> Result<()>;
    /// The newest `limit` audit lines, newest first (optionally of one serial).
    fn audit_log(&mut self, serial: Option<&Serial>, limit: u32) -> Result<Vec<AuditEvent>>;

    fn add_client(&mut self, name: &str, token_hash: &[u8; 32], at: i64) -> Result<()>;
    /// The client whose token has this hash, unless revoked.
    fn client_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<String>>;
    fn clients(&mut self) -> Result<Vec<ApiClient>>;
    /// Revokes a client's token; false when there is no such client.
    fn revoke_client(&mut self, name: &str, at: i64) -> Result<bool>;

    /// The wrapped data keys (id, KEK id, wrapped bytes).
    fn data_keys(&mut self) -> Result<Vec<(u32, String, Vec<u8>)>>;
    fn put_data_key(&mut self, id: u32, kek_id: &str, wrapped: &[u8], at: i64) -> Result<()>;
    /// The raw sealed secrets of every activation, for a key rotation:
    /// (serial, activation key, instance key).
    fn sealed_secrets(&mut self) -> Result<Vec<SealedRow>>;
    fn put_sealed_secrets(&mut self, row: &SealedRow) -> Result<()>;
    /// `plain` or `envelope`: how this database keeps key material
    /// (`None` in a database that has not decided yet).
    fn secrets_mode(&mut self) -> Result<Option<sealing::Mode>>;
    fn set_secrets_mode(&mut self, mode: sealing::Mode) -> Result<()>;
}

/// Loads the keys of a database when it is opened, and decides how a new
/// one keeps its key material: sealed when a master key is given (a first
/// data key is made), plain otherwise where `plain_allowed` (SQLite only).
pub(crate) fn load_keys(
    tx: &mut dyn StoreTx,
    place: &str,
    kek: Option<&sealing::Kek>,
    plain_allowed: bool,
) -> Result<sealing::Keys> {
    use sealing::{Keys, Mode};
    match (tx.secrets_mode()?, kek) {
        (Some(Mode::Envelope), Some(kek)) => Keys::load(place, kek, &tx.data_keys()?),
        (Some(Mode::Envelope), None) => Err(Error::input(format!(
            "database {place}: its keys are sealed under a master key; give it with \
             --master-key-file FILE, {} or {}",
            sealing::MASTER_KEY_FILE_ENV,
            sealing::MASTER_KEY_ENV
        ))),
        (Some(Mode::Plain), None) => Ok(Keys::plain(place)),
        (Some(Mode::Plain), Some(_)) => Err(Error::input(format!(
            "database {place}: it keeps its keys unsealed (made without a master key); \
             `tessera-issuer rotate-master-key --new-master-key-file FILE` seals them, \
             and no master key is needed until then"
        ))),
        (None, Some(kek)) => {
            let mut keys = Keys::plain(place);
            let (id, wrapped) = keys.add_data_key(kek);
            tx.put_data_key(id, kek.id(), &wrapped, crate::service::now_secs())?;
            tx.set_secrets_mode(Mode::Envelope)?;
            Ok(keys)
        }
        (None, None) if plain_allowed => {
            tx.set_secrets_mode(Mode::Plain)?;
            Ok(Keys::plain(place))
        }
        (None, None) => Err(Error::input(format!(
            "database {place}: PostgreSQL keeps the keys sealed under a master key; give it \
             with --master-key-file FILE, {} or {} (`tessera-issuer master-key --out FILE` \
             makes one)",
            sealing::MASTER_KEY_FILE_ENV,
            sealing::MASTER_KEY_ENV
        ))),
    }
}

pub(crate) fn parse_mode(place: &str, text: Option<String>) -> Result<Option<sealing::Mode>> {
    text.map(|t| {
        sealing::Mode::parse(&t).ok_or_else(|| {
            Error::store_data(format!("database {place}: unknown key storage {t:?}"))
        })
    })
    .transpose()
}

/// What a rotation changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Rotated {
    /// Data keys now wrapped by the new master key.
    pub data_keys: usize,
    /// Activations whose keys were sealed again under a new data key.
    pub resealed: usize,
}

/// Rotates the master key to `new`, in one transaction: every data key is
/// wrapped again; with `new_data_key` (or a database that kept its keys
/// plain), a new data key is made and every secret sealed again under it.
pub fn rotate(store: &dyn Store, new: &sealing::Kek, new_data_key: bool) -> Result<Rotated> {
    use sealing::{Column, Mode};
    let old = store.keys();
    let mut next = old.clone();
    let mut tx = store.begin()?;
    let now = crate::service::now_secs();
    for (id, wrapped) in next.rewrap(new) {
        tx.put_data_key(id, new.id(), &wrapped, now)?;
    }
    let mut resealed = 0;
    if new_data_key || old.mode() == Mode::Plain {
        let (id, wrapped) = next.add_data_key(new);
        tx.put_data_key(id, new.id(), &wrapped, now)?;
        for row in tx.sealed_secrets()? {
            let reseal = |column, stored: &Option<Vec<u8>>| -> Result<Option<Vec<u8>>> {
                stored
                    .as_ref()
                    .map(|s| Ok(next.seal(column, &row.serial, &old.open(column, &row.serial, s)?)))
                    .transpose()
            };
            let sealed = SealedRow {
                activation_key: reseal(Column::ActivationKey, &row.activation_key)?,
                instance_key: reseal(Column::InstanceKey, &row.instance_key)?,
                serial: row.serial.clone(),
            };
            tx.put_sealed_secrets(&sealed)?;
            resealed += 1;
        }
        tx.set_secrets_mode(Mode::Envelope)?;
    }
    tx.commit()?;
    Ok(Rotated {
        data_keys: next.data_key_count(),
        resealed,
    })
}

/// An activation's key columns as stored (sealed or plain bytes).
#[derive(Clone, Debug)]
pub struct SealedRow {
    pub serial: String,
    pub activation_key: Option<Vec<u8>>,
    pub instance_key: Option<Vec<u8>>,
}

/// Counters and steps are far below 2^63; saturate rather than wrap.
pub(crate) fn to_sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A row as a database returns it, decoded into core types by
/// [`RawRow::decode`] (one decoder for both databases).
pub(crate) struct RawRow {
    pub serial: String,
    pub activation_key: Option<Vec<u8>>,
    pub label: Option<String>,
    pub issuer: Option<String>,
    pub user_id: Option<String>,
    pub challenge: Option<String>,
    pub otp: String,
    pub state: String,
    pub nonce: Option<i64>,
    pub instance_key: Option<Vec<u8>>,
    pub hotp_counter: Option<i64>,
    pub last_accepted: Option<i64>,
    pub failed_attempts: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub bound_at: Option<i64>,
    pub activated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The columns [`RawRow`] is read from, in its order.
pub(crate) const COLUMNS: &str = "serial, activation_key, label, issuer, user_id, challenge, otp, \
     state, nonce, instance_key, hotp_counter, last_accepted, failed_attempts, locked_until, \
     created_at, bound_at, activated_at, revoked_at";

impl RawRow {
    pub(crate) fn decode(self, place: &str, keys: &sealing::Keys) -> Result<Activation> {
        let serial = &self.serial;
        let bad = |column: &str| {
            Error::store_data(format!(
                "database {place}: activation {serial:?} has a bad {column} value"
            ))
        };
        let activation_key = match self.activation_key {
            None => None,
            Some(stored) => {
                let bytes = keys.open(sealing::Column::ActivationKey, serial, &stored)?;
                let array: [u8; 16] = bytes[..].try_into().map_err(|_| bad("activation_key"))?;
                Some(ActivationKey::from_bytes(array))
            }
        };
        let instance_key = match self.instance_key {
            None => None,
            Some(stored) => {
                let bytes = keys.open(sealing::Column::InstanceKey, serial, &stored)?;
                Some(SecretBytes::new(bytes.to_vec()))
            }
        };
        let otp: OtpParams = self.otp.parse().map_err(|_| bad("otp"))?;
        let otp = match (otp.kind(), self.hotp_counter) {
            (OtpKind::Hotp { .. }, Some(c)) => {
                otp.with_counter(u64::try_from(c).map_err(|_| bad("hotp_counter"))?)
            }
            (OtpKind::Hotp { .. }, None) => return Err(bad("hotp_counter")),
            (OtpKind::Totp { .. }, _) => otp,
        };
        Ok(Activation {
            serial: self.serial.parse().map_err(|_| bad("serial"))?,
            activation_key,
            label: self.label,
            issuer: self.issuer,
            user_id: self.user_id,
            challenge: self
                .challenge
                .map(|c| c.parse())
                .transpose()
                .map_err(|_| bad("challenge"))?,
            otp,
            state: State::parse(&self.state).ok_or_else(|| bad("state"))?,
            nonce: self
                .nonce
                .map(u32::try_from)
                .transpose()
                .map_err(|_| bad("nonce"))?,
            instance_key,
            last_accepted: self
                .last_accepted
                .map(u64::try_from)
                .transpose()
                .map_err(|_| bad("last_accepted"))?,
            failed_attempts: u32::try_from(self.failed_attempts)
                .map_err(|_| bad("failed_attempts"))?,
            locked_until: self.locked_until,
            created_at: self.created_at,
            bound_at: self.bound_at,
            activated_at: self.activated_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// The HOTP counter column for a new activation.
pub(crate) fn initial_hotp_counter(otp: &OtpParams) -> Option<i64> {
    match otp.kind() {
        OtpKind::Hotp { counter } => Some(to_sql_int(counter)),
        OtpKind::Totp { .. } => None,
    }
}

/// How to reach the database: a SQLite file or a PostgreSQL URL.
#[derive(Clone, Debug)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

/// Opens the database at `location` with the key material's keys.
/// `create`: a SQLite file that does not exist is made (mode 0600); a
/// PostgreSQL database gets its schema. Returns whether a file was made.
pub fn open(location: &Location, kek: Option<sealing::Kek>, create: bool) -> Result<Opened> {
    match location {
        Location::Sqlite(path) => {
            let (store, created) = if create {
                sqlite::SqliteStore::open_or_create(path, kek)?
            } else {
                (sqlite::SqliteStore::open(path, kek)?, false)
            };
            Ok(Opened {
                store: Box::new(store),
                created_file: created.then(|| path.clone()),
            })
        }
        Location::Postgres(url) => Ok(Opened {
            store: Box::new(postgres::PgStore::connect(url, kek, 16)?),
            created_file: None,
        }),
    }
}

/// An opened store, and the file it made (so a failed `new` can remove it).
pub struct Opened {
    pub store: Box<dyn Store>,
    pub created_file: Option<std::path::PathBuf>,
}
