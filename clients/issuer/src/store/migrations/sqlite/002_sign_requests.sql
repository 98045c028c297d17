-- Schema 2: transaction signing requests (sign-request, verify-signature).
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
