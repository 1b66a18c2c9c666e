"""The credit ledger: buckets with a remaining balance, and append-only entries.

Invariants (checked by the database as well): a bucket's remaining equals its
amount plus the sum of its entries and stays within [0, amount]; top-ups never
expire; spending is all or nothing, soonest-expiring first: today's free
credits, then subscription credits, then top-ups.

Daily free credits cost no write on days an account is not used: a Free-plan
account has 100 "virtual" credits each UTC day, and the bucket is written only
when the account first spends that day.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from core.clock import from_ts, to_ts, utc_day_start
from core.errors import CoreError
from storage.db import Tx

SPEND_ORDER = ("free", "subscription", "topup")


def new_id() -> str:
    return uuid.uuid4().hex


def free_day_source(day_start: datetime) -> str:
    return f"free:{day_start.date().isoformat()}"


async def add_entry(tx: Tx, account_id: str, bucket_id: str, delta: int, kind: str, ref: str | None, at: datetime) -> None:
    if delta == 0:
        return
    await tx.execute(
        "INSERT INTO credit_entries (id, account_id, bucket_id, delta, kind, ref, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        new_id(), account_id, bucket_id, delta, kind, ref, to_ts(at),
    )
    await tx.execute("UPDATE credit_buckets SET remaining = remaining + ? WHERE id = ?", delta, bucket_id)


async def grant(
    tx: Tx, account_id: str, kind: str, amount: int, source: str, at: datetime,
    expires_at: datetime | None, ref: str | None = None,
) -> str:
    """A new bucket holding ``amount``, with its grant entry."""
    bucket_id = new_id()
    await tx.execute(
        "INSERT INTO credit_buckets (id, account_id, kind, amount, remaining, expires_at, source, created_at) "
        "VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
        bucket_id, account_id, kind, amount, to_ts(expires_at) if expires_at else None, source, to_ts(at),
    )
    await add_entry(tx, account_id, bucket_id, amount, "grant", ref or source, at)
    return bucket_id


async def live_buckets(tx: Tx, account_id: str, at: datetime) -> list[dict]:
    """Buckets with credits left that have not expired, in spending order."""
    found = await tx.fetchall(
        "SELECT id, kind, amount, remaining, expires_at, source, created_at FROM credit_buckets "
        "WHERE account_id = ? AND remaining > 0 AND (expires_at IS NULL OR expires_at > ?)",
        account_id, to_ts(at),
    )
    return sorted(found, key=lambda b: (SPEND_ORDER.index(b["kind"]), b["expires_at"] or 2**62, b["created_at"], b["id"]))


async def free_bucket_today(tx: Tx, account_id: str, at: datetime) -> dict | None:
    return await tx.fetchone(
        "SELECT id, amount, remaining FROM credit_buckets WHERE account_id = ? AND source = ?",
        account_id, free_day_source(utc_day_start(at)),
    )


async def ensure_free_bucket(tx: Tx, account_id: str, daily: int, at: datetime) -> None:
    """Write today's free bucket if the account is eligible and has none yet."""
    if daily <= 0 or await free_bucket_today(tx, account_id, at):
        return
    day = utc_day_start(at)
    await grant(tx, account_id, "free", daily, free_day_source(day), at, day + timedelta(days=1))


async def spend(tx: Tx, account_id: str, amount: int, at: datetime, ref: str) -> list[tuple[str, int]]:
    """Consume ``amount`` across buckets, soonest-expiring first; all or nothing."""
    if amount <= 0:
        raise CoreError("invalid", "the amount of credits must be above zero", amount=amount)
    buckets = await live_buckets(tx, account_id, at)
    available = sum(b["remaining"] for b in buckets)
    if available < amount:
        raise CoreError("insufficient_credits", f"only {available} credits are available", available=available, asked=amount)
    taken, left = [], amount
    for bucket in buckets:
        if left == 0:
            break
        part = min(left, bucket["remaining"])
        await add_entry(tx, account_id, bucket["id"], -part, "consume", ref, at)
        taken.append((bucket["kind"], part))
        left -= part
    return taken


async def close_bucket(tx: Tx, account_id: str, bucket_id: str, kind: str, at: datetime, ref: str | None) -> int:
    """Take what is left of a bucket away (expiry or a refund's void); returns how much."""
    bucket = await tx.fetchone("SELECT remaining FROM credit_buckets WHERE id = ?", bucket_id)
    if not bucket or bucket["remaining"] == 0:
        return 0
    await add_entry(tx, account_id, bucket_id, -bucket["remaining"], kind, ref, at)
    return bucket["remaining"]


async def expire_subscription_credits(tx: Tx, account_id: str, at: datetime, kind: str = "expire", ref: str | None = None) -> int:
    """End every subscription bucket still holding credits (period end, upgrade, refund)."""
    forfeited = 0
    for bucket in await tx.fetchall(
        "SELECT id FROM credit_buckets WHERE account_id = ? AND kind = 'subscription' AND remaining > 0",
        account_id,
    ):
        forfeited += await close_bucket(tx, account_id, bucket["id"], kind, at, ref)
    return forfeited


async def has_lapsed(tx: Tx, account_id: str, at: datetime) -> bool:
    """Whether ``expire_lapsed`` has an entry to write."""
    return await tx.fetchone(
        "SELECT 1 AS lapsed FROM credit_buckets WHERE account_id = ? AND remaining > 0 "
        "AND expires_at IS NOT NULL AND expires_at <= ? LIMIT 1",
        account_id, to_ts(at),
    ) is not None


async def expire_lapsed(tx: Tx, account_id: str, at: datetime) -> None:
    """Write the expire entries of buckets whose time has passed (free days, old periods)."""
    for bucket in await tx.fetchall(
        "SELECT id FROM credit_buckets WHERE account_id = ? AND remaining > 0 "
        "AND expires_at IS NOT NULL AND expires_at <= ?",
        account_id, to_ts(at),
    ):
        await close_bucket(tx, account_id, bucket["id"], "expire", at, "expired")


async def balances(tx: Tx, account_id: str, at: datetime, virtual_free: int) -> tuple[int, int, datetime | None, int]:
    """(free today, subscription, subscription expiry, top-up) as the user sees them now."""
    free = subscription = topup = 0
    sub_expiry: datetime | None = None
    for bucket in await live_buckets(tx, account_id, at):
        if bucket["kind"] == "free":
            free += bucket["remaining"]
        elif bucket["kind"] == "subscription":
            subscription += bucket["remaining"]
            sub_expiry = from_ts(bucket["expires_at"])
        else:
            topup += bucket["remaining"]
    if virtual_free and not await free_bucket_today(tx, account_id, at):
        free = virtual_free
    return free, subscription, sub_expiry, topup
