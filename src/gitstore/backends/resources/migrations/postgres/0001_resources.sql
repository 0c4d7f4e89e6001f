CREATE TABLE resource_repos (
    repository_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    floor BIGINT NOT NULL,
    commit_sha TEXT NOT NULL
);
CREATE TABLE resources (
    repository_id TEXT NOT NULL,
    kind_key TEXT NOT NULL,
    name TEXT NOT NULL,
    resource_version BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (repository_id, kind_key, name)
);
CREATE TABLE resource_changes (
    repository_id TEXT NOT NULL,
    resource_version BIGINT NOT NULL,
    type TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    object TEXT NOT NULL,
    PRIMARY KEY (repository_id, resource_version)
);
