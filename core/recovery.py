"""Payment attempts left pending (a crash, a provider that did not answer), settled.

Each one as its kind needs (core/attempts.py): an approved refund is finished (the
provider asked again by the same key, then the decision, core/refund_approvals.py); a
renewal is completed by settling its account again (the same key: the provider returns the
same charge); any other charge the provider holds without its state change is refunded,
and one it never took is marked failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from core import attempts
from core.errors import CoreError
from storage.db import Database


async def pending(db: Database, older_than: timedelta) -> list[dict[str, Any]]:
    """Attempts still pending (or refunding) that started more than ``older_than`` ago (wall clock)."""
    cutoff = int(datetime.now().timestamp() - older_than.total_seconds())
    async with db.read() as tx:
        return await tx.fetchall(
            "SELECT * FROM payment_attempts WHERE status IN ('pending', 'refunding') AND started_at <= ? "
            "ORDER BY started_at", cutoff)


async def recover(db: Database, payments, rows: list[dict[str, Any]], *,
                  finish_refund: Callable[[dict], Awaitable[str | None]],
                  settle_account: Callable[[str], Awaitable[Any]]) -> dict[str, int]:
    """Settle these attempts; how many were completed, refunded and failed."""
    done = {"completed": 0, "refunded": 0, "failed": 0}
    for row in rows:
        key = row["key"]
        if attempts.is_refund(key):  # an approved refund left between its phases: finish it
            outcome = await finish_refund(row)
            if outcome:
                done[outcome] += 1
            continue
        if attempts.is_renewal(key):
            # Orphaned: not in flight any more, so the settle below may take it by its key.
            await db.run_alone("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending'", key)
            try:
                await settle_account(row["account_id"])
            except CoreError:
                pass
        outcome = await attempts.reverse(db, payments, row)
        if outcome:
            done[outcome] += 1
    return done
