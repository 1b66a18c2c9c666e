"""Everything a command needs about an account, read in one statement.

``load`` reads the account row, its live subscription, its balances and whether anything
is due, the idempotency row of the command's key and the payment attempt of its charge,
in one SELECT (one round trip to PostgreSQL). For a command it also locks the account row
(``FOR UPDATE OF a``), so commands on one account take turns across processes.

One statement has one snapshot, taken before the lock is granted: when another change
of the account committed while this one waited for the lock, the locked row is its latest
version but the rest is as it was. So every change of what this reads about an account
(its subscription, its credits) bumps ``accounts.version`` in its transaction (``touch``),
and the load compares the version it locked with the version its snapshot saw: when they
differ, it is ``stale`` and is read again (the lock held now, the next read sees all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import ledger
from core.clock import from_ts, to_ts
from core.errors import CoreError
from core.plans import FREE, Catalog
from core.views import AccountView, ScheduledChange
from storage.db import Tx

SUBSCRIPTION_COLUMNS = (
    "id", "account_id", "plan", "status", "cycle_anchor", "cycle_index", "period_start", "period_end",
    "cancel_at_period_end", "cancel_reason", "cancel_comment", "cancelled_at", "scheduled_plan", "scheduled_kind",
    "grace_until", "next_retry_at", "retry_count", "next_due_at", "ended_at", "end_reason", "created_at",
)
ACCOUNT_COLUMNS = ("id", "email", "device_id", "discord_id", "restricted", "restriction_reason", "created_at", "version")

# Parameters: ledger.balance_params(now), then the key, the attempt key and the account id.
LOAD = (
    "SELECT " + ", ".join(f"a.{c}" for c in ACCOUNT_COLUMNS) + ", "
    "(SELECT v.version FROM accounts v WHERE v.id = a.id) AS seen_version, "
    + ", ".join(f"s.{c} AS s_{c}" for c in SUBSCRIPTION_COLUMNS) + ", "
    "k.request_hash AS key_request_hash, k.result AS key_result, "
    "p.status AS attempt_status, p.charge_ids AS attempt_charge_ids, "
    + ledger.BALANCE_COLUMNS +
    " FROM accounts a LEFT JOIN subscriptions s ON s.account_id = a.id AND s.status <> 'ended' "
    "LEFT JOIN idempotency_keys k ON k.key = ? LEFT JOIN payment_attempts p ON p.key = ? "
    "WHERE a.id = ?"
)
LOAD_LOCKED = LOAD + " FOR UPDATE OF a"


@dataclass(frozen=True)
class AccountState:
    account: dict[str, Any]
    sub: dict[str, Any] | None  # the live subscription; None on the Free plan
    balances: ledger.Balances
    prior: dict[str, Any] | None  # what the command's idempotency key holds (request_hash, result)
    attempt: dict[str, Any] | None  # the payment attempt of the command's charge (status, charge_ids)
    stale: bool  # another change committed while the lock was awaited: read again

    @property
    def plan(self) -> str:
        return self.sub["plan"] if self.sub else FREE

    def settled(self, now: datetime) -> bool:
        """Nothing due: no period boundary to apply and no lapsed credits to expire."""
        return not (is_due(self.sub, now) or self.balances.lapsed)


def is_due(sub: dict | None, now: datetime) -> bool:
    """Whether a boundary of this live subscription is due by ``now`` (core/periods.py)."""
    return bool(sub and sub["next_due_at"] is not None and sub["next_due_at"] <= to_ts(now))


async def load(tx: Tx, account_id: str, now: datetime, *, key: str | None = None, attempt_key: str | None = None,
               lock: bool = False) -> AccountState:
    """The account as of ``now`` in one statement; ``lock``: for a change (a write transaction)."""
    row = await tx.fetchone(LOAD_LOCKED if lock else LOAD, *ledger.balance_params(now), key, attempt_key, account_id)
    if row is None:
        raise CoreError("not_found", "no such account", account=account_id)
    sub = {c: row[f"s_{c}"] for c in SUBSCRIPTION_COLUMNS} if row["s_id"] is not None else None
    prior = {"request_hash": row["key_request_hash"], "result": row["key_result"]} if row["key_result"] is not None else None
    attempt = ({"status": row["attempt_status"], "charge_ids": row["attempt_charge_ids"]}
               if row["attempt_status"] is not None else None)
    return AccountState({c: row[c] for c in ACCOUNT_COLUMNS}, sub, ledger.balances_from(row), prior, attempt,
                        stale=row["version"] != row["seen_version"])


async def touch(tx: Tx, account_id: str) -> None:
    """Mark the account changed (see the module's docstring), in the change's transaction."""
    await tx.write("UPDATE accounts SET version = version + 1 WHERE id = ?", account_id)


def daily_free(catalog: Catalog, account: dict, sub: dict | None) -> int:
    """Today's free credits the account is entitled to: Free plan and not restricted."""
    if sub or account["restricted"]:
        return 0
    return catalog.plan(FREE).daily_free_credits


def view(state: AccountState, catalog: Catalog) -> AccountView:
    account, sub = state.account, state.sub
    credits = state.balances.credits(daily_free(catalog, account, sub))
    blocked = None
    if sub:
        blocked = "paid_plan"
    elif account["restricted"]:
        blocked = "restricted"
    elif credits.free_today == 0 and catalog.plan(FREE).daily_free_credits > 0:
        blocked = "used_today"
    scheduled = None
    next_at = next_amount = None
    if sub:
        if sub["scheduled_plan"]:
            scheduled = ScheduledChange(sub["scheduled_plan"], sub["scheduled_kind"], from_ts(sub["period_end"]))
        if not sub["cancel_at_period_end"]:
            billed = catalog.plan(sub["scheduled_plan"] or sub["plan"])
            next_at = from_ts(sub["next_due_at"] if sub["status"] == "past_due" else sub["period_end"])
            next_amount = billed.price
    return AccountView(
        account_id=account["id"], email=account["email"], discord_id=account["discord_id"],
        plan=state.plan, status=sub["status"] if sub else "free",
        subscription_id=sub["id"] if sub else None,
        period_start=from_ts(sub["period_start"]) if sub else None,
        period_end=from_ts(sub["period_end"]) if sub else None,
        cancel_at_period_end=bool(sub and sub["cancel_at_period_end"]),
        cancel_reason=sub["cancel_reason"] if sub else None,
        scheduled_change=scheduled,
        credits=credits,
        restricted=bool(account["restricted"]), restriction_reason=account["restriction_reason"],
        next_billing_at=next_at, next_billing_amount=next_amount,
        grace_until=from_ts(sub["grace_until"]) if sub and sub["grace_until"] else None,
        free_credits_blocked_by=blocked,
    )
