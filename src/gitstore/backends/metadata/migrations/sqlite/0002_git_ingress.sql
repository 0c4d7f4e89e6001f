-- Git-native ingress (issue 5): SSH keys, releases, publications, webhooks and deliveries,
-- plus the signed-commits switch on repositories. Timestamps are INTEGER microseconds since
-- the epoch (UTC); JSON values are TEXT. Everything of a repository (of a user: its keys)
-- goes with it: ON DELETE CASCADE.

ALTER TABLE repositories ADD COLUMN require_signed_commits INTEGER NOT NULL DEFAULT 0
    CHECK (require_signed_commits IN (0, 1));

CREATE TABLE ssh_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    public_key   TEXT NOT NULL,          -- "<type> <base64>", no comment
    fingerprint  TEXT NOT NULL UNIQUE,   -- "SHA256:...", unique across all users
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX ssh_keys_by_user ON ssh_keys (user_id, created_at, id);

CREATE TABLE releases (
    id              TEXT PRIMARY KEY,
    repository_uuid TEXT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    tag             TEXT NOT NULL,
    commit_sha      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('http', 'ssh', 'api')),
    message         TEXT NOT NULL DEFAULT '',
    UNIQUE (repository_uuid, tag)
);
CREATE INDEX releases_by_creation ON releases (repository_uuid, created_at, id);

CREATE TABLE publications (
    repository_uuid TEXT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    sequence        INTEGER NOT NULL CHECK (sequence >= 1),   -- 1, 2, 3, ... per repository
    tag             TEXT NOT NULL,
    commit_sha      TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('PUBLISH', 'REPLAY')),
    state           TEXT NOT NULL
                    CHECK (state IN ('PENDING', 'PUBLISHED', 'SUPERSEDED', 'FAILED')),
    requested_at    INTEGER NOT NULL,
    requested_by    TEXT NOT NULL,
    correlation_id  TEXT NOT NULL DEFAULT '',
    completed_at    INTEGER,
    changed         TEXT NOT NULL DEFAULT '[]',   -- JSON array of resource ids
    error           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repository_uuid, sequence)
);
CREATE INDEX publications_by_tag ON publications (repository_uuid, tag, sequence);
CREATE INDEX publications_by_state ON publications (repository_uuid, state, sequence);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    repository_uuid TEXT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    description     TEXT NOT NULL DEFAULT '',
    UNIQUE (repository_uuid, url)
);
CREATE INDEX webhooks_by_creation ON webhooks (repository_uuid, created_at, id);

CREATE TABLE webhook_deliveries (
    id                   TEXT PRIMARY KEY,
    webhook_id           TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    repository_uuid      TEXT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    publication_sequence INTEGER NOT NULL CHECK (publication_sequence >= 1),
    payload              TEXT NOT NULL,            -- JSON object
    state                TEXT NOT NULL CHECK (state IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    next_attempt_at      INTEGER,                  -- NULL once SUCCEEDED or FAILED
    last_status_code     INTEGER,
    last_error           TEXT NOT NULL DEFAULT '',
    completed_at         INTEGER,
    history              TEXT NOT NULL DEFAULT '[]',   -- JSON array, one object per attempt
    UNIQUE (webhook_id, publication_sequence)
);
CREATE INDEX webhook_deliveries_by_creation ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'PENDING';
CREATE INDEX webhook_deliveries_by_repository ON webhook_deliveries (repository_uuid);
