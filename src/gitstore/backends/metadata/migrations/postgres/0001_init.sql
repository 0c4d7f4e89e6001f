-- Initial metadata schema (PostgreSQL). Runs in the schema first on the search_path.
-- Ids are UUID strings kept as TEXT (a malformed id simply matches nothing).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);
CREATE INDEX users_by_creation ON users (created_at, id);

CREATE TABLE access_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    scopes       TEXT NOT NULL,          -- comma-separated, sorted: "read,write"
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT access_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT access_tokens_user_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, created_at, id);

CREATE TABLE namespaces (
    id                   TEXT PRIMARY KEY,
    identifier           TEXT NOT NULL,
    display_name         TEXT NOT NULL,
    tier                 TEXT NOT NULL CHECK (tier IN ('USER', 'ORGANISATION', 'ENTERPRISE')),
    parent_enterprise_id TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    created_by           TEXT NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    updated_by           TEXT NOT NULL,
    CONSTRAINT namespaces_identifier_key UNIQUE (identifier),   -- global across tiers
    CONSTRAINT namespaces_parent_fkey FOREIGN KEY (parent_enterprise_id)
        REFERENCES namespaces (id) ON DELETE RESTRICT,
    CHECK (parent_enterprise_id IS NULL OR tier = 'ORGANISATION')
);
CREATE INDEX namespaces_by_creation ON namespaces (created_at, id);
CREATE INDEX namespaces_by_parent ON namespaces (parent_enterprise_id);

CREATE TABLE memberships (
    namespace_id TEXT NOT NULL,
    username     TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'maintainer', 'writer', 'reader')),
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (namespace_id, username),
    CONSTRAINT memberships_namespace_fkey FOREIGN KEY (namespace_id)
        REFERENCES namespaces (id) ON DELETE CASCADE,
    CONSTRAINT memberships_user_fkey FOREIGN KEY (username)
        REFERENCES users (username) ON DELETE CASCADE
);
CREATE INDEX memberships_by_user ON memberships (username);

CREATE TABLE repositories (
    id               TEXT PRIMARY KEY,
    namespace_id     TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    publish_mode     TEXT NOT NULL CHECK (publish_mode IN ('ON_COMMIT', 'ON_RELEASE_TAG')),
    default_branch   TEXT NOT NULL,
    visibility       TEXT NOT NULL CHECK (visibility IN ('PRIVATE', 'PUBLIC')),
    release_patterns JSONB NOT NULL,     -- array of globs
    created_at       TIMESTAMPTZ NOT NULL,
    created_by       TEXT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    updated_by       TEXT NOT NULL,
    CONSTRAINT repositories_namespace_name_key UNIQUE (namespace_id, name),
    CONSTRAINT repositories_namespace_fkey FOREIGN KEY (namespace_id)
        REFERENCES namespaces (id) ON DELETE RESTRICT
);
CREATE INDEX repositories_by_creation ON repositories (namespace_id, created_at, id);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response     JSONB,                  -- NULL while the claimant works
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE audit_log (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- append order
    id      TEXT NOT NULL UNIQUE,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
CREATE INDEX audit_log_by_target ON audit_log (target text_pattern_ops, seq);
