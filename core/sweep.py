"""The due-work sweep: period ends, renewals, retries and renewal reminders.

Only subscriptions with ``next_due_at <= now`` are read (an index), so the
cost grows with the due items, not with all accounts. Each account is settled
in its own transaction; an account already settled by a read is skipped at
no cost, and so is one that another transaction holds (another process's
sweep or a command, which settles it itself). Reminders are claimed with a
unique row, so each goes out once per period even when several processes
sweep at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from core import outbox
from core.attempts import charge_ahead
from core.clock import to_ts
from core.periods import SettleCounts
from core.unit_of_work import UnitOfWork
from core.views import SweepReport
from storage.db import Tx


async def run_sweep(work: UnitOfWork, recover: Callable[[timedelta], Awaitable[Any]], batch: int = 1000) -> SweepReport:
    """``recover``: settles payment attempts left pending longer than it is given (core/recovery.py)."""
    # Payment attempts a crash or a silent provider left pending (core/attempts.py), once stale.
    await recover(timedelta(minutes=1))
    now = work.clock.now()
    totals = {"renewed": 0, "ended": 0, "past_due": 0, "retried": 0}
    seen: set[str] = set()
    while True:
        async with work.db.read() as tx:
            due = await tx.fetchall(
                "SELECT id, account_id, status, plan, scheduled_plan, period_end, cancel_at_period_end, retry_count "
                "FROM subscriptions WHERE status <> 'ended' AND next_due_at <= ? "
                "ORDER BY next_due_at LIMIT ?", to_ts(now), batch,
            )
        todo = [r for r in due if r["account_id"] not in seen]
        if not todo:
            break
        for sub in todo:
            account_id = sub["account_id"]
            seen.add(account_id)
            charges = await _renewal_charge(work, sub)
            counts = await work.paid(lambda tx, a=account_id: _settle_unless_held(work, tx, a, now), charges)
            if counts is None:
                continue
            for name in totals:
                totals[name] += getattr(counts, name)
    reminders = await claim_reminders(work, now)
    return SweepReport(**totals, reminders=tuple(reminders))


async def _renewal_charge(work: UnitOfWork, sub: dict) -> dict:
    """A due renewal's charge, taken before its settle transaction so that runs once; its key
    is the one core/periods.py charges under, so a settle elsewhere takes the same charge."""
    if sub["cancel_at_period_end"]:
        return {}
    attempt = "renew" if sub["status"] == "active" else f"retry{sub['retry_count'] + 1}"
    price = work.catalog.plan(sub["scheduled_plan"] or sub["plan"]).price
    return await charge_ahead(work.db, work.payments, sub["account_id"], price,
                              f"{attempt}:{sub['id']}:{sub['period_end']}")


async def claim_reminders(work: UnitOfWork, now: datetime) -> list[tuple[str, str, int]]:
    """Renewals within the lead time for users who opted in, each claimed once per period."""
    lead = to_ts(now + timedelta(days=work.settings.reminder_days))

    async def attempt(tx: Tx) -> list[tuple[str, str, int]]:
        claimed = []
        # In id order, so two processes claiming at once never wait on each other in a cycle.
        # "status <> 'ended'" is implied by "= 'active'" but spelled out: it lets the database
        # use the partial index subscriptions_due for the time range, instead of reading every
        # subscription on each sweep (BENCHMARKS.md, sweep).
        candidates = await tx.fetchall(
            "SELECT s.id, s.period_end, a.discord_id FROM subscriptions s "
            "JOIN accounts a ON a.id = s.account_id "
            "JOIN discord_users u ON u.discord_id = a.discord_id AND u.reminders = 1 "
            "WHERE s.status = 'active' AND s.status <> 'ended' AND s.cancel_at_period_end = 0 "
            "AND s.next_due_at > ? AND s.next_due_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM reminders_sent r WHERE r.subscription_id = s.id AND r.period_end = s.period_end) "
            "ORDER BY s.id",
            to_ts(now), lead,
        )
        for row in candidates:
            inserted = await tx.execute(
                "INSERT INTO reminders_sent (subscription_id, period_end, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                row["id"], row["period_end"], to_ts(now),
            )
            if inserted:
                # Owed in the claim's own transaction: the bot's delivery loop sends it, also
                # when this sweep ran in another process (the operator's CLI) or the bot was down.
                await outbox.enqueue(
                    tx, key=f"reminder:{row['id']}:{row['period_end']}", kind="reminder",
                    recipient=row["discord_id"],
                    payload={"subscription_id": row["id"], "period_end": row["period_end"]},
                    now=int(time.time()),
                )
                claimed.append((row["discord_id"], row["id"], row["period_end"]))
        return claimed

    return await work.db.run_in_transaction(attempt)


async def _settle_unless_held(work: UnitOfWork, tx: Tx, account_id: str, now: datetime) -> SettleCounts | None:
    """Settle one account, or None when another transaction holds it.

    The holder is another process's sweep or a command on the account, and
    both settle it first thing, so skipping (PostgreSQL's SKIP LOCKED) loses
    nothing and no sweep waits behind another.
    """
    if not await tx.claim_account(account_id):
        return None
    return await work.settle(tx, account_id, now)
