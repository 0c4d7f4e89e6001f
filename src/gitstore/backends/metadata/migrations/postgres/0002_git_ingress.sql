-- Git-native ingress (issue 5): SSH keys, releases, publications, webhooks and deliveries,
-- plus the signed-commits switch on repositories. Everything of a repository (of a user: its
-- keys) goes with it: ON DELETE CASCADE.

ALTER TABLE repositories ADD COLUMN require_signed_commits BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE ssh_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    public_key   TEXT NOT NULL,          -- "<type> <base64>", no comment
    fingerprint  TEXT NOT NULL,          -- "SHA256:...", unique across all users
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT ssh_keys_fingerprint_key UNIQUE (fingerprint),
    CONSTRAINT ssh_keys_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX ssh_keys_by_user ON ssh_keys (user_id, created_at, id);

CREATE TABLE releases (
    id              TEXT PRIMARY KEY,
    repository_uuid TEXT NOT NULL,
    tag             TEXT NOT NULL,
    commit_sha      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('http', 'ssh', 'api')),
    message         TEXT NOT NULL DEFAULT '',
    CONSTRAINT releases_repository_tag_key UNIQUE (repository_uuid, tag),
    CONSTRAINT releases_repository_fkey FOREIGN KEY (repository_uuid)
        REFERENCES repositories (id) ON DELETE CASCADE
);
CREATE INDEX releases_by_creation ON releases (repository_uuid, created_at, id);

CREATE TABLE publications (
    repository_uuid TEXT NOT NULL,
    sequence        BIGINT NOT NULL CHECK (sequence >= 1),   -- 1, 2, 3, ... per repository
    tag             TEXT NOT NULL,
    commit_sha      TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('PUBLISH', 'REPLAY')),
    state           TEXT NOT NULL
                    CHECK (state IN ('PENDING', 'PUBLISHED', 'SUPERSEDED', 'FAILED')),
    requested_at    TIMESTAMPTZ NOT NULL,
    requested_by    TEXT NOT NULL,
    correlation_id  TEXT NOT NULL DEFAULT '',
    completed_at    TIMESTAMPTZ,
    changed         JSONB NOT NULL DEFAULT '[]',   -- array of resource ids
    error           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repository_uuid, sequence),
    CONSTRAINT publications_repository_fkey FOREIGN KEY (repository_uuid)
        REFERENCES repositories (id) ON DELETE CASCADE
);
CREATE INDEX publications_by_tag ON publications (repository_uuid, tag, sequence);
CREATE INDEX publications_by_state ON publications (repository_uuid, state, sequence);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    repository_uuid TEXT NOT NULL,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    description     TEXT NOT NULL DEFAULT '',
    CONSTRAINT webhooks_repository_url_key UNIQUE (repository_uuid, url),
    CONSTRAINT webhooks_repository_fkey FOREIGN KEY (repository_uuid)
        REFERENCES repositories (id) ON DELETE CASCADE
);
CREATE INDEX webhooks_by_creation ON webhooks (repository_uuid, created_at, id);

CREATE TABLE webhook_deliveries (
    id                   TEXT PRIMARY KEY,
    webhook_id           TEXT NOT NULL,
    repository_uuid      TEXT NOT NULL,
    publication_sequence BIGINT NOT NULL CHECK (publication_sequence >= 1),
    payload              JSONB NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL,
    next_attempt_at      TIMESTAMPTZ,              -- NULL once SUCCEEDED or FAILED
    last_status_code     INTEGER,
    last_error           TEXT NOT NULL DEFAULT '',
    completed_at         TIMESTAMPTZ,
    history              JSONB NOT NULL DEFAULT '[]',   -- one object per attempt
    CONSTRAINT webhook_deliveries_webhook_publication_key UNIQUE (webhook_id, publication_sequence),
    CONSTRAINT webhook_deliveries_webhook_fkey FOREIGN KEY (webhook_id)
        REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_repository_fkey FOREIGN KEY (repository_uuid)
        REFERENCES repositories (id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_by_creation ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'PENDING';
CREATE INDEX webhook_deliveries_by_repository ON webhook_deliveries (repository_uuid);
