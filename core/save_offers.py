"""The cancel flow's save offer, as the weekly report (core/report.py) counts it.

One row per cancel flow that showed the offer (a cheaper plan); ``taken_at`` once the user
confirmed the switch. Keyed by the flow id, so a step that runs again (a retried or doubled
press) records nothing twice. Its own small transaction, outside the account's change: showing
an offer changes nothing on the account, so it stays out of the audit trail.
"""

from __future__ import annotations

from datetime import datetime

from core.clock import to_ts
from storage.db import Database

# A taken offer whose flow began before this table existed still gets its row (shown = taken).
_UPSERT = (
    "INSERT INTO save_offers (flow_id, account_id, plan, shown_at, taken_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (flow_id) DO UPDATE SET taken_at = excluded.taken_at "
    "WHERE save_offers.taken_at IS NULL AND excluded.taken_at IS NOT NULL"
)


async def record_save_offer(db: Database, flow_id: str, account_id: str | None, plan: str, at: datetime,
                            *, taken: bool = False) -> None:
    """The offer of ``plan`` in flow ``flow_id`` was shown (or, with ``taken``, accepted) at ``at``."""
    moment = to_ts(at)
    async with db.transaction() as tx:
        await tx.execute(_UPSERT, flow_id, account_id, plan, moment, moment if taken else None)
