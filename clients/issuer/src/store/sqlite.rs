//! The SQLite store: one file (rusqlite, bundled SQLite), mode 0600,
//! marked with `PRAGMA application_id` and versioned with
//! `PRAGMA user_version` (the migrations below, applied in order in one
//! transaction each).
//!
//! A write transaction is `BEGIN IMMEDIATE`: it takes the file's write lock
//! at once, so the read-decide-write of a command is atomic, also between
//! processes. `secure_delete` is on, so an erased key's old page is zeroed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use tessera_core::SecretBytes;
use tessera_core::activation::{Challenge, Serial};

use super::sealing::{Column, Kek, Keys, Mode};
use super::{
    ApiClient, AuditEvent, COLUMNS, NewActivation, NewRequest, RawRow, RequestKind, SealedRow,
    SignRecord, SignState, Store, StoreTx, initial_hotp_counter, to_sql_int,
};
use crate::error::{Error, Result};
use crate::files;

/// `PRAGMA application_id`: "TSRI" in ASCII.
pub const APPLICATION_ID: i32 = 0x5453_5249;

/// The migrations: `MIGRATIONS[i]` takes the schema from version `i` to
/// `i + 1`. `PRAGMA user_version` is the number applied.
const MIGRATIONS: [&str; 4] = [
    include_str!("migrations/sqlite/001_activations.sql"),
    include_str!("migrations/sqlite/002_sign_requests.sql"),
    include_str!("migrations/sqlite/003_service.sql"),
    include_str!("migrations/sqlite/004_challenges.sql"),
];

/// `PRAGMA user_version` this program writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// An open issuer database file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    place: String,
    keys: Keys,
}

impl SqliteStore {
    /// Opens an existing issuer database.
    pub fn open(path: &Path, kek: Option<Kek>) -> Result<Self> {
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
        let mut store = Self::connect(path)?;
        store.check_header(false)?;
        store.load_keys(kek)?;
        Ok(store)
    }

    /// Opens the database, creating it (mode 0600) if there is no file.
    /// Returns whether it was created, so a failed `new` can remove it.
    pub fn open_or_create(path: &Path, kek: Option<Kek>) -> Result<(Self, bool)> {
        let created = match files::create_private(path) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::file(path, e)),
        };
        let opened = Self::connect(path).and_then(|mut store| {
            store.check_header(true)?;
            store.load_keys(kek)?;
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
        let place = path.display().to_string();
        let conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(path, e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| db_error(path, e))?;
        // Overwrite deleted content (an erased activation key) with zeros.
        conn.pragma_update(None, "secure_delete", true)
            .map_err(|e| db_error(path, e))?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            keys: Keys::plain(&place),
            place,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: the
        // transaction it had is rolled back by the guard's drop below.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks `application_id` and `user_version` and applies the
    /// migrations this file lacks. An empty file (no schema, no id) is
    /// initialized when `may_init`.
    fn check_header(&self, may_init: bool) -> Result<()> {
        let conn = self.conn();
        let read = |name: &str| -> rusqlite::Result<i32> {
            conn.pragma_query_value(None, name, |row| row.get(0))
        };
        let (app_id, version) = match (read("application_id"), read("user_version")) {
            (Ok(a), Ok(v)) => (a, v),
            (Err(e), _) | (_, Err(e)) if is_not_a_database(&e) => return Err(not_ours(&self.path)),
            (Err(e), _) | (_, Err(e)) => return Err(db_error(&self.path, e)),
        };
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(|e| db_error(&self.path, e))?;
        let fresh = app_id == 0 && version == 0 && may_init && objects == 0;
        if !fresh && (app_id != APPLICATION_ID || version == 0) {
            return Err(not_ours(&self.path));
        }
        if version > SCHEMA_VERSION {
            return Err(Error::input(format!(
                "{}: schema version {version} was written by a newer tessera-issuer; this one reads version {SCHEMA_VERSION}",
                self.path.display()
            )));
        }
        for (done, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let to = done as i32 + 1;
            let result = (|| {
                // The rebuild of a table (003) needs the foreign keys off.
                conn.pragma_update(None, "foreign_keys", false)?;
                let tx = conn.unchecked_transaction()?;
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "application_id", APPLICATION_ID)?;
                tx.pragma_update(None, "user_version", to)?;
                tx.commit()
            })();
            result.map_err(|e| {
                Error::store(&self.place, format!("migration to schema {to} failed: {e}"))
            })?;
        }
        drop(conn);
        if fresh {
            // A file someone made empty beforehand gets the mode we would
            // have given it.
            fs::set_permissions(&self.path, fs::Permissions::from_mode(files::PRIVATE_MODE))
                .map_err(|e| Error::file(&self.path, e))?;
        }
        Ok(())
    }

    fn load_keys(&mut self, kek: Option<Kek>) -> Result<()> {
        let keys = {
            let mut tx = self.tx("BEGIN IMMEDIATE")?;
            let keys = super::load_keys(&mut tx, &self.place, kek.as_ref(), true)?;
            Box::new(tx).commit()?;
            keys
        };
        self.keys = keys;
        Ok(())
    }

    fn tx(&self, begin: &str) -> Result<SqliteTx<'_>> {
        let conn = self.conn();
        conn.execute_batch(begin)
            .map_err(|e| db_error(&self.path, e))?;
        Ok(SqliteTx {
            conn,
            path: &self.path,
            keys: &self.keys,
            done: false,
        })
    }
}

