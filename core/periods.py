"""Period ends, renewals, retries: the subscription state machine's clock side.

One live subscription row per account (status active or past_due); no live
row means Free. At each boundary, in time order and at the boundary's own
time (so one long clock jump equals many short ones):

  active, cancel scheduled   --period end-->  ended (reverts to Free)
  active                     --period end-->  renewal charge:
        paid     → active, next period (the scheduled plan, if any), new allowance
        refused  → past_due: retried daily until grace_until, then ended
  past_due                   --retry------->  paid → active, period from the old end

Subscription credits are forfeited at every period end. This runs in the
sweep and before every read or change of an account, so a late sweep never
extends access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core import billing, ledger
from core.account_state import is_due, touch
from core.audit import write_audit
from core.clock import add_months, from_ts, to_ts
from core.errors import CoreError
from core.money import Money
from core.plans import Catalog, Plan
from storage.db import Tx

RETRY_EVERY = timedelta(days=1)


@dataclass
class SettleCounts:
    renewed: int = 0
    ended: int = 0
    past_due: int = 0
    retried: int = 0
    expired: int = 0  # buckets whose time had passed, closed

    @property
    def changed(self) -> bool:
        return bool(self.renewed or self.ended or self.past_due or self.retried or self.expired)


def period_bounds(anchor: datetime, index: int, plan: Plan) -> tuple[datetime, datetime]:
    return add_months(anchor, index * plan.months), add_months(anchor, (index + 1) * plan.months)


async def live_subscription(tx: Tx, account_id: str) -> dict | None:
    """Read again (after a change in this transaction); a command has it loaded (core/account_state.py)."""
    return await tx.fetchone("SELECT * FROM subscriptions WHERE account_id = ? AND status <> 'ended'", account_id)


async def start_subscription(
    tx: Tx, account_id: str, plan: Plan, at: datetime, invoice_key: str,
    charge_amount: Money | None = None, kind: str = "subscription",
) -> tuple[str, list[str], datetime]:
    """Charge, then create the row and grant the allowance; returns (id, invoices, period end)."""
    subscription_id = ledger.new_id()
    start, end = period_bounds(at, 0, plan)
    amount = plan.price if charge_amount is None else charge_amount
    # The row must exist before invoices reference it; a refused charge rolls both back.
    await tx.write(
        "INSERT INTO subscriptions (id, account_id, plan, status, cycle_anchor, cycle_index, period_start, "
        "period_end, next_due_at, created_at) VALUES (?, ?, ?, 'active', ?, 0, ?, ?, ?, ?)",
        subscription_id, account_id, plan.id, to_ts(at), to_ts(start), to_ts(end), to_ts(end), to_ts(at),
    )
    invoices = await billing.charge(
        tx, account_id, amount, invoice_key, at, kind=kind,
        subscription_id=subscription_id, plan=plan.id, period=(start, end),
    )
    await grant_allowance(tx, account_id, subscription_id, plan, start, end)
    # Today's free credits belong to the Free plan only.
    free = await ledger.free_bucket_today(tx, account_id, at)
    if free:
        await ledger.close_bucket(tx, account_id, free["id"], "expire", at, "subscribed")
    return subscription_id, invoices, end


async def grant_allowance(tx: Tx, account_id: str, subscription_id: str, plan: Plan, start: datetime, end: datetime,
                          source: str | None = None) -> None:
    """The plan's allowance for [start, end). ``source`` (unique per account) defaults to
    ``sub:ID:START``, one per period; a mid-period grant (an immediate upgrade, a
    moderator's change) passes its own, since it can fall in the same second as a
    renewal or as the subscription's start."""
    if plan.credits > 0:
        await ledger.grant(
            tx, account_id, "subscription", plan.credits, source or f"sub:{subscription_id}:{to_ts(start)}", start, end,
        )


async def end_subscription(tx: Tx, sub: dict, at: datetime, reason: str) -> None:
    await tx.write(
        "UPDATE subscriptions SET status = 'ended', ended_at = ?, end_reason = ?, next_due_at = NULL, "
        "scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?",
        to_ts(at), reason, sub["id"],
    )
    await ledger.expire_subscription_credits(tx, sub["account_id"], at, "expire", reason)


async def _audit(tx: Tx, sub: dict, action: str, at: datetime, why: str | None = None, key: str | None = None,
                 **details) -> None:
    """The audit record of a change the clock made (no user asked for it)."""
    await write_audit(tx, sub["account_id"], "system", action, at, why, key, subscription=sub["id"], **details)


async def settle(tx: Tx, catalog: Catalog, account_id: str, now: datetime, grace: timedelta) -> SettleCounts:
    """Apply every boundary of this account's subscription that is due by ``now``, then
    expire lapsed credits; the account is marked changed when anything was written."""
    counts = SettleCounts()
    while True:
        sub = await live_subscription(tx, account_id)
        if not is_due(sub, now):
            break
        if sub["status"] == "active":
            await _period_end(tx, catalog, sub, grace, counts)
        else:
            await _retry(tx, catalog, sub, counts)
    counts.expired = await ledger.expire_lapsed(tx, account_id, now)
    if counts.changed:
        await touch(tx, account_id)
    return counts


async def _period_end(tx: Tx, catalog: Catalog, sub: dict, grace: timedelta, counts: SettleCounts) -> None:
    at = from_ts(sub["period_end"])
    await ledger.expire_subscription_credits(tx, sub["account_id"], at)
    if sub["cancel_at_period_end"]:
        await end_subscription(tx, sub, at, "cancelled")
        await _audit(tx, sub, "subscription_end", at, "cancelled", plan=sub["plan"])
        counts.ended += 1
        return
    if await _renew(tx, catalog, sub, at, attempt="renew"):
        counts.renewed += 1
        return
    grace_until = at + grace
    next_retry = min(at + RETRY_EVERY, grace_until)
    await tx.write(
        "UPDATE subscriptions SET status = 'past_due', grace_until = ?, next_retry_at = ?, retry_count = 0, "
        "next_due_at = ? WHERE id = ?",
        to_ts(grace_until), to_ts(next_retry), to_ts(next_retry), sub["id"],
    )
    await _audit(tx, sub, "past_due", at, "the renewal payment was refused", plan=sub["plan"], grace_until=grace_until)
    counts.past_due += 1


async def _retry(tx: Tx, catalog: Catalog, sub: dict, counts: SettleCounts) -> None:
    at = from_ts(sub["next_due_at"])
    counts.retried += 1
    if await _renew(tx, catalog, sub, at, attempt=f"retry{sub['retry_count'] + 1}"):
        counts.renewed += 1
        return
    if sub["next_due_at"] >= sub["grace_until"]:
        await end_subscription(tx, sub, at, "payment_failed")
        await _audit(tx, sub, "subscription_end", at, "payment_failed", plan=sub["plan"])
        counts.ended += 1
        return
    next_retry = min(at + RETRY_EVERY, from_ts(sub["grace_until"]))
    await tx.write(
        "UPDATE subscriptions SET retry_count = retry_count + 1, next_retry_at = ?, next_due_at = ? WHERE id = ?",
        to_ts(next_retry), to_ts(next_retry), sub["id"],
    )


async def _renew(tx: Tx, catalog: Catalog, sub: dict, at: datetime, attempt: str) -> bool:
    """Charge the next period (the scheduled plan, if any); False if the charge was refused."""
    old_plan = catalog.plan(sub["plan"])
    plan = catalog.plan(sub["scheduled_plan"] or sub["plan"])
    old_end = from_ts(sub["period_end"])
    if plan.months == old_plan.months:
        anchor, index = from_ts(sub["cycle_anchor"]), sub["cycle_index"] + 1
    else:
        anchor, index = old_end, 0
    start, end = period_bounds(anchor, index, plan)
    key = f"{attempt}:{sub['id']}:{sub['period_end']}"
    try:
        await billing.charge(
            tx, sub["account_id"], plan.price, key, at,
            kind="renewal", subscription_id=sub["id"], plan=plan.id, period=(start, end),
        )
    except CoreError as exc:
        if exc.code in ("payment_declined", "payment_failed"):
            return False
        raise
    await tx.write(
        "UPDATE subscriptions SET status = 'active', plan = ?, cycle_anchor = ?, cycle_index = ?, period_start = ?, "
        "period_end = ?, next_due_at = ?, scheduled_plan = NULL, scheduled_kind = NULL, grace_until = NULL, "
        "next_retry_at = NULL, retry_count = 0 WHERE id = ?",
        plan.id, to_ts(anchor), index, to_ts(start), to_ts(end), to_ts(end), sub["id"],
    )
    await grant_allowance(tx, sub["account_id"], sub["id"], plan, at, end)
    await _audit(tx, sub, "renewal", at, None, key, plan=plan.id, period_start=start, period_end=end)
    return True
