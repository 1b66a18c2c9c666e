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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.clock import from_ts, to_ts, utc_day_start
from core.errors import CoreError
from core.views import Credits
from storage.db import Tx

SPEND_ORDER = ("free", "subscription", "topup")

# The balances of the account aliased ``a`` at a moment, as columns of a SELECT (one
# statement with the rest of what a command reads, core/account_state.py); its parameters
# are ``balance_params(at)``. Free and subscription buckets always expire, top-ups never.
BALANCE_COLUMNS = (
    "(SELECT COALESCE(SUM(c.remaining), 0) FROM credit_buckets c WHERE c.account_id = a.id AND c.kind = 'free' "
    "AND c.remaining > 0 AND c.expires_at > ?) AS free_left, "
    "(SELECT COUNT(*) FROM credit_buckets c WHERE c.account_id = a.id AND c.source = ?) AS free_written, "
    "(SELECT COALESCE(SUM(c.remaining), 0) FROM credit_buckets c WHERE c.account_id = a.id "
    "AND c.kind = 'subscription' AND c.remaining > 0 AND c.expires_at > ?) AS subscription_left, "
    "(SELECT MAX(c.expires_at) FROM credit_buckets c WHERE c.account_id = a.id AND c.kind = 'subscription' "
    "AND c.remaining > 0 AND c.expires_at > ?) AS subscription_expiry, "
    "(SELECT COALESCE(SUM(c.remaining), 0) FROM credit_buckets c WHERE c.account_id = a.id AND c.kind = 'topup' "
    "AND c.remaining > 0) AS topup_left, "
    "(SELECT COUNT(*) FROM credit_buckets c WHERE c.account_id = a.id AND c.remaining > 0 "
    "AND c.expires_at <= ?) AS lapsed"
)


@dataclass(frozen=True)
class Balances:
    """What an account holds at a moment, by kind."""

    free: int  # left in today's free bucket (0 while none is written)
    free_written: bool  # today's free bucket exists (written when the account first spends that day)
    subscription: int
    subscription_expires_at: datetime | None
    topup: int
    lapsed: bool  # some bucket's time has passed and its expire entry is not written yet

    def credits(self, daily_free: int) -> Credits:
        """As the user sees them: ``daily_free`` stands in for today's bucket until it is written."""
        free = self.free if self.free_written or not daily_free else daily_free
        return Credits(free, self.subscription, self.subscription_expires_at, self.topup)


def balance_params(at: datetime) -> tuple[Any, ...]:
    ts = to_ts(at)
    return ts, free_day_source(utc_day_start(at)), ts, ts, ts


def balances_from(row: dict[str, Any]) -> Balances:
    expiry = row["subscription_expiry"]
    return Balances(int(row["free_left"]), bool(row["free_written"]), int(row["subscription_left"]),
                    from_ts(expiry) if expiry is not None else None, int(row["topup_left"]), bool(row["lapsed"]))


async def balances(tx: Tx, account_id: str, at: datetime) -> Balances:
    row = await tx.fetchone(f"SELECT {BALANCE_COLUMNS} FROM accounts a WHERE a.id = ?", *balance_params(at), account_id)
    return balances_from(row) if row else Balances(0, False, 0, None, 0, False)


def new_id() -> str:
    return uuid.uuid4().hex


def free_day_source(day_start: datetime) -> str:
    return f"free:{day_start.date().isoformat()}"


async def add_entry(tx: Tx, account_id: str, bucket_id: str, delta: int, kind: str, ref: str | None, at: datetime) -> None:
    if delta == 0:
        return
    await tx.write(
        "INSERT INTO credit_entries (id, account_id, bucket_id, delta, kind, ref, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        new_id(), account_id, bucket_id, delta, kind, ref, to_ts(at),
    )
    await tx.write("UPDATE credit_buckets SET remaining = remaining + ? WHERE id = ?", delta, bucket_id)


async def grant(
    tx: Tx, account_id: str, kind: str, amount: int, source: str, at: datetime,
    expires_at: datetime | None, ref: str | None = None,
) -> str:
    """A new bucket holding ``amount``, with its grant entry (written full: the two rows
    need no update of one by the other, so they may go to the database together)."""
    bucket_id = new_id()
    await tx.write(
        "INSERT INTO credit_buckets (id, account_id, kind, amount, remaining, expires_at, source, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        bucket_id, account_id, kind, amount, amount, to_ts(expires_at) if expires_at else None, source, to_ts(at),
    )
    await tx.write(
        "INSERT INTO credit_entries (id, account_id, bucket_id, delta, kind, ref, created_at) "
        "VALUES (?, ?, ?, ?, 'grant', ?, ?)",
        new_id(), account_id, bucket_id, amount, ref or source, to_ts(at),
    )
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


async def ensure_free_bucket(tx: Tx, account_id: str, daily: int, at: datetime, written: bool | None = None) -> None:
    """Write today's free bucket if the account is eligible and has none yet (``written``:
    whether it has one, when the caller has read that already)."""
    if written is None:
        written = await free_bucket_today(tx, account_id, at) is not None
    if daily <= 0 or written:
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


async def expire_lapsed(tx: Tx, account_id: str, at: datetime) -> int:
    """Write the expire entries of buckets whose time has passed (free days, old periods);
    returns how many buckets were closed."""
    lapsed = await tx.fetchall(
        "SELECT id FROM credit_buckets WHERE account_id = ? AND remaining > 0 "
        "AND expires_at IS NOT NULL AND expires_at <= ?",
        account_id, to_ts(at),
    )
    for bucket in lapsed:
        await close_bucket(tx, account_id, bucket["id"], "expire", at, "expired")
    return len(lapsed)