impl Store for SqliteStore {
    fn begin(&self) -> Result<Box<dyn StoreTx + '_>> {
        Ok(Box::new(self.tx("BEGIN IMMEDIATE")?))
    }

    fn begin_read(&self) -> Result<Box<dyn StoreTx + '_>> {
        Ok(Box::new(self.tx("BEGIN DEFERRED")?))
    }

    fn ping(&self) -> Result<()> {
        self.conn()
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(|e| db_error(&self.path, e))
    }

    fn describe(&self) -> &str {
        &self.place
    }

    fn keys(&self) -> &Keys {
        &self.keys
    }
}

/// A command's transaction. Dropped without [`StoreTx::commit`], it rolls
/// back.
pub struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    path: &'a Path,
    keys: &'a Keys,
    done: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl SqliteTx<'_> {
    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(self.path, e)
    }

    fn place(&self) -> String {
        self.path.display().to_string()
    }

    fn update(&self, sql: &str, params: impl rusqlite::Params, what: &str) -> Result<()> {
        let changed = self.conn.execute(sql, params).map_err(|e| self.err(e))?;
        if changed == 1 {
            Ok(())
        } else {
            Err(Error::store_data(format!(
                "database {}: expected to change one {what}, changed {changed}",
                self.place()
            )))
        }
    }

    fn rows(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<RawRow>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.query_map(params, read_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))
    }
}

