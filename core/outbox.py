"""The outbox: messages the bot owes, recorded with the change that causes them.

``enqueue`` runs inside the caller's transaction, so a receipt or a reminder exists if and
only if its change committed. The bot's delivery loop (``bot/delivery.py``) then ``claim``s
due rows for a while (a lease: two processes never send the same row at once; one that died
holding a lease lets it lapse), sends them, and marks each ``sent``, ``retry`` (with the
next attempt's time) or ``undeliverable``/``expired``. Times are wall-clock seconds from
the caller, not the product clock: they pace retries, which a simulated clock must not.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from core.ledger import new_id

PENDING, SENT, UNDELIVERABLE, EXPIRED = "pending", "sent", "undeliverable", "expired"


@dataclass(frozen=True)
class Owed:
    id: str
    key: str
    kind: str
    recipient: str
    payload: dict[str, Any]
    nonce: str
    attempts: int
    created_at: int


async def enqueue(tx, *, key: str, kind: str, recipient: str, payload: dict[str, Any], now: int) -> bool:
    """Owe a message, once per ``key``; False when it was already owed."""
    inserted = await tx.execute(
        "INSERT INTO outbox (id, key, kind, recipient, payload, nonce, status, created_at, due_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING",
        new_id(), key, kind, str(recipient), json.dumps(payload, sort_keys=True),
        # Discord takes a nonce of at most 25 characters.
        secrets.token_hex(12), now, now,
    )
    return bool(inserted)


_ANY_DUE = "SELECT 1 AS due FROM outbox WHERE status = 'pending' AND due_at <= ? AND lease_until <= ? LIMIT 1"
_DUE = (
    "SELECT id, key, kind, recipient, payload, nonce, attempts, created_at FROM outbox "
    "WHERE status = 'pending' AND due_at <= ? AND lease_until <= ? ORDER BY due_at, id LIMIT ?"
)
_DUE_SKIP_LOCKED = (
    "SELECT id, key, kind, recipient, payload, nonce, attempts, created_at FROM outbox "
    "WHERE status = 'pending' AND due_at <= ? AND lease_until <= ? ORDER BY due_at, id LIMIT ? "
    "FOR UPDATE SKIP LOCKED"
)


async def claim(db, now: int, lease_seconds: int = 60, limit: int = 20) -> list[Owed]:
    """Due rows no other process holds, leased to the caller until ``now + lease_seconds``."""
    # PostgreSQL: rows another process is claiming right now are skipped, not waited for.
    # SQLite has one writer at a time already.
    select = _DUE_SKIP_LOCKED if db.dialect == "postgresql" else _DUE

    # Most rounds find nothing: a read says so without taking the write lock.
    async with db.read() as tx:
        if not await tx.fetchone(_ANY_DUE, now, now):
            return []

    async def attempt(tx) -> list[Owed]:
        rows = await tx.fetchall(select, now, now, limit)
        claimed = []
        for row in rows:
            # The condition repeats the claim's test: a row another process leased meanwhile stays theirs.
            taken = await tx.execute(
                "UPDATE outbox SET lease_until = ? WHERE id = ? AND status = 'pending' AND lease_until <= ?",
                now + lease_seconds, row["id"], now,
            )
            if taken:
                claimed.append(Owed(row["id"], row["key"], row["kind"], row["recipient"],
                                    json.loads(row["payload"]), row["nonce"], row["attempts"], row["created_at"]))
        return claimed

    return await db.run_in_transaction(attempt)


async def mark_sent(db, owed: Owed, now: int) -> None:
    await _finish(db, owed, SENT, now, None)


async def mark_undeliverable(db, owed: Owed, now: int, why: str) -> None:
    await _finish(db, owed, UNDELIVERABLE, now, why)


async def mark_expired(db, owed: Owed, now: int, why: str) -> None:
    await _finish(db, owed, EXPIRED, now, why)


async def mark_retry(db, owed: Owed, due_at: int, why: str) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, due_at = ?, lease_until = 0, last_error = ? "
            "WHERE id = ? AND status = 'pending'", due_at, why[:500], owed.id,
        )


async def probe(db, now: int) -> None:
    """Make the next row waiting for a retry due now: it tells whether Discord is back."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT id FROM outbox WHERE status = 'pending' AND attempts > 0 AND due_at > ? "
            "ORDER BY due_at, id LIMIT 1", now,
        )
        if row:
            await tx.execute("UPDATE outbox SET due_at = ? WHERE id = ?", now, row["id"])


async def wake(db, now: int) -> int:
    """A send just worked: every row waiting for a retry is due now (Discord is back)."""
    async with db.transaction() as tx:
        return await tx.execute(
            "UPDATE outbox SET due_at = ? WHERE status = 'pending' AND attempts > 0 AND due_at > ?", now, now,
        )


async def release(db, ids: list[str]) -> None:
    """Give claimed rows back before their lease ends (a process stopping mid-round)."""
    async with db.transaction() as tx:
        for owed_id in ids:
            await tx.execute("UPDATE outbox SET lease_until = 0 WHERE id = ? AND status = 'pending'", owed_id)


async def _finish(db, owed: Owed, status: str, now: int, why: str | None) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, done_at = ?, lease_until = 0, last_error = ? "
            "WHERE id = ? AND status = 'pending'", status, now, why and why[:500], owed.id,
        )


async def untold(db, recipient: str, limit: int = 3) -> list[Owed]:
    """DMs that could not reach ``recipient`` and were not shown to them another way yet."""
    async with db.read() as tx:
        rows = await tx.fetchall(
            "SELECT id, key, kind, recipient, payload, nonce, attempts, created_at FROM outbox "
            "WHERE recipient = ? AND status = 'undeliverable' AND told_at IS NULL ORDER BY created_at, id LIMIT ?",
            str(recipient), limit,
        )
    return [Owed(r["id"], r["key"], r["kind"], r["recipient"], json.loads(r["payload"]), r["nonce"],
                 r["attempts"], r["created_at"]) for r in rows]


async def mark_told(db, owed: Owed, now: int) -> bool:
    """True for the one caller that marks it (two processes never show it twice)."""
    async with db.transaction() as tx:
        return bool(await tx.execute("UPDATE outbox SET told_at = ? WHERE id = ? AND told_at IS NULL", now, owed.id))


async def counts(db) -> dict[str, int]:
    """Rows per status, and the age in seconds of the oldest pending one (``oldest_pending_s``)."""
    async with db.read() as tx:
        rows = await tx.fetchall("SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY status")
    found = {r["status"]: r["n"] for r in rows}
    oldest = next((r["oldest"] for r in rows if r["status"] == PENDING), None)
    return {PENDING: 0, SENT: 0, UNDELIVERABLE: 0, EXPIRED: 0, **found, "oldest_pending": oldest or 0}


async def backlog(db) -> tuple[int, int | None]:
    """Pending rows and the creation time (epoch seconds) of the oldest: what the metrics
    scrape shows. Only pending rows are read (the status index), never the sent history."""
    async with db.read() as tx:
        row = await tx.fetchone("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status = 'pending'")
    return int(row["n"]), row["oldest"]
