"""What the bot keeps about one Discord user, and forgetting it when they (or a moderator) ask.

Forgetting is one transaction with one audit record, so a crash leaves all of it or none;
an idempotency key makes a double click or a redelivered interaction forget once (the
second gets the first result). Table by table:

    discord_users     the user's row deleted (language choice, recent language, reminder opt-in)
    flows             their conversations deleted (their data holds what they typed)
    outbox            messages addressed to them deleted
    accounts          the link removed (discord_id); the account, its email and device stay:
                      the business keeps its customer's invoices
    link_codes        used_by cleared; the code stays used
    subscriptions     the linked account's cancellation comments blanked
    cases             their requests keep kind, status, charge, reason and decision; the Discord
                      id, the details they wrote and the conversation copied into the
                      context are removed (the context keeps topic, flow kind and step)
    audit_log         kept; ``discord:ID`` becomes ``discord:forgotten``, the id is rewritten in
                      details, and the free texts they wrote become null
    idempotency_keys  kept; results rewritten; the hash of a request that named them replaced
    invoices, credit_buckets, credit_entries, payment_attempts, reminders_sent, devices,
    save_offers, question_log, sim_clock
                      kept (they hold no Discord id; the scan below would rewrite one)

Then every text column of every table is searched for the id (core/privacy_scan.py): in
the tables above it is rewritten (a mod-log line naming them says ``@forgotten``); in a
table this module does not know, rows holding the id are deleted (a new table must be
listed here to be kept). The forgetting's own audit record names the actor (a moderator,
or ``discord:forgotten``) and the reason, counts the rows changed per table, and holds
neither the id nor anything derived from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core import idempotency
from core import privacy_scan as scan
from core.audit import write_audit
from core.clock import Clock
from core.errors import CoreError
from storage.db import Database, Tx

OPERATION = "forget_discord_user"
# Tables kept, the id rewritten wherever the scan finds it; any other table loses the rows.
KEPT = frozenset({
    "accounts", "link_codes", "subscriptions", "credit_buckets", "credit_entries", "invoices",
    "cases", "idempotency_keys", "audit_log", "reminders_sent", "payment_attempts", "devices",
    "outbox", "discord_users", "flows", "sim_clock", "schema_migrations",
    "save_offers", "question_log",  # the weekly report's counts: no Discord id, no text
})
# Keys under which a change's request or a flow's data holds text the user typed.
FREE_TEXT_KEYS = frozenset({"comment", "details", "text", "note", "message", "question"})
CONTEXT_KEPT = ("topic", "kind", "step")
MAX_REASON = 500


@dataclass(frozen=True)
class KeptData:
    """What the bot keeps about one Discord user (``what_we_keep``)."""

    email: str | None  # the linked account's address, masked (a***@example.com)
    language: str | None  # the language they chose (/language)
    recent_language: str | None  # the language they last wrote in
    reminders: bool  # renewal reminders by DM
    conversations: int  # stored conversations (flows), finished ones until they are purged
    requests: int  # refund and help requests (cases)
    open_requests: int
    messages: int  # messages owed or sent to them (the outbox)
    texts: int  # free texts they wrote: cancellation comments, refund details, help notes

    @property
    def anything(self) -> bool:
        return bool(self.email or self.language or self.recent_language or self.reminders
                    or self.conversations or self.requests or self.messages or self.texts)


@dataclass(frozen=True)
class Forgotten:
    """``rows``: rows deleted or rewritten, per table in ``tables``; 0 when nothing was kept.
    ``replayed``: this key forgot before, and this is that result (nothing written now)."""

    rows: int
    tables: tuple[tuple[str, int], ...] = ()
    replayed: bool = False

    def to_json(self) -> str:
        return json.dumps({"rows": self.rows, "tables": dict(self.tables)}, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str, replayed: bool) -> Forgotten:
        data = json.loads(raw)
        return cls(data["rows"], tuple(sorted(data["tables"].items())), replayed)


def mask_email(email: str | None) -> str | None:
    """``alice@example.com`` → ``a***@example.com``: enough to recognise, not to read."""
    if not email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _user(discord_id: str) -> str:
    value = str(discord_id or "").strip()
    if not value.isdigit() or len(value) > 25:
        raise CoreError("invalid", "a Discord user id is a number")
    return value


async def what_we_keep(db: Database, discord_id: str) -> KeptData:
    user = _user(discord_id)
    async with db.read() as tx:
        account = await tx.fetchone("SELECT id, email FROM accounts WHERE discord_id = ?", user)
        prefs = await tx.fetchone(
            "SELECT language, recent_language, reminders FROM discord_users WHERE discord_id = ?", user)
        flows = await tx.fetchone("SELECT COUNT(*) AS n FROM flows WHERE owner = ?", user)
        cases = await _cases(tx, user, account["id"] if account else None)
        owed = await tx.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", user)
        comments = await _comments(tx, account["id"] if account else None)
    texts = len(comments) + sum(1 for c in cases if _case_texts(c))
    return KeptData(
        email=mask_email(account["email"]) if account else None,
        language=prefs["language"] if prefs else None,
        recent_language=prefs["recent_language"] if prefs else None,
        reminders=bool(prefs and prefs["reminders"]),
        conversations=flows["n"], requests=len(cases),
        open_requests=sum(1 for c in cases if c["status"] in ("open", "draft")),
        messages=owed["n"], texts=texts,
    )


async def forget(db: Database, clock: Clock, discord_id: str, *, actor: str, reason: str | None,
                 key: str) -> Forgotten:
    """Forget ``discord_id`` (see the module's table); the result of the first use of ``key``."""
    user = _user(discord_id)
    idempotency.check_key(key)
    if scan.mentions(user).search(key):
        raise CoreError("invalid", "the idempotency key must not contain the Discord id")
    reason = (reason or "").strip() or None
    if reason and len(reason) > MAX_REASON:
        raise CoreError("invalid", f"the reason is longer than {MAX_REASON} characters", limit=MAX_REASON)
    # What is recorded: the actor and the reason, the id taken out of both. The same key
    # with another actor or reason is another request (``idempotency_mismatch``).
    actor = scan.scrub_text(actor or "user", user)
    reason = scan.scrub_text(reason, user) if reason else None
    hashed = idempotency.request_hash(OPERATION, {"actor": actor, "reason": reason})

    async def replay(tx: Tx) -> Forgotten | None:
        stored = idempotency.replay(await idempotency.prior(tx, key), hashed, key)
        return Forgotten.from_json(stored, replayed=True) if stored is not None else None

    async def attempt(tx: Tx) -> Forgotten:
        if done := await replay(tx):
            return done
        account = await tx.fetchone("SELECT id FROM accounts WHERE discord_id = ?", user)
        account_id = account["id"] if account else None
        if account_id:
            await tx.lock_account(account_id)  # no change of the account runs half before, half after
        counts = await _forget_in(tx, db.dialect, user, account_id)
        rows = sum(counts.values())
        if rows == 0:
            # PostgreSQL: the same request, made at the same moment, may have waited on our
            # locks for its twin to commit (each statement sees the latest commit): its answer.
            return await replay(tx) or Forgotten(0)
        done = Forgotten(rows, tuple(sorted((t, n) for t, n in counts.items() if n)))
        now = clock.now()
        await idempotency.remember(tx, key, OPERATION, hashed, done.to_json(), now)
        await write_audit(tx, account_id, actor, OPERATION, now, reason, key, rows=rows, tables=dict(done.tables))
        return done

    return await db.run_in_transaction(attempt)


# ----- inside the transaction ------------------------------------------------------------


async def _forget_in(tx: Tx, dialect: str, user: str, account_id: str | None) -> dict[str, int]:
    counts: dict[str, int] = {}

    def add(table: str, n: int) -> None:
        counts[table] = counts.get(table, 0) + max(n, 0)

    cases = await _cases(tx, user, account_id)
    texts = await _texts(tx, user, account_id, cases)
    add("discord_users", await tx.execute("DELETE FROM discord_users WHERE discord_id = ?", user))
    add("flows", await tx.execute("DELETE FROM flows WHERE owner = ?", user))
    add("outbox", await tx.execute("DELETE FROM outbox WHERE recipient = ?", user))
    add("link_codes", await tx.execute("UPDATE link_codes SET used_by = NULL WHERE used_by = ?", user))
    if account_id:
        add("accounts", await tx.execute(
            "UPDATE accounts SET discord_id = NULL, version = version + 1 WHERE id = ?", account_id))
        add("subscriptions", await tx.execute(
            "UPDATE subscriptions SET cancel_comment = NULL WHERE account_id = ? AND cancel_comment IS NOT NULL",
            account_id))
    for case in cases:
        context = {k: v for k, v in _decoded(case["context"]).items() if k in CONTEXT_KEPT}
        add("cases", await tx.execute(
            "UPDATE cases SET discord_id = CASE WHEN discord_id = ? THEN NULL ELSE discord_id END, "
            "details = NULL, context = ? WHERE id = ?", user, json.dumps(context, sort_keys=True), case["id"]))
    await _redact_audit(tx, user, account_id, texts, add)
    for table, columns in (await scan.text_columns(tx, dialect)).items():
        if table in KEPT:
            add(table, await scan.rewrite(tx, table, columns, user, texts))
        else:
            add(table, await scan.delete_holding(tx, table, columns, user))
    return counts


async def _redact_audit(tx: Tx, user: str, account_id: str | None, texts: frozenset[str], add) -> None:
    """The audit records of the user's changes: free texts out, the id rewritten; the stored
    answer to a request that named them gets its request hash replaced (a hash is no less
    personal than what it hashes)."""
    found = await tx.fetchall(  # account_id None: "= NULL" is never true, the actor alone counts
        "SELECT id, actor, reason, idempotency_key, details FROM audit_log WHERE actor = ? OR account_id = ?",
        f"discord:{user}", account_id)
    for row in found:
        details = _decoded(row["details"])
        redacted = _without_texts(scan.scrub_json(details, user, texts))
        actor = scan.scrub_text(row["actor"], user)
        reason = None if row["reason"] in texts else row["reason"] and scan.scrub_text(row["reason"], user)
        if (redacted, actor, reason) == (details, row["actor"], row["reason"]):
            continue
        add("audit_log", await tx.execute(
            "UPDATE audit_log SET actor = ?, reason = ?, details = ? WHERE id = ?",
            actor, reason, json.dumps(redacted, sort_keys=True, default=str), row["id"]))
        if row["idempotency_key"] and redacted.get("request") != details.get("request"):
            add("idempotency_keys", await tx.execute(
                "UPDATE idempotency_keys SET request_hash = 'forgotten' WHERE key = ?", row["idempotency_key"]))


def _without_texts(value: Any) -> Any:
    """Free-text fields (by key) made null, at any depth."""
    if isinstance(value, dict):
        return {k: None if k in FREE_TEXT_KEYS and isinstance(v, str) else _without_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_texts(v) for v in value]
    return value


async def _cases(tx: Tx, user: str, account_id: str | None) -> list[dict]:
    if account_id:
        return await tx.fetchall(
            "SELECT id, status, details, context FROM cases WHERE discord_id = ? OR account_id = ? ORDER BY id",
            user, account_id)
    return await tx.fetchall("SELECT id, status, details, context FROM cases WHERE discord_id = ? ORDER BY id", user)


async def _comments(tx: Tx, account_id: str | None) -> list[str]:
    if not account_id:
        return []
    found = await tx.fetchall(
        "SELECT cancel_comment FROM subscriptions WHERE account_id = ? AND cancel_comment IS NOT NULL", account_id)
    return [r["cancel_comment"] for r in found]


def _case_texts(case: dict) -> set[str]:
    found = {case["details"]} if case["details"] else set()
    context = _decoded(case["context"])
    return found | _typed(context) | _typed(context.get("data"))


async def _texts(tx: Tx, user: str, account_id: str | None, cases: list[dict]) -> frozenset[str]:
    """Every free text the user wrote that the database holds."""
    found = set(await _comments(tx, account_id))
    for case in cases:
        found |= _case_texts(case)
    for flow in await tx.fetchall("SELECT data FROM flows WHERE owner = ?", user):
        found |= _typed(_decoded(flow["data"]))
    return frozenset(t for t in found if t and t.strip())


def _typed(data: Any) -> set[str]:
    """The free-text values (by key) of a decoded JSON object, at any depth."""
    if isinstance(data, dict):
        found = {v for k, v in data.items() if k in FREE_TEXT_KEYS and isinstance(v, str)}
        for v in data.values():
            found |= _typed(v)
        return found
    if isinstance(data, list):
        return set().union(*(_typed(v) for v in data)) if data else set()
    return set()


def _decoded(raw: str | None) -> dict:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

