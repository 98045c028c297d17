//! The PostgreSQL store: the issuer at scale, one database shared by every
//! `tessera-issuer serve` instance.
//!
//! - A pool of connections (r2d2) with each connection's prepared
//!   statements cached, so a request costs its queries' round trips only.
//! - A write transaction reads its activation `SELECT … FOR UPDATE`: the
//!   row stays locked until the transaction ends, so of two instances
//!   verifying the same code, the second waits, then reads the first's
//!   `last_accepted` and refuses the replay; an HOTP counter is only ever
//!   moved forward from the row as locked.
//! - Migrations are numbered files applied in order under an advisory lock
//!   (instances starting together apply each once), recorded in
//!   `schema_migrations`.
//! - Key material is always sealed (a master key is required).

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use tessera_core::SecretBytes;
use tessera_core::activation::{Challenge, Serial};

use super::sealing::{Column, Kek, Keys, Mode};
use super::{
    Activation, ApiClient, AuditEvent, COLUMNS, NewActivation, NewRequest, RawRow, RequestKind,
    SealedRow, SignRecord, Store, StoreTx, initial_hotp_counter, to_sql_int,
};
use crate::error::{Error, Result};

/// The migrations, in order: `MIGRATIONS[i]` is version `i + 1`.
const MIGRATIONS: [&str; 2] = [
    include_str!("migrations/postgres/001_schema.sql"),
    include_str!("migrations/postgres/002_challenges.sql"),
];

/// The advisory lock the migrations run under ("TSRI").
const MIGRATION_LOCK: i64 = 0x5453_5249;

/// The schema version this program writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// One pooled connection and its prepared statements.
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgConn {
    fn statement(&mut self, sql: &str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// Makes and checks the pool's connections.
struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// An issuer database on a PostgreSQL server.
pub struct PgStore {
    pool: r2d2::Pool<Manager>,
    place: String,
    keys: Keys,
}

impl PgStore {
    /// Connects (a pool of up to `connections`), applies the migrations the
    /// database lacks and loads the data keys with `kek`.
    pub fn connect(url: &str, kek: Option<Kek>, connections: u32) -> Result<Self> {
        let config: postgres::Config = url.parse().map_err(|e| {
            Error::input(format!(
                "--database-url: not a PostgreSQL URL or connection string ({e})"
            ))
        })?;
        let place = describe(&config);
        let pool = r2d2::Pool::builder()
            .max_size(connections.max(1))
            .min_idle(Some(1))
            .test_on_check_out(false)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(Manager { config })
            .map_err(|e| Error::store(&place, e))?;
        let mut store = Self {
            pool,
            keys: Keys::plain(&place),
            place,
        };
        store.migrate()?;
        let keys = {
            let mut tx = store.tx("BEGIN", true)?;
            // Instances starting together decide the first data key once.
            tx.exec("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            let keys = super::load_keys(&mut tx, &store.place, kek.as_ref(), false)?;
            Box::new(tx).commit()?;
            keys
        };
        store.keys = keys;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.get().map_err(|e| Error::store(&self.place, e))?;
        let place = self.place.clone();
        let err = |e: postgres::Error| pg_error(&place, e);
        let mut tx = conn.client.transaction().map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )
        .map_err(err)?;
        let version: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .map_err(err)?
            .get(0);
        if version > SCHEMA_VERSION {
            return Err(Error::input(format!(
                "database {place}: schema version {version} was written by a newer \
                 tessera-issuer; this one reads version {SCHEMA_VERSION}"
            )));
        }
        for (done, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let to = done as i32 + 1;
            tx.batch_execute(sql).map_err(|e| {
                Error::store(
                    &place,
                    format!("migration to schema {to} failed: {}", pg_message(&e)),
                )
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&to, &crate::service::now_secs()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn tx(&self, begin: &str, write: bool) -> Result<PgTx<'_>> {
        // Connections are not tested when taken from the pool (that is a
        // round trip per request). One the server closed while it sat idle
        // fails its BEGIN, is dropped (`has_broken`), and the BEGIN goes to
        // the next: nothing had happened on it yet. After a server restart
        // every idle one is closed, so up to the pool's size are tried.
        let mut tries = self.pool.max_size();
        let conn = loop {
            let mut conn = self.pool.get().map_err(|e| Error::store(&self.place, e))?;
            match conn.client.batch_execute(begin) {
                Ok(()) => break conn,
                Err(e) if !conn.client.is_closed() || tries == 0 => {
                    return Err(pg_error(&self.place, e));
                }
                Err(_) => tries -= 1,
            }
        };
        Ok(PgTx {
            conn,
            place: &self.place,
            keys: &self.keys,
            write,
            done: false,
        })
    }
}

/// A client error with what the server or the connection said: the
/// server's code and message (which name a constraint, never a value; its
/// detail, which may quote values, is left out), or the cause under the
/// client's "db error" / "error communicating with the server".
fn pg_error(place: &str, e: postgres::Error) -> Error {
    Error::store(place, pg_message(&e))
}

fn pg_message(e: &postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

/// `postgres db NAME at HOST` without user or password.
fn describe(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "postgres {} at {}",
        config.get_dbname().unwrap_or("(default)"),
        if hosts.is_empty() {
            "localhost".to_owned()
        } else {
            hosts.join(",")
        }
    )
}

impl Store for PgStore {
    fn begin(&self) -> Result<Box<dyn StoreTx + '_>> {
        Ok(Box::new(self.tx("BEGIN", true)?))
    }

    fn begin_read(&self) -> Result<Box<dyn StoreTx + '_>> {
        Ok(Box::new(self.tx("BEGIN READ ONLY", false)?))
    }

    fn ping(&self) -> Result<()> {
        let mut conn = self.pool.get().map_err(|e| Error::store(&self.place, e))?;
        conn.client
            .simple_query("SELECT 1")
            .map(drop)
            .map_err(|e| pg_error(&self.place, e))
    }

    fn describe(&self) -> &str {
        &self.place
    }

    fn keys(&self) -> &Keys {
        &self.keys
    }
}

/// One transaction on one pooled connection; rolled back when dropped
/// without a commit.
pub struct PgTx<'a> {
    conn: r2d2::PooledConnection<Manager>,
    place: &'a str,
    keys: &'a Keys,
    /// Rows read for a decision are locked (`FOR UPDATE`).
    write: bool,
    done: bool,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.client.batch_execute("ROLLBACK");
        }
    }
}

