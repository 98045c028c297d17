-- Schema 1 of the PostgreSQL store: what SQLite's schemas 1 to 3 hold.
CREATE TABLE activations (
    serial          TEXT PRIMARY KEY CHECK (length(serial) = 10),
    -- AK, sealed; NULL once active
    activation_key  BYTEA,
    label           TEXT,
    issuer          TEXT,
    user_id         TEXT,
    challenge       TEXT,
    otp             TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('created', 'bound', 'active', 'revoked')),
    nonce           BIGINT CHECK (nonce IS NULL OR nonce BETWEEN 0 AND 4294967295),
    -- IK, sealed, from bind on; NULL once revoked
    instance_key    BYTEA,
    hotp_counter    BIGINT CHECK (hotp_counter IS NULL OR hotp_counter >= 0),
    last_accepted   BIGINT CHECK (last_accepted IS NULL OR last_accepted >= 0),
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    BIGINT,
    client          TEXT,
    request_id      TEXT,
    created_at      BIGINT NOT NULL,
    bound_at        BIGINT,
    activated_at    BIGINT,
    revoked_at      BIGINT,
    CHECK (state = 'revoked' OR (state = 'created') = (instance_key IS NULL)),
    CHECK ((state = 'created') = (nonce IS NULL) OR state = 'revoked'),
    CHECK (state IN ('active', 'revoked') OR activation_key IS NOT NULL),
    UNIQUE (client, request_id)
);
CREATE INDEX activations_by_creation ON activations (created_at, serial);

CREATE TABLE sign_requests (
    id          BIGSERIAL PRIMARY KEY,
    serial      TEXT NOT NULL REFERENCES activations (serial),
    nonce       BYTEA NOT NULL UNIQUE CHECK (length(nonce) = 16),
    tx          BYTEA NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'signed', 'refused')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    signed_at   BIGINT
);
CREATE INDEX sign_requests_by_serial ON sign_requests (serial, created_at);

CREATE TABLE meta (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);

CREATE TABLE data_keys (
    id          INTEGER PRIMARY KEY,
    kek_id      TEXT NOT NULL,
    wrapped     BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_clients (
    name        TEXT PRIMARY KEY,
    token_hash  BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    serial  TEXT,
    action  TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX audit_log_by_serial ON audit_log (serial, id);
