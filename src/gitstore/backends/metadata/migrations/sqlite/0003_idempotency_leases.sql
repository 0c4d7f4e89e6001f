-- Idempotency keys with leases (issue "nothing gets stuck"): who holds a claim (`owner`, a
-- token of the claiming request), since when, and until when (`lease_until`, extended by
-- the owner while it works). A claim whose lease ran out belongs to a process presumed
-- dead and may be taken over. Claims made before leases existed get an expired lease.

ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN claimed_at INTEGER NOT NULL DEFAULT 0;   -- µs since epoch
ALTER TABLE idempotency_keys ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;  -- µs since epoch
UPDATE idempotency_keys SET claimed_at = created_at, lease_until = created_at;
