//! The issuer's store: one SQLite file (rusqlite, bundled SQLite), mode
//! 0600, marked with `PRAGMA application_id` and versioned with
//! `PRAGMA user_version`.
//!
//! Every command runs in one `BEGIN IMMEDIATE` transaction: it reads the
//! activation, decides, and writes, so two concurrent `verify` runs cannot
//! both accept the same code, and a command that fails leaves the file as it
//! was.
//!
//! Key material kept:
//! - the activation key `AK` from `new` until the activation is active. The
//!   issuer needs it to check device codes; it is kept through `bound` so the
//!   user can bind again from another device before finalizing. On finalize
//!   it is erased (`NULL`, with `secure_delete` on so the old page is zeroed):
//!   from then on the instance key is the account's secret, as on the device
//!   (PROTOCOL.md §4).
//! - the instance key `IK` from `bind` on.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior};
use tessera_core::SecretBytes;
use tessera_core::activation::{ActivationKey, Challenge, Serial};
use tessera_core::otp::{OtpKind, OtpParams};

use crate::error::{Error, Result};
use crate::files;

/// `PRAGMA application_id`: "TSRI" in ASCII.
pub const APPLICATION_ID: i32 = 0x5453_5249;
/// `PRAGMA user_version` this program writes and reads.
pub const SCHEMA_VERSION: i32 = 2;

const SCHEMA_V1: &str = "
CREATE TABLE activations (
    serial          TEXT PRIMARY KEY NOT NULL CHECK (length(serial) = 10),
    -- AK, 16 bytes; NULL once the activation is active
    activation_key  BLOB CHECK (activation_key IS NULL OR length(activation_key) = 16),
    label           TEXT,
    issuer          TEXT,
    user_id         TEXT,
    challenge       TEXT,
    -- the OTP field, TYPE:ALG:DIGITS[:PERIOD]
    otp             TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('created', 'bound', 'active')),
    -- the device's instance nonce, from bind on
    nonce           INTEGER CHECK (nonce IS NULL OR nonce BETWEEN 0 AND 4294967295),
    -- IK, from bind on
    instance_key    BLOB,
    -- HOTP: the next counter the issuer expects
    hotp_counter    INTEGER CHECK (hotp_counter IS NULL OR hotp_counter >= 0),
    -- replay protection: the last accepted TOTP step or HOTP counter
    last_accepted   INTEGER CHECK (last_accepted IS NULL OR last_accepted >= 0),
    -- Unix times in seconds
    created_at      INTEGER NOT NULL,
    bound_at        INTEGER,
    activated_at    INTEGER,
    CHECK ((state = 'created') = (instance_key IS NULL)),
    CHECK ((state = 'created') = (nonce IS NULL)),
    CHECK (state = 'active' OR activation_key IS NOT NULL)
) STRICT;
";

/// Version 2: transaction signing requests (`sign-request`,
/// `verify-signature`). A version 1 file is migrated when opened.
const SCHEMA_V2: &str = "
CREATE TABLE sign_requests (
    id              INTEGER PRIMARY KEY,
    serial          TEXT NOT NULL REFERENCES activations (serial),
    -- the transaction's nonce, 16 bytes: no two requests share one
    nonce           BLOB NOT NULL UNIQUE CHECK (length(nonce) = 16),
    -- the canonical transaction (docs/protocol.md), exactly what the device shows
    tx              BLOB NOT NULL,
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'signed', 'refused')),
    -- wrong response codes typed for it
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    signed_at       INTEGER
) STRICT;
CREATE INDEX sign_requests_by_serial ON sign_requests (serial, created_at);
";

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

    fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "signed" => Some(Self::Signed),
            "refused" => Some(Self::Refused),
            _ => None,
        }
    }
}

/// A signing request as stored.
#[derive(Clone, Debug)]
pub struct SignRecord {
    pub id: i64,
    pub nonce: Vec<u8>,
    /// The canonical transaction.
    pub tx: Vec<u8>,
    pub expires_at: u64,
    pub created_at: i64,
    pub state: SignState,
    pub attempts: u32,
}

