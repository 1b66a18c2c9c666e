-- The device limit's count, one row per device: a sign-up bumps it with an upsert in its own
-- transaction, which locks the row (PostgreSQL) until commit, so two sign-ups from one device
-- at once see 1 then 2, never the same number (a COUNT over accounts would let both through).
-- accounts_created counts every account the device created, restricted ones included.
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    accounts_created BIGINT NOT NULL CHECK (accounts_created >= 1)
);

-- Databases that already have accounts start from what their devices created so far.
INSERT INTO devices (device_id, accounts_created)
SELECT device_id, COUNT(*) FROM accounts WHERE device_id IS NOT NULL GROUP BY device_id;
