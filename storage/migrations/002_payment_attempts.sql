-- Two-phase payments (core/attempts.py): an attempt is committed BEFORE the provider is
-- called, and completed in the same transaction as the state change it pays for. One
-- left pending (the process died, the provider timed out) is settled by
-- SubscriptionCore.recover_payments(): completed by the state change, or refunded, or failed.
-- started_at is wall-clock time (not the simulated clock): it tells a stuck attempt from a live one.
CREATE TABLE payment_attempts (
    key TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'refunding', 'refunded')),
    charge_ids TEXT,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payment_attempts_status ON payment_attempts (status, started_at);
