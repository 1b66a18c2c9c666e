"""The audit trail: one record per change, written in the change's own transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.clock import from_ts, to_ts
from core.ledger import new_id
from storage.db import Database, Tx


async def write_audit(tx: Tx, account_id: str | None, actor: str, action: str, at: datetime,
                      why: str | None = None, key: str | None = None, **details: Any) -> None:
    await tx.write(
        "INSERT INTO audit_log (id, account_id, actor, action, reason, idempotency_key, details, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        new_id(), account_id, actor, action, why, key, json.dumps(details, sort_keys=True, default=str), to_ts(at),
    )


async def audit_trail(db: Database, account_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The account's latest records, newest first."""
    async with db.read() as tx:
        found = await tx.fetchall(
            "SELECT actor, action, reason, idempotency_key, details, created_at FROM audit_log "
            "WHERE account_id = ? ORDER BY created_at DESC, id LIMIT ?", account_id, limit,
        )
    return [{**r, "created_at": from_ts(r["created_at"]), "details": json.loads(r["details"])} for r in found]
