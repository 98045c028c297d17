-- Schema 4: OCRA challenges are kept beside signing requests (one table of
-- requests a device answers once). A challenge's `tx` holds its question's
-- ASCII; its "signed" state means answered.
ALTER TABLE sign_requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'transaction'
    CHECK (kind IN ('transaction', 'challenge'));
