-- Schema 2: OCRA challenges are kept beside signing requests (SQLite's
-- schema 4). A challenge's `tx` holds its question's ASCII; its "signed"
-- state means answered.
ALTER TABLE sign_requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'transaction'
    CHECK (kind IN ('transaction', 'challenge'));
