-- Schema 1: the activations.
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
