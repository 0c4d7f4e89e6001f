-- Initial metadata schema (SQLite). Timestamps are INTEGER microseconds since the epoch (UTC);
-- ids are UUID strings; JSON values are TEXT. Foreign keys need PRAGMA foreign_keys=ON.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_by_creation ON users (created_at, id);

CREATE TABLE access_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,          -- comma-separated, sorted: "read,write"
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, created_at, id);

CREATE TABLE namespaces (
    id                   TEXT PRIMARY KEY,
    identifier           TEXT NOT NULL UNIQUE,   -- global across tiers
    display_name         TEXT NOT NULL,
    tier                 TEXT NOT NULL CHECK (tier IN ('USER', 'ORGANISATION', 'ENTERPRISE')),
    parent_enterprise_id TEXT REFERENCES namespaces (id) ON DELETE RESTRICT,
    created_at           INTEGER NOT NULL,
    created_by           TEXT NOT NULL,
    updated_at           INTEGER NOT NULL,
    updated_by           TEXT NOT NULL,
    CHECK (parent_enterprise_id IS NULL OR tier = 'ORGANISATION')
);
CREATE INDEX namespaces_by_creation ON namespaces (created_at, id);
CREATE INDEX namespaces_by_parent ON namespaces (parent_enterprise_id);

CREATE TABLE memberships (
    namespace_id TEXT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'maintainer', 'writer', 'reader')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (namespace_id, username)
);
CREATE INDEX memberships_by_user ON memberships (username);

CREATE TABLE repositories (
    id               TEXT PRIMARY KEY,
    namespace_id     TEXT NOT NULL REFERENCES namespaces (id) ON DELETE RESTRICT,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    publish_mode     TEXT NOT NULL CHECK (publish_mode IN ('ON_COMMIT', 'ON_RELEASE_TAG')),
    default_branch   TEXT NOT NULL,
    visibility       TEXT NOT NULL CHECK (visibility IN ('PRIVATE', 'PUBLIC')),
    release_patterns TEXT NOT NULL,      -- JSON array of globs
    created_at       INTEGER NOT NULL,
    created_by       TEXT NOT NULL,
    updated_at       INTEGER NOT NULL,
    updated_by       TEXT NOT NULL,
    UNIQUE (namespace_id, name)
);
CREATE INDEX repositories_by_creation ON repositories (namespace_id, created_at, id);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response     TEXT,                   -- JSON object; NULL while the claimant works
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,   -- append order; lists are newest first
    id      TEXT NOT NULL UNIQUE,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
CREATE INDEX audit_log_by_target ON audit_log (target, seq);
