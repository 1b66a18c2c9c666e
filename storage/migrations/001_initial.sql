-- Times are integer seconds since the Unix epoch, UTC. Money is integer minor units.
-- Ids are text (uuid hex) so the same schema runs on SQLite and PostgreSQL.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    device_id TEXT,
    discord_id TEXT UNIQUE,
    restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)),
    restriction_reason TEXT,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX accounts_device ON accounts (device_id);

CREATE TABLE link_codes (
    code TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_by TEXT
);

-- One row per paid stint; never revived. No live row means the Free plan.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    plan TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'past_due', 'ended')),
    cycle_anchor BIGINT NOT NULL,
    cycle_index INTEGER NOT NULL DEFAULT 0,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    cancel_reason TEXT,
    cancel_comment TEXT CHECK (cancel_comment IS NULL OR length(cancel_comment) <= 1000),
    cancelled_at BIGINT,
    scheduled_plan TEXT,
    scheduled_kind TEXT CHECK (scheduled_kind IS NULL OR scheduled_kind IN ('upgrade', 'downgrade')),
    grace_until BIGINT,
    next_retry_at BIGINT,
    retry_count INTEGER NOT NULL DEFAULT 0,
    -- the earliest moment something falls due: the sweep's index
    next_due_at BIGINT,
    ended_at BIGINT,
    end_reason TEXT,
    created_at BIGINT NOT NULL,
    CHECK (period_start < period_end)
);
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (account_id) WHERE status <> 'ended';
CREATE INDEX subscriptions_due ON subscriptions (next_due_at) WHERE status <> 'ended';

-- Credit buckets: remaining = amount + sum of their entries, never below zero.
CREATE TABLE credit_buckets (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('free', 'subscription', 'topup')),
    amount BIGINT NOT NULL CHECK (amount >= 0),
    remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    expires_at BIGINT,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((kind = 'topup') = (expires_at IS NULL))
);
CREATE INDEX credit_buckets_account ON credit_buckets (account_id, kind);
CREATE UNIQUE INDEX credit_buckets_source ON credit_buckets (account_id, source);

-- Append-only ledger.
CREATE TABLE credit_entries (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    bucket_id TEXT NOT NULL REFERENCES credit_buckets (id),
    delta BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('grant', 'consume', 'expire', 'void', 'adjust')),
    ref TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX credit_entries_account ON credit_entries (account_id, created_at);
CREATE INDEX credit_entries_bucket ON credit_entries (bucket_id);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('subscription', 'renewal', 'upgrade', 'topup', 'refund')),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    subscription_id TEXT REFERENCES subscriptions (id),
    plan TEXT,
    bundle TEXT,
    bucket_id TEXT REFERENCES credit_buckets (id),
    refunds_invoice_id TEXT REFERENCES invoices (id),
    provider_charge_id TEXT NOT NULL,
    period_start BIGINT,
    period_end BIGINT,
    created_at BIGINT NOT NULL,
    CHECK ((kind = 'refund') = (amount < 0) OR amount = 0)
);
CREATE INDEX invoices_account ON invoices (account_id, created_at);
CREATE UNIQUE INDEX invoices_one_refund ON invoices (refunds_invoice_id) WHERE refunds_invoice_id IS NOT NULL;

CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('refund', 'help', 'review')),
    status TEXT NOT NULL CHECK (status IN ('draft', 'open', 'approved', 'denied', 'closed')),
    account_id TEXT REFERENCES accounts (id),
    discord_id TEXT,
    invoice_id TEXT REFERENCES invoices (id),
    reason TEXT,
    details TEXT,
    context TEXT,
    recommendation TEXT,
    grounds TEXT,
    decided_by TEXT,
    decision_reason TEXT,
    decided_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX cases_one_open_refund ON cases (invoice_id) WHERE kind = 'refund' AND status IN ('draft', 'open');
CREATE INDEX cases_status ON cases (status, created_at);

CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    account_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT,
    idempotency_key TEXT,
    details TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_account ON audit_log (account_id, created_at);

-- Per Discord user: language choice, recent language, reminder opt-in.
CREATE TABLE discord_users (
    discord_id TEXT PRIMARY KEY,
    language TEXT,
    recent_language TEXT,
    reminders INTEGER NOT NULL DEFAULT 0 CHECK (reminders IN (0, 1)),
    updated_at BIGINT NOT NULL
);

CREATE TABLE reminders_sent (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    period_end BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, period_end)
);

-- Conversation state: advanced by compare-and-swap on version.
CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    kind TEXT NOT NULL,
    step TEXT NOT NULL,
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX flows_owner ON flows (owner, updated_at);

-- Simulated time (CLOCK=simulated), shared by every process on the database.
CREATE TABLE sim_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    now BIGINT NOT NULL
);