/// Where an activation is in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// `new` made it; waiting for the device code.
    Created,
    /// The device code was accepted; waiting for the finalize code.
    Bound,
    /// The finalize code was accepted; codes verify.
    Active,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Bound => "bound",
            State::Active => "active",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [State::Created, State::Bound, State::Active]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One row of `activations`.
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
    pub created_at: i64,
    pub bound_at: Option<i64>,
    pub activated_at: Option<i64>,
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
    pub created_at: i64,
}

/// An open issuer database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens an existing issuer database.
    pub fn open(path: &Path) -> Result<Self> {
        match fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(not_ours(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::input(format!(
                    "{}: no such issuer database (`tessera-issuer new --db {0} …` creates one)",
                    path.display()
                )));
            }
            Err(e) => return Err(Error::file(path, e)),
        }
        let store = Self::connect(path)?;
        store.check_header(false)?;
        Ok(store)
    }

    /// Opens the database, creating it (mode 0600) if there is no file.
    /// Returns whether it was created, so a failed `new` can remove it.
    pub fn open_or_create(path: &Path) -> Result<(Self, bool)> {
        let created = match files::create_private(path) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::file(path, e)),
        };
        let opened = Self::connect(path).and_then(|store| {
            store.check_header(true)?;
            Ok(store)
        });
        match opened {
            Ok(store) => Ok((store, created)),
            Err(e) => {
                if created {
                    let _ = fs::remove_file(path);
                }
                Err(e)
            }
        }
    }

    fn connect(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(path, e))?;
        let store = Self {
            conn,
            path: path.to_owned(),
        };
        store
            .conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| store.err(e))?;
        // Overwrite deleted content (an erased activation key) with zeros.
        store
            .conn
            .pragma_update(None, "secure_delete", true)
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    /// Checks `application_id` and `user_version`. An empty file (no
    /// schema, no id) is initialized when `may_init`.
    fn check_header(&self, may_init: bool) -> Result<()> {
        let read = |name: &str| -> rusqlite::Result<i32> {
            self.conn.pragma_query_value(None, name, |row| row.get(0))
        };
        let (app_id, version) = match (read("application_id"), read("user_version")) {
            (Ok(a), Ok(v)) => (a, v),
            (Err(e), _) | (_, Err(e)) if is_not_a_database(&e) => return Err(not_ours(&self.path)),
            (Err(e), _) | (_, Err(e)) => return Err(self.err(e)),
        };
        if app_id == 0 && version == 0 && may_init && self.is_empty()? {
            return self.init();
        }
        if app_id != APPLICATION_ID || version == 0 {
            return Err(not_ours(&self.path));
        }
        if version > SCHEMA_VERSION {
            return Err(Error::input(format!(
                "{}: schema version {version} was written by a newer tessera-issuer; this one reads version {SCHEMA_VERSION}",
                self.path.display()
            )));
        }
        if version == 1 {
            self.migrate_to_v2()?;
        }
        Ok(())
    }

    /// Version 1 → 2: the signing requests' table, in one transaction.
    fn migrate_to_v2(&self) -> Result<()> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.pragma_update(None, "user_version", 2)?;
            tx.commit()
        })();
        result.map_err(|e| self.err(e))
    }

    fn is_empty(&self) -> Result<bool> {
        let objects: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(|e| self.err(e))?;
        Ok(objects == 0)
    }

    fn init(&self) -> Result<()> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute_batch(SCHEMA_V1)?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()
        })();
        result.map_err(|e| self.err(e))?;
        // A file someone made empty beforehand gets the mode we would have
        // given it.
        fs::set_permissions(&self.path, fs::Permissions::from_mode(files::PRIVATE_MODE))
            .map_err(|e| Error::file(&self.path, e))
    }

    /// Starts the one transaction of a command. `IMMEDIATE` takes the write
    /// lock at once, so the read-decide-write of a command is atomic.
    pub fn begin(&mut self) -> Result<Tx<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&self.path, e))?;
        Ok(Tx {
            tx,
            path: &self.path,
        })
    }

    /// A transaction for commands that only read (`code`, `show`).
    pub fn begin_read(&mut self) -> Result<Tx<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| db_error(&self.path, e))?;
        Ok(Tx {
            tx,
            path: &self.path,
        })
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }
}

/// A command's transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
}

const COLUMNS: &str = "serial, activation_key, label, issuer, user_id, challenge, otp, state, \
                       nonce, instance_key, hotp_counter, last_accepted, created_at, bound_at, \
                       activated_at";