impl StoreTx for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| db_error(self.path, e))?;
        self.done = true;
        Ok(())
    }

    fn exists(&mut self, serial: &Serial) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM activations WHERE serial = ?1",
                [serial.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.err(e))
    }

    fn get(&mut self, serial: &Serial) -> Result<super::Activation> {
        let sql = format!("SELECT {COLUMNS} FROM activations WHERE serial = ?1");
        match self.rows(&sql, [serial.as_str()])?.pop() {
            Some(raw) => raw.decode(&self.place(), self.keys),
            None => Err(Error::NotFound(format!(
                "{serial}: no such activation in {}",
                self.place()
            ))),
        }
    }

    fn list(
        &mut self,
        after: Option<&Serial>,
        limit: Option<u32>,
    ) -> Result<Vec<super::Activation>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM activations WHERE ?1 IS NULL OR (created_at, serial) > \
             (SELECT created_at, serial FROM activations WHERE serial = ?1) \
             ORDER BY created_at, serial LIMIT ?2"
        );
        let limit = limit.map_or(-1, i64::from);
        let rows = self.rows(&sql, params![after.map(Serial::as_str), limit])?;
        let place = self.place();
        rows.into_iter()
            .map(|raw| raw.decode(&place, self.keys))
            .collect()
    }

    fn find_request(&mut self, client: &str, request_id: &str) -> Result<Option<Serial>> {
        let found: Option<String> = self
            .conn
            .query_row(
                "SELECT serial FROM activations WHERE client = ?1 AND request_id = ?2",
                [client, request_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        found
            .map(|s| {
                s.parse().map_err(|_| {
                    Error::store_data(format!("database {}: bad serial {s:?}", self.place()))
                })
            })
            .transpose()
    }

    fn insert(&mut self, new: &NewActivation<'_>) -> Result<()> {
        let sealed = self.keys.seal(
            Column::ActivationKey,
            new.serial.as_str(),
            new.activation_key.expose(),
        );
        self.conn
            .execute(
                "INSERT INTO activations (serial, activation_key, label, issuer, user_id, \
                 challenge, otp, state, hotp_counter, client, request_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'created', ?8, ?9, ?10, ?11)",
                params![
                    new.serial.as_str(),
                    sealed,
                    new.label,
                    new.issuer,
                    new.user_id,
                    new.challenge.map(Challenge::as_str),
                    new.otp.to_string(),
                    initial_hotp_counter(&new.otp),
                    new.request.map(|r| r.0),
                    new.request.map(|r| r.1),
                    new.created_at,
                ],
            )
            .map(drop)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict(format!(
                        "{}: taken by a concurrent request (a serial or request id in use); retry",
                        new.serial
                    ))
                } else {
                    self.err(e)
                }
            })
    }

    fn bind(
        &mut self,
        serial: &Serial,
        nonce: u32,
        instance_key: &SecretBytes,
        at: i64,
    ) -> Result<()> {
        let sealed = self
            .keys
            .seal(Column::InstanceKey, serial.as_str(), instance_key.expose());
        self.update(
            "UPDATE activations SET state = 'bound', nonce = ?2, instance_key = ?3, \
             bound_at = ?4, last_accepted = NULL, failed_attempts = 0, locked_until = NULL, \
             hotp_counter = CASE WHEN hotp_counter IS NULL THEN NULL ELSE 0 END \
             WHERE serial = ?1",
            params![serial.as_str(), nonce, sealed, at],
            "activation",
        )
    }

    fn activate(&mut self, serial: &Serial, at: i64) -> Result<()> {
        self.update(
            "UPDATE activations SET state = 'active', activated_at = ?2, \
             activation_key = NULL WHERE serial = ?1",
            params![serial.as_str(), at],
            "activation",
        )
    }

    fn accept_totp(&mut self, serial: &Serial, step: u64) -> Result<()> {
        self.update(
            "UPDATE activations SET last_accepted = ?2, failed_attempts = 0, \
             locked_until = NULL WHERE serial = ?1",
            params![serial.as_str(), to_sql_int(step)],
            "activation",
        )
    }

    fn accept_hotp(&mut self, serial: &Serial, counter: u64) -> Result<()> {
        self.update(
            "UPDATE activations SET last_accepted = ?2, hotp_counter = ?3, \
             failed_attempts = 0, locked_until = NULL WHERE serial = ?1",
            params![
                serial.as_str(),
                to_sql_int(counter),
                to_sql_int(counter.saturating_add(1))
            ],
            "activation",
        )
    }

    fn record_failure(
        &mut self,
        serial: &Serial,
        failures: u32,
        locked_until: Option<i64>,
    ) -> Result<()> {
        self.update(
            "UPDATE activations SET failed_attempts = ?2, locked_until = ?3 WHERE serial = ?1",
            params![serial.as_str(), failures, locked_until],
            "activation",
        )
    }

    fn revoke(&mut self, serial: &Serial, at: i64) -> Result<()> {
        self.update(
            "UPDATE activations SET state = 'revoked', revoked_at = ?2, \
             activation_key = NULL, instance_key = NULL WHERE serial = ?1",
            params![serial.as_str(), at],
            "activation",
        )
    }

    fn insert_sign_request(&mut self, serial: &Serial, new: NewRequest<'_>) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO sign_requests (serial, kind, nonce, tx, expires_at, created_at, state) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
                params![
                    serial.as_str(),
                    new.kind.as_str(),
                    new.nonce.as_slice(),
                    new.tx,
                    to_sql_int(new.expires_at),
                    new.created_at
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn sign_requests(
        &mut self,
        serial: &Serial,
        kind: RequestKind,
        nonce: Option<&[u8; 16]>,
    ) -> Result<Vec<SignRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, nonce, tx, expires_at, created_at, state, attempts \
                 FROM sign_requests WHERE serial = ?1 AND kind = ?2 AND (?3 IS NULL OR nonce = ?3) \
                 ORDER BY created_at DESC, id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![serial.as_str(), kind.as_str(), nonce.map(|n| n.as_slice())],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, i64>(6)?,
                    ))
                },
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| db_error(self.path, e))?;
        drop(stmt);
        let place = self.place();
        rows.into_iter()
            .map(|(id, nonce, tx, expires_at, created_at, state, attempts)| {
                sign_record(
                    &place, id, kind, nonce, tx, expires_at, created_at, &state, attempts,
                )
            })
            .collect()
    }

    fn mark_signed(&mut self, id: i64, at: i64) -> Result<()> {
        self.update(
            "UPDATE sign_requests SET state = 'signed', signed_at = ?2 \
             WHERE id = ?1 AND state = 'pending'",
            params![id, at],
            "signing request",
        )
    }

    fn count_wrong_response(&mut self, id: i64, max_attempts: u32) -> Result<()> {
        self.update(
            "UPDATE sign_requests SET attempts = attempts + 1, \
             state = CASE WHEN attempts + 1 >= ?2 THEN 'refused' ELSE state END \
             WHERE id = ?1 AND state = 'pending'",
            params![id, max_attempts],
            "signing request",
        )
    }

    fn audit(&mut self, event: &AuditEvent) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO audit_log (at, actor, serial, action, outcome) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    event.at,
                    event.actor,
                    event.serial,
                    event.action,
                    event.outcome
                ],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    fn audit_log(&mut self, serial: Option<&Serial>, limit: u32) -> Result<Vec<AuditEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, actor, serial, action, outcome FROM audit_log \
                 WHERE ?1 IS NULL OR serial = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![serial.map(Serial::as_str), limit], |row| {
            Ok(AuditEvent {
                at: row.get(0)?,
                actor: row.get(1)?,
                serial: row.get(2)?,
                action: row.get(3)?,
                outcome: row.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db_error(self.path, e))
    }

    fn add_client(&mut self, name: &str, token_hash: &[u8; 32], at: i64) -> Result<()> {
        let result = self.conn.execute(
            "INSERT INTO api_clients (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
            params![name, token_hash.as_slice(), at],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::conflict(format!(
                "{name}: a client with this name exists (revoke it, or pick another name)"
            ))),
            Err(e) => Err(self.err(e)),
        }
    }

    fn client_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT name FROM api_clients WHERE token_hash = ?1 AND revoked_at IS NULL",
                [token_hash.as_slice()],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn clients(&mut self) -> Result<Vec<ApiClient>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, created_at, revoked_at FROM api_clients ORDER BY name")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |row| {
            Ok(ApiClient {
                name: row.get(0)?,
                created_at: row.get(1)?,
                revoked_at: row.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db_error(self.path, e))
    }

    fn revoke_client(&mut self, name: &str, at: i64) -> Result<bool> {
        self.conn
            .execute(
                "UPDATE api_clients SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, at],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    fn data_keys(&mut self) -> Result<Vec<(u32, String, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, kek_id, wrapped FROM data_keys ORDER BY id")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| db_error(self.path, e))
    }

    fn put_data_key(&mut self, id: u32, kek_id: &str, wrapped: &[u8], at: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO data_keys (id, kek_id, wrapped, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET kek_id = excluded.kek_id, wrapped = excluded.wrapped",
                params![id, kek_id, wrapped, at],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    fn sealed_secrets(&mut self) -> Result<Vec<SealedRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT serial, activation_key, instance_key FROM activations")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |row| {
            Ok(SealedRow {
                serial: row.get(0)?,
                activation_key: row.get(1)?,
                instance_key: row.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db_error(self.path, e))
    }

    fn put_sealed_secrets(&mut self, row: &SealedRow) -> Result<()> {
        self.update(
            "UPDATE activations SET activation_key = ?2, instance_key = ?3 WHERE serial = ?1",
            params![row.serial, row.activation_key, row.instance_key],
            "activation",
        )
    }

    fn secrets_mode(&mut self) -> Result<Option<Mode>> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'secrets'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        super::parse_mode(&self.place(), text)
    }

    fn set_secrets_mode(&mut self, mode: Mode) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('secrets', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [mode.as_str()],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
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
        failed_attempts: row.get(12)?,
        locked_until: row.get(13)?,
        created_at: row.get(14)?,
        bound_at: row.get(15)?,
        activated_at: row.get(16)?,
        revoked_at: row.get(17)?,
    })
}

/// A signing request's columns, checked (one decoder for both databases).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sign_record(
    place: &str,
    id: i64,
    kind: RequestKind,
    nonce: Vec<u8>,
    tx: Vec<u8>,
    expires_at: i64,
    created_at: i64,
    state: &str,
    attempts: i64,
) -> Result<SignRecord> {
    let state = SignState::parse(state).ok_or_else(|| {
        Error::store_data(format!(
            "database {place}: signing request {id} has the unknown state {state:?}"
        ))
    })?;
    Ok(SignRecord {
        id,
        kind,
        nonce,
        tx,
        expires_at: u64::try_from(expires_at).unwrap_or(0),
        created_at,
        state,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    )
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation)
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
    Error::store(&path.display().to_string(), source)
}
