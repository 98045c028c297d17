-- Schema 3: the issuer service (tessera-issuer serve).
-- - activations: sealed keys (no fixed length), the revoked state, the
--   failed-attempt count and lock shared by every instance, the client and
--   request id that make a create idempotent. SQLite cannot change a
--   table's checks, so the table is rebuilt (foreign keys off meanwhile).
-- - meta (how keys are kept), data_keys (wrapped by the master key),
--   api_clients (bearer tokens, SHA-256 only), audit_log.
CREATE TABLE activations_v3 (
    serial          TEXT PRIMARY KEY NOT NULL CHECK (length(serial) = 10),
    -- AK (sealed, or 16 bytes in a plain file); NULL once active
    activation_key  BLOB,
    label           TEXT,
    issuer          TEXT,
    user_id         TEXT,
    challenge       TEXT,
    otp             TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('created', 'bound', 'active', 'revoked')),
    nonce           INTEGER CHECK (nonce IS NULL OR nonce BETWEEN 0 AND 4294967295),
    -- IK (sealed, or plain), from bind on; NULL once revoked
    instance_key    BLOB,
    hotp_counter    INTEGER CHECK (hotp_counter IS NULL OR hotp_counter >= 0),
    last_accepted   INTEGER CHECK (last_accepted IS NULL OR last_accepted >= 0),
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    INTEGER,
    client          TEXT,
    request_id      TEXT,
    created_at      INTEGER NOT NULL,
    bound_at        INTEGER,
    activated_at    INTEGER,
    revoked_at      INTEGER,
    CHECK (state = 'revoked' OR (state = 'created') = (instance_key IS NULL)),
    CHECK ((state = 'created') = (nonce IS NULL) OR state = 'revoked'),
    CHECK (state IN ('active', 'revoked') OR activation_key IS NOT NULL),
    UNIQUE (client, request_id)
) STRICT;
INSERT INTO activations_v3 (serial, activation_key, label, issuer, user_id, challenge, otp,
    state, nonce, instance_key, hotp_counter, last_accepted, created_at, bound_at, activated_at)
SELECT serial, activation_key, label, issuer, user_id, challenge, otp, state, nonce,
    instance_key, hotp_counter, last_accepted, created_at, bound_at, activated_at
FROM activations;
DROP TABLE activations;
ALTER TABLE activations_v3 RENAME TO activations;
CREATE INDEX activations_by_creation ON activations (created_at, serial);

CREATE TABLE meta (
    key     TEXT PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL
) STRICT;

CREATE TABLE data_keys (
    id          INTEGER PRIMARY KEY,
    -- the id of the master key that wraps it (a hash; never the key)
    kek_id      TEXT NOT NULL,
    wrapped     BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_clients (
    name        TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the bearer token; the token itself is never stored
    token_hash  BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    serial  TEXT,
    action  TEXT NOT NULL,
    outcome TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_by_serial ON audit_log (serial, id);
