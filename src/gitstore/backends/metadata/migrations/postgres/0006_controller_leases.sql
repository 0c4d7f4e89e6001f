-- Controller leases (issue 10, leader election): one row per (scope, name), e.g.
-- ('acme/catalog', 'readiness'). The holder renews before `expires_at`; once it has passed,
-- another replica may take the lease over (`transitions` counts changes of holder).
CREATE TABLE controller_leases (
    scope       TEXT NOT NULL,
    name        TEXT NOT NULL,
    holder      TEXT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    renewed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    transitions BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, name)
);