impl PgTx<'_> {
    fn err(&self, e: postgres::Error) -> Error {
        pg_error(self.place, e)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let conn = &mut *self.conn;
        let result = conn
            .statement(sql)
            .and_then(|statement| conn.client.query(&statement, params));
        result.map_err(|e| self.err(e))
    }

    fn exec(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let conn = &mut *self.conn;
        let result = conn
            .statement(sql)
            .and_then(|statement| conn.client.execute(&statement, params));
        result.map_err(|e| self.err(e))
    }

    /// An INSERT whose unique constraint may be taken: then `taken()`.
    fn insert_unique(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        taken: impl FnOnce() -> Error,
    ) -> Result<()> {
        let conn = &mut *self.conn;
        let result = conn
            .statement(sql)
            .and_then(|statement| conn.client.execute(&statement, params));
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
                Err(taken())
            }
            Err(e) => Err(self.err(e)),
        }
    }

    fn update(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)], what: &str) -> Result<()> {
        match self.exec(sql, params)? {
            1 => Ok(()),
            n => Err(Error::store_data(format!(
                "database {}: expected to change one {what}, changed {n}",
                self.place
            ))),
        }
    }

    fn activations(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Activation>> {
        let rows = self.query(sql, params)?;
        rows.iter()
            .map(|row| read_row(row).decode(self.place, self.keys))
            .collect()
    }
}

fn read_row(row: &Row) -> RawRow {
    RawRow {
        serial: row.get(0),
        activation_key: row.get(1),
        label: row.get(2),
        issuer: row.get(3),
        user_id: row.get(4),
        challenge: row.get(5),
        otp: row.get(6),
        state: row.get(7),
        nonce: row.get(8),
        instance_key: row.get(9),
        hotp_counter: row.get(10),
        last_accepted: row.get(11),
        failed_attempts: i64::from(row.get::<_, i32>(12)),
        locked_until: row.get(13),
        created_at: row.get(14),
        bound_at: row.get(15),
        activated_at: row.get(16),
        revoked_at: row.get(17),
    }
}

