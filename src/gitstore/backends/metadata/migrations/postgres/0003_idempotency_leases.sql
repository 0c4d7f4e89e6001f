-- Idempotency keys with leases (issue "nothing gets stuck"): who holds a claim (`owner`, a
-- token of the claiming request), since when, and until when (`lease_until`, extended by
-- the owner while it works). A claim whose lease ran out belongs to a process presumed
-- dead and may be taken over. Claims made before leases existed get an expired lease.

ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN claimed_at TIMESTAMPTZ;
ALTER TABLE idempotency_keys ADD COLUMN lease_until TIMESTAMPTZ;
UPDATE idempotency_keys SET claimed_at = created_at, lease_until = created_at;
ALTER TABLE idempotency_keys ALTER COLUMN claimed_at SET NOT NULL;
ALTER TABLE idempotency_keys ALTER COLUMN lease_until SET NOT NULL;