impl Tx<'_> {
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.tx.commit().map_err(|e| db_error(path, e))
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(self.path, e)
    }

    pub fn exists(&self, serial: &Serial) -> Result<bool> {
        self.tx
            .query_row(
                "SELECT 1 FROM activations WHERE serial = ?1",
                [serial.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.err(e))
    }

    /// The activation `serial`; an unknown serial is an input error.
    pub fn get(&self, serial: &Serial) -> Result<Activation> {
        let row = self
            .tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM activations WHERE serial = ?1"),
                [serial.as_str()],
                RawRow::read,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match row {
            Some(raw) => raw.decode(self.path),
            None => Err(Error::input(format!(
                "{serial}: no such activation in {}",
                self.path.display()
            ))),
        }
    }

    /// Every activation, oldest first.
    pub fn list(&self) -> Result<Vec<Activation>> {
        let mut stmt = self
            .tx
            .prepare(&format!(
                "SELECT {COLUMNS} FROM activations ORDER BY created_at, serial"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], RawRow::read)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(|raw| raw.decode(self.path)).collect()
    }

    pub fn insert(&self, new: &NewActivation<'_>) -> Result<()> {
        let hotp_counter = match new.otp.kind() {
            OtpKind::Hotp { counter } => Some(to_sql_int(counter)),
            OtpKind::Totp { .. } => None,
        };
        self.tx
            .execute(
                "INSERT INTO activations (serial, activation_key, label, issuer, user_id, \
                 challenge, otp, state, hotp_counter, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'created', ?8, ?9)",
                rusqlite::params![
                    new.serial.as_str(),
                    new.activation_key.expose(),
                    new.label,
                    new.issuer,
                    new.user_id,
                    new.challenge.map(Challenge::as_str),
                    new.otp.to_string(),
                    hotp_counter,
                    new.created_at,
                ],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// `bind`: the device's nonce and the instance key; the state becomes
    /// `bound`. A new binding starts afresh: HOTP counter 0, no code accepted.
    pub fn bind(
        &self,
        serial: &Serial,
        nonce: u32,
        instance_key: &SecretBytes,
        at: i64,
    ) -> Result<()> {
        self.update(
            "UPDATE activations SET state = 'bound', nonce = ?2, instance_key = ?3, \
             bound_at = ?4, last_accepted = NULL, \
             hotp_counter = CASE WHEN hotp_counter IS NULL THEN NULL ELSE 0 END \
             WHERE serial = ?1",
            rusqlite::params![serial.as_str(), nonce, instance_key.expose(), at],
        )
    }

    /// `finalize`: the state becomes `active` and the activation key is erased.
    pub fn activate(&self, serial: &Serial, at: i64) -> Result<()> {
        self.update(
            "UPDATE activations SET state = 'active', activated_at = ?2, \
             activation_key = NULL WHERE serial = ?1",
            rusqlite::params![serial.as_str(), at],
        )
    }

    /// A TOTP step was accepted.
    pub fn accept_totp(&self, serial: &Serial, step: u64) -> Result<()> {
        self.update(
            "UPDATE activations SET last_accepted = ?2 WHERE serial = ?1",
            rusqlite::params![serial.as_str(), to_sql_int(step)],
        )
    }

    /// An HOTP counter was accepted: the next one expected is after it.
    pub fn accept_hotp(&self, serial: &Serial, counter: u64) -> Result<()> {
        self.update(
            "UPDATE activations SET last_accepted = ?2, hotp_counter = ?3 WHERE serial = ?1",
            rusqlite::params![
                serial.as_str(),
                to_sql_int(counter),
                to_sql_int(counter + 1)
            ],
        )
    }

    /// Stores a new signing request (pending).
    pub fn insert_sign_request(
        &self,
        serial: &Serial,
        nonce: &[u8; 16],
        tx: &[u8],
        expires_at: u64,
        created_at: i64,
    ) -> Result<i64> {
        self.tx
            .execute(
                "INSERT INTO sign_requests (serial, nonce, tx, expires_at, created_at, state) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                rusqlite::params![
                    serial.as_str(),
                    nonce.as_slice(),
                    tx,
                    to_sql_int(expires_at),
                    created_at
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// The signing requests of `serial`, newest first.
    pub fn sign_requests(&self, serial: &Serial) -> Result<Vec<SignRecord>> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT id, nonce, tx, expires_at, created_at, state, attempts \
                 FROM sign_requests WHERE serial = ?1 ORDER BY created_at DESC, id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([serial.as_str()], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(id, nonce, tx, expires_at, created_at, state, attempts)| {
                let state = SignState::parse(&state).ok_or_else(|| {
                    Error::input(format!(
                        "database {}: signing request {id} has the unknown state {state:?}",
                        self.path.display()
                    ))
                })?;
                Ok(SignRecord {
                    id,
                    nonce,
                    tx,
                    expires_at: u64::try_from(expires_at).unwrap_or(0),
                    created_at,
                    state,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// A signing request's response was accepted.
    pub fn mark_signed(&self, id: i64, at: i64) -> Result<()> {
        self.update_request(
            "UPDATE sign_requests SET state = 'signed', signed_at = ?2 \
             WHERE id = ?1 AND state = 'pending'",
            rusqlite::params![id, at],
        )
    }

    /// A wrong response was typed for the request; refused from
    /// `max_attempts` on.
    pub fn count_wrong_response(&self, id: i64, max_attempts: u32) -> Result<()> {
        self.update_request(
            "UPDATE sign_requests SET attempts = attempts + 1, \
             state = CASE WHEN attempts + 1 >= ?2 THEN 'refused' ELSE state END \
             WHERE id = ?1 AND state = 'pending'",
            rusqlite::params![id, max_attempts],
        )
    }

    fn update_request(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        let changed = self.tx.execute(sql, params).map_err(|e| self.err(e))?;
        if changed == 1 {
            Ok(())
        } else {
            Err(Error::input(format!(
                "database {}: expected to change one signing request, changed {changed}",
                self.path.display()
            )))
        }
    }

    fn update(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        let changed = self.tx.execute(sql, params).map_err(|e| self.err(e))?;
        if changed == 1 {
            Ok(())
        } else {
            Err(Error::input(format!(
                "database {}: expected to change one activation, changed {changed}",
                self.path.display()
            )))
        }
    }
}

/// Counters and steps are far below 2^63; saturate rather than wrap.
fn to_sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A row as SQLite returns it, decoded into core types by [`RawRow::decode`].
struct RawRow {
    serial: String,
    activation_key: Option<Vec<u8>>,
    label: Option<String>,
    issuer: Option<String>,
    user_id: Option<String>,
    challenge: Option<String>,
    otp: String,
    state: String,
    nonce: Option<i64>,
    instance_key: Option<Vec<u8>>,
    hotp_counter: Option<i64>,
    last_accepted: Option<i64>,
    created_at: i64,
    bound_at: Option<i64>,
    activated_at: Option<i64>,
}

impl RawRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            serial: row.get(0)?,
            activation_key: row.get(1)?,
            label: row.get(2)?,
            issuer: row.get(3)?,
            user_id: row.get(4)?,
            challenge: row.get(5)?,
            otp: row.get(6)?,
            state: row.get(7)?,
            nonce: row.get(8)?,
            instance_key: row.get(9)?,
            hotp_counter: row.get(10)?,
            last_accepted: row.get(11)?,
            created_at: row.get(12)?,
            bound_at: row.get(13)?,
            activated_at: row.get(14)?,
        })
    }

    fn decode(self, path: &Path) -> Result<Activation> {
        let serial = &self.serial;
        let bad = |column: &str| {
            Error::input(format!(
                "database {}: activation {serial:?} has a bad {column} value",
                path.display()
            ))
        };
        let activation_key = match self.activation_key {
            None => None,
            Some(bytes) => {
                let bytes = zeroize::Zeroizing::new(bytes);
                let array: [u8; 16] = bytes[..].try_into().map_err(|_| bad("activation_key"))?;
                Some(ActivationKey::from_bytes(array))
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
            instance_key: self.instance_key.map(SecretBytes::new),
            last_accepted: self
                .last_accepted
                .map(u64::try_from)
                .transpose()
                .map_err(|_| bad("last_accepted"))?,
            created_at: self.created_at,
            bound_at: self.bound_at,
            activated_at: self.activated_at,
        })
    }
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    )
}

fn not_ours(path: &Path) -> Error {
    Error::input(format!(
        "{} is not a tessera-issuer database",
        path.display()
    ))
}

fn db_error(path: &Path, source: rusqlite::Error) -> Error {
    if is_not_a_database(&source) {
        return not_ours(path);
    }
    Error::Database {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial() -> Serial {
        "TSR0000001".parse().unwrap()
    }

    fn add(store: &mut Store, otp: &str) {
        let tx = store.begin().unwrap();
        tx.insert(&NewActivation {
            serial: &serial(),
            activation_key: &ActivationKey::from_bytes([7; 16]),
            label: Some("alice"),
            issuer: None,
            user_id: None,
            challenge: None,
            otp: otp.parse().unwrap(),
            created_at: 1,
        })
        .unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn creates_a_private_versioned_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.db");
        let (_, created) = Store::open_or_create(&path).unwrap();
        assert!(created);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let conn = Connection::open(&path).unwrap();
        let id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        let version: i32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!((id, version), (APPLICATION_ID, SCHEMA_VERSION));
        let (_, created) = Store::open_or_create(&path).unwrap();
        assert!(!created);
        Store::open(&path).unwrap();
    }

    #[test]
    fn refuses_files_that_are_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        fs::write(
            &text,
            "hello, this is not SQLite at all; it is long enough to be read\n".repeat(20),
        )
        .unwrap();
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 1;")
            .unwrap();
        let empty = dir.path().join("empty.db");
        fs::write(&empty, "").unwrap();
        for path in [&text, &other, &empty] {
            let before = fs::read(path).unwrap();
            let err = Store::open(path).err().expect("refused");
            assert_eq!(
                err.to_string(),
                format!("{} is not a tessera-issuer database", path.display())
            );
            assert_eq!(err.exit_code(), 2);
            if path != &empty {
                let err = Store::open_or_create(path).err().expect("refused");
                assert!(err.to_string().contains("not a tessera-issuer database"));
            }
            assert_eq!(
                fs::read(path).unwrap(),
                before,
                "{} unchanged",
                path.display()
            );
        }
        // `new` initializes an empty file (as it creates one itself).
        Store::open_or_create(&empty).unwrap();
        Store::open(&empty).unwrap();
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.db");
        Store::open_or_create(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer tessera-issuer"), "{err}");
    }

    #[test]
    fn rows_round_trip_through_the_states() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open_or_create(&dir.path().join("issuer.db")).unwrap();
        add(&mut store, "hotp:SHA1:6");
        let tx = store.begin().unwrap();
        let a = tx.get(&serial()).unwrap();
        assert_eq!(a.state, State::Created);
        assert_eq!(a.hotp_counter(), Some(0));
        assert_eq!(a.label.as_deref(), Some("alice"));
        assert!(a.instance_key.is_none());
        tx.bind(&serial(), 42, &SecretBytes::from(&[1u8; 20][..]), 2)
            .unwrap();
        tx.accept_hotp(&serial(), 5).unwrap();
        let a = tx.get(&serial()).unwrap();
        assert_eq!(
            (a.state, a.nonce, a.hotp_counter(), a.last_accepted),
            (State::Bound, Some(42), Some(6), Some(5))
        );
        tx.activate(&serial(), 3).unwrap();
        let a = tx.get(&serial()).unwrap();
        assert_eq!(a.state, State::Active);
        assert!(a.activation_key.is_none(), "AK erased on activation");
        assert_eq!(a.instance_key.unwrap().len(), 20);
        tx.commit().unwrap();
        let tx = store.begin().unwrap();
        assert_eq!(tx.list().unwrap().len(), 1);
        let other: Serial = "TSR0000002".parse().unwrap();
        assert!(!tx.exists(&other).unwrap());
        assert!(
            tx.get(&other)
                .unwrap_err()
                .to_string()
                .contains("no such activation")
        );
    }

    #[test]
    fn a_dropped_transaction_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open_or_create(&dir.path().join("issuer.db")).unwrap();
        add(&mut store, "totp:SHA1:6:30");
        {
            let tx = store.begin().unwrap();
            tx.accept_totp(&serial(), 9).unwrap();
        }
        let tx = store.begin().unwrap();
        assert_eq!(tx.get(&serial()).unwrap().last_accepted, None);
    }
}
