-- Records the weekly report (core/report.py) reads besides the core's own ones.

-- The cancel flow's one save offer (a cheaper plan): a row when it is shown, taken_at when the
-- user confirms the switch. Keyed by the flow, so a step run again records nothing twice. Kept
-- out of audit_log on purpose: showing an offer changes nothing on the account.
CREATE TABLE save_offers (
    flow_id TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts (id),
    plan TEXT NOT NULL,
    shown_at BIGINT NOT NULL,
    taken_at BIGINT
);
CREATE INDEX save_offers_shown ON save_offers (shown_at);
CREATE INDEX save_offers_taken ON save_offers (taken_at);

-- What the bot decided about each chat message addressed to it; never the message's text nor
-- who wrote it. intent: the likeliest question when it answered or asked which one, else 'none'.
-- language: the reply language. decision: answered, asked ("Did you mean…?"), menu (spoken to
-- but not placed: the menu, or a word back to a greeting), quiet (not placed, no reply).
CREATE TABLE question_log (
    id TEXT PRIMARY KEY,
    intent TEXT NOT NULL,
    language TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('answered', 'asked', 'menu', 'quiet')),
    created_at BIGINT NOT NULL
);
CREATE INDEX question_log_created ON question_log (created_at);

-- The report counts cancellations and resumes by action and time.
CREATE INDEX audit_log_action ON audit_log (action, created_at);