impl StoreTx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.done = true;
        let result = self.conn.client.batch_execute("COMMIT");
        result.map_err(|e| self.err(e))
    }

    fn exists(&mut self, serial: &Serial) -> Result<bool> {
        Ok(!self
            .query(
                "SELECT 1 FROM activations WHERE serial = $1",
                &[&serial.as_str()],
            )?
            .is_empty())
    }

    fn get(&mut self, serial: &Serial) -> Result<Activation> {
        let sql = if self.write {
            format!("SELECT {COLUMNS} FROM activations WHERE serial = $1 FOR UPDATE")
        } else {
            format!("SELECT {COLUMNS} FROM activations WHERE serial = $1")
        };
        self.activations(&sql, &[&serial.as_str()])?
            .pop()
            .ok_or_else(|| {
                Error::NotFound(format!("{serial}: no such activation in {}", self.place))
            })
    }

    fn list(&mut self, after: Option<&Serial>, limit: Option<u32>) -> Result<Vec<Activation>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM activations WHERE $1::TEXT IS NULL OR (created_at, serial) > \
             (SELECT created_at, serial FROM activations WHERE serial = $1) \
             ORDER BY created_at, serial LIMIT $2"
        );
        let limit: Option<i64> = limit.map(i64::from);
        self.activations(&sql, &[&after.map(Serial::as_str), &limit])
    }

    fn find_request(&mut self, client: &str, request_id: &str) -> Result<Option<Serial>> {
        let rows = self.query(
            "SELECT serial FROM activations WHERE client = $1 AND request_id = $2",
            &[&client, &request_id],
        )?;
        rows.first()
            .map(|row| {
                let s: String = row.get(0);
                s.parse().map_err(|_| {
                    Error::store_data(format!("database {}: bad serial {s:?}", self.place))
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
        self.insert_unique(
            "INSERT INTO activations (serial, activation_key, label, issuer, user_id, \
             challenge, otp, state, hotp_counter, client, request_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'created', $8, $9, $10, $11)",
            &[
                &new.serial.as_str(),
                &sealed,
                &new.label,
                &new.issuer,
                &new.user_id,
                &new.challenge.map(Challenge::as_str),
                &new.otp.to_string(),
                &initial_hotp_counter(&new.otp),
                &new.request.map(|r| r.0),
                &new.request.map(|r| r.1),
                &new.created_at,
            ],
            || {
                Error::conflict(format!(
                    "{}: taken by a concurrent request (a serial or request id in use); retry",
                    new.serial
                ))
            },
        )
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
            "UPDATE activations SET state = 'bound', nonce = $2, instance_key = $3, \
             bound_at = $4, last_accepted = NULL, failed_attempts = 0, locked_until = NULL, \
             hotp_counter = CASE WHEN hotp_counter IS NULL THEN NULL ELSE 0 END \
             WHERE serial = $1",
            &[&serial.as_str(), &i64::from(nonce), &sealed, &at],
            "activation",
        )
    }

    fn activate(&mut self, serial: &Serial, at: i64) -> Result<()> {
        self.update(
            "UPDATE activations SET state = 'active', activated_at = $2, \
             activation_key = NULL WHERE serial = $1",
            &[&serial.as_str(), &at],
            "activation",
        )
    }

    fn accept_totp(&mut self, serial: &Serial, step: u64) -> Result<()> {
        self.update(
            "UPDATE activations SET last_accepted = $2, failed_attempts = 0, \
             locked_until = NULL WHERE serial = $1",
            &[&serial.as_str(), &to_sql_int(step)],
            "activation",
        )
    }

    fn accept_hotp(&mut self, serial: &Serial, counter: u64) -> Result<()> {
        // `GREATEST`: the counter never goes backwards, whatever a caller
        // computed.
        self.update(
            "UPDATE activations SET last_accepted = $2, \
             hotp_counter = GREATEST(hotp_counter, $3), \
             failed_attempts = 0, locked_until = NULL WHERE serial = $1",
            &[
                &serial.as_str(),
                &to_sql_int(counter),
                &to_sql_int(counter.saturating_add(1)),
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
        let failures = i32::try_from(failures).unwrap_or(i32::MAX);
        self.update(
            "UPDATE activations SET failed_attempts = $2, locked_until = $3 WHERE serial = $1",
            &[&serial.as_str(), &failures, &locked_until],
            "activation",
        )
    }

    fn revoke(&mut self, serial: &Serial, at: i64) -> Result<()> {
        self.update(
            "UPDATE activations SET state = 'revoked', revoked_at = $2, \
             activation_key = NULL, instance_key = NULL WHERE serial = $1",
            &[&serial.as_str(), &at],
            "activation",
        )
    }

    fn insert_sign_request(&mut self, serial: &Serial, new: NewRequest<'_>) -> Result<i64> {
        let rows = self.query(
            "INSERT INTO sign_requests (serial, kind, nonce, tx, expires_at, created_at, state) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING id",
            &[
                &serial.as_str(),
                &new.kind.as_str(),
                &new.nonce.as_slice(),
                &new.tx,
                &to_sql_int(new.expires_at),
                &new.created_at,
            ],
        )?;
        Ok(rows[0].get(0))
    }

    fn sign_requests(
        &mut self,
        serial: &Serial,
        kind: RequestKind,
        nonce: Option<&[u8; 16]>,
    ) -> Result<Vec<SignRecord>> {
        let rows = self.query(
            "SELECT id, nonce, tx, expires_at, created_at, state, attempts \
             FROM sign_requests WHERE serial = $1 AND kind = $2 \
             AND ($3::BYTEA IS NULL OR nonce = $3) ORDER BY created_at DESC, id DESC",
            &[
                &serial.as_str(),
                &kind.as_str(),
                &nonce.map(|n| n.as_slice()),
            ],
        )?;
        rows.iter()
            .map(|row| {
                super::sqlite::sign_record(
                    self.place,
                    row.get(0),
                    kind,
                    row.get(1),
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                    i64::from(row.get::<_, i32>(6)),
                )
            })
            .collect()
    }

    fn mark_signed(&mut self, id: i64, at: i64) -> Result<()> {
        self.update(
            "UPDATE sign_requests SET state = 'signed', signed_at = $2 \
             WHERE id = $1 AND state = 'pending'",
            &[&id, &at],
            "signing request",
        )
    }

    fn count_wrong_response(&mut self, id: i64, max_attempts: u32) -> Result<()> {
        let max = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        self.update(
            "UPDATE sign_requests SET attempts = attempts + 1, \
             state = CASE WHEN attempts + 1 >= $2 THEN 'refused' ELSE state END \
             WHERE id = $1 AND state = 'pending'",
            &[&id, &max],
            "signing request",
        )
    }

    fn audit(&mut self, event: &AuditEvent) -> Result<()> {
        self.exec(
            "INSERT INTO audit_log (at, actor, serial, action, outcome) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &event.at,
                &event.actor,
                &event.serial,
                &event.action,
                &event.outcome,
            ],
        )
        .map(drop)
    }

    fn audit_log(&mut self, serial: Option<&Serial>, limit: u32) -> Result<Vec<AuditEvent>> {
        let rows = self.query(
            "SELECT at, actor, serial, action, outcome FROM audit_log \
             WHERE $1::TEXT IS NULL OR serial = $1 ORDER BY id DESC LIMIT $2",
            &[&serial.map(Serial::as_str), &i64::from(limit)],
        )?;
        Ok(rows
            .iter()
            .map(|row| AuditEvent {
                at: row.get(0),
                actor: row.get(1),
                serial: row.get(2),
                action: row.get(3),
                outcome: row.get(4),
            })
            .collect())
    }

    fn add_client(&mut self, name: &str, token_hash: &[u8; 32], at: i64) -> Result<()> {
        self.insert_unique(
            "INSERT INTO api_clients (name, token_hash, created_at) VALUES ($1, $2, $3)",
            &[&name, &token_hash.as_slice(), &at],
            || {
                Error::conflict(format!(
                    "{name}: a client with this name exists (revoke it, or pick another name)"
                ))
            },
        )
    }

    fn client_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<String>> {
        let rows = self.query(
            "SELECT name FROM api_clients WHERE token_hash = $1 AND revoked_at IS NULL",
            &[&token_hash.as_slice()],
        )?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn clients(&mut self) -> Result<Vec<ApiClient>> {
        let rows = self.query(
            "SELECT name, created_at, revoked_at FROM api_clients ORDER BY name",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|row| ApiClient {
                name: row.get(0),
                created_at: row.get(1),
                revoked_at: row.get(2),
            })
            .collect())
    }

    fn revoke_client(&mut self, name: &str, at: i64) -> Result<bool> {
        Ok(self.exec(
            "UPDATE api_clients SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
            &[&name, &at],
        )? == 1)
    }

    fn data_keys(&mut self) -> Result<Vec<(u32, String, Vec<u8>)>> {
        let rows = self.query("SELECT id, kek_id, wrapped FROM data_keys ORDER BY id", &[])?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
                    row.get(1),
                    row.get(2),
                )
            })
            .collect())
    }

    fn put_data_key(&mut self, id: u32, kek_id: &str, wrapped: &[u8], at: i64) -> Result<()> {
        let id = i32::try_from(id).unwrap_or(i32::MAX);
        self.exec(
            "INSERT INTO data_keys (id, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET kek_id = excluded.kek_id, wrapped = excluded.wrapped",
            &[&id, &kek_id, &wrapped, &at],
        )
        .map(drop)
    }

    fn sealed_secrets(&mut self) -> Result<Vec<SealedRow>> {
        let rows = self.query(
            "SELECT serial, activation_key, instance_key FROM activations FOR UPDATE",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|row| SealedRow {
                serial: row.get(0),
                activation_key: row.get(1),
                instance_key: row.get(2),
            })
            .collect())
    }

    fn put_sealed_secrets(&mut self, row: &SealedRow) -> Result<()> {
        self.update(
            "UPDATE activations SET activation_key = $2, instance_key = $3 WHERE serial = $1",
            &[&row.serial, &row.activation_key, &row.instance_key],
            "activation",
        )
    }

    fn secrets_mode(&mut self) -> Result<Option<Mode>> {
        let rows = self.query("SELECT value FROM meta WHERE key = 'secrets'", &[])?;
        super::parse_mode(self.place, rows.first().map(|row| row.get(0)))
    }

    fn set_secrets_mode(&mut self, mode: Mode) -> Result<()> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ('secrets', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&mode.as_str()],
        )
        .map(drop)
    }
}
