-- Change requests (issue 11): a branch proposed for merging into another, with reviews and
-- comments, and the optional per-repository rule "N maintainer approvals to merge into the
-- default branch".
CREATE TABLE change_requests (
    id              TEXT PRIMARY KEY,
    repository_uuid TEXT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    number          INTEGER NOT NULL CHECK (number > 0),
    source_branch   TEXT NOT NULL,
    target_branch   TEXT NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    author_id       TEXT NOT NULL,
    author_username TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('OPEN', 'MERGED', 'CLOSED')),
    head_sha        TEXT NOT NULL,
    base_sha        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    merge_sha       TEXT NOT NULL DEFAULT '',
    merged_by       TEXT NOT NULL DEFAULT '',
    closed_at       INTEGER,
    UNIQUE (repository_uuid, number)
);
-- At most one open change request per (repository, source, target).
CREATE UNIQUE INDEX change_requests_open ON change_requests
    (repository_uuid, source_branch, target_branch) WHERE state = 'OPEN';

CREATE TABLE change_request_notes (
    id                TEXT PRIMARY KEY,
    change_request_id TEXT NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    author_id         TEXT NOT NULL,
    author_username   TEXT NOT NULL,
    verdict           TEXT NOT NULL CHECK (verdict IN ('APPROVE', 'REQUEST_CHANGES', 'COMMENT', '')),
    body              TEXT NOT NULL DEFAULT '',
    head_sha          TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL
);
CREATE INDEX change_request_notes_by_request ON change_request_notes (change_request_id, created_at);

CREATE TABLE change_request_rules (
    repository_uuid    TEXT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    required_approvals INTEGER NOT NULL CHECK (required_approvals >= 0)
);
