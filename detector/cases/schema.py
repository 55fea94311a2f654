"""Tables of the case store (``state/cases.sqlite``). Timestamps are ISO-8601 UTC strings
(``YYYY-MM-DDTHH:MM:SS.ffffffZ``), dates ``YYYY-MM-DD``; both sort correctly as text.

Grain: ``cases`` one row per account that an analyst touched; ``decisions`` one row per
analyst decision (never updated); ``labels`` one row per explicit training label;
``allowlist`` one row per entry (revoking sets ``revoked_at``); ``audit_log`` one row per
change of any of them (append-only, enforced by triggers); ``api_keys`` one row per key
(only the sha256 of the secret is stored); ``sessions`` one row per page login (only the
sha256 of the cookie's token is stored; ended by logout, expiry or revoking the key);
``claims`` one row per account an analyst is working on (who, since when, until when; a new
claim or a take-over replaces the row, every change is in the audit log).

``SCHEMA_VERSION`` is kept in SQLite's ``PRAGMA user_version``; ``detector.cases.migrate``
brings an older database up to it when the store opens it (0: made before versioning).
"""

from __future__ import annotations

#: 1: page sessions; 2: case claims (``CLAIMS_DDL``)
SCHEMA_VERSION = 2

DECISIONS = ("confirm-block", "clear", "escalate", "needs-more-data")
ROLES = ("viewer", "analyst", "admin", "hook")

#: case status after each decision
STATUS_AFTER = {
    "confirm-block": "blocked",
    "clear": "cleared",
    "escalate": "escalated",
    "needs-more-data": "needs-more-data",
}

DDL = """
CREATE TABLE IF NOT EXISTS cases (
    account_id   TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    last_decision_id INTEGER,
    opened_at    TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    date        TEXT,
    decision    TEXT NOT NULL,
    analyst     TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_account ON decisions (account_id, id);
CREATE TABLE IF NOT EXISTS labels (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT NOT NULL,
    date         TEXT,
    is_distiller INTEGER NOT NULL,
    source       TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_account ON labels (account_id);
CREATE TABLE IF NOT EXISTS allowlist (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT,
    org_id      TEXT,
    until       TEXT,
    reason      TEXT NOT NULL,
    analyst     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_by  TEXT,
    CHECK ((account_id IS NULL) <> (org_id IS NULL))
);
CREATE TABLE IF NOT EXISTS audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX IF NOT EXISTS audit_entity ON audit_log (entity, entity_id);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_sha256  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
"""

#: page sessions (added after the first release: :class:`CaseStore` creates the table in an
#: existing database that lacks it, see ``SESSIONS_DDL``)
SESSIONS_DDL = """
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL UNIQUE,
    key_id       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_why  TEXT
);
CREATE INDEX IF NOT EXISTS sessions_key ON sessions (key_id);
"""

#: case claims (schema version 2): at most one live claim per account; a claim is live until
#: ``expires_at`` (``claim_ttl_s`` after it was made) or until it is released
CLAIMS_DDL = """
CREATE TABLE IF NOT EXISTS claims (
    account_id  TEXT PRIMARY KEY,
    date        TEXT,
    analyst     TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_expiry ON claims (expires_at);
"""
