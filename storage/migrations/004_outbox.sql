-- The outbox: every message the bot owes someone (a receipt DM, a renewal reminder) is a row
-- written in the same transaction as the change that causes it, and delivered afterwards by
-- the bot's delivery loop (bot/delivery.py), which claims rows, retries them and marks them.
-- Times here are wall-clock seconds (not the simulated clock): they pace retries.
-- key: what the message is for ("receipt:<flow id>", "reminder:<subscription>:<period end>"),
--   so a replayed change never owes it twice.
-- nonce: sent with the message (Discord's enforce_nonce), so a retry after a crash between
--   Discord's answer and marking the row sent shows the first copy, not a second one.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    payload TEXT NOT NULL,
    nonce TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'undeliverable', 'expired')),
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    done_at BIGINT,
    last_error TEXT,
    -- For a DM that could not reach the user (closed DMs): when the user was shown it instead,
    -- privately, the next time they used a command.
    told_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, due_at);
