"""Flow state in the ``flows`` table, through the storage port.

A flow advances by compare-and-swap on ``version``: the update names the
version it read, and zero rows changed means another press (in this process
or another) advanced it first. Nothing lives in process memory, so a restart
loses nothing and any bot process can continue any flow.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from core import outbox
from core.clock import from_ts, to_ts
from flows.machine import FlowState
from storage.db import Database, Tx


def new_flow_id() -> str:
    return uuid.uuid4().hex  # 32 hex characters: fits Discord's 100-character custom_id with room to spare


def _row_to_state(row: dict) -> FlowState:
    return FlowState(
        id=row["id"], owner=row["owner"], account_id=row["account_id"], kind=row["kind"], step=row["step"],
        data=json.loads(row["data"]), version=row["version"], expires_at=from_ts(row["expires_at"]),
        created_at=from_ts(row["created_at"]), updated_at=from_ts(row["updated_at"]),
    )


def _data(state: FlowState) -> str:
    return json.dumps(state.data, sort_keys=True, separators=(",", ":"))


class FlowStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, state: FlowState) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO flows (id, owner, account_id, kind, step, data, version, expires_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                state.id, state.owner, state.account_id, state.kind, state.step, _data(state), state.version,
                to_ts(state.expires_at), to_ts(state.created_at), to_ts(state.updated_at),
            )

    async def load(self, flow_id: str) -> FlowState | None:
        async with self.db.read() as tx:
            return await self.load_in(tx, flow_id)

    async def load_in(self, tx: Tx, flow_id: str) -> FlowState | None:
        """The flow, read inside the caller's transaction."""
        row = await tx.fetchone("SELECT * FROM flows WHERE id = ?", flow_id)
        return _row_to_state(row) if row else None

    async def advance(self, read: FlowState, new: FlowState, now: datetime,
                      owed: dict[str, Any] | None = None) -> FlowState | None:
        """Store ``new`` if the row is still at ``read.version``; the stored state, or None if another press won.

        ``owed``: a message this step owes (``core.outbox.enqueue``'s arguments, a receipt DM),
        recorded in the same transaction, so it exists exactly when the step was stored."""
        stored = replace(new, version=read.version + 1, updated_at=now)
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE flows SET step = ?, data = ?, version = ?, expires_at = ?, updated_at = ? WHERE id = ? AND version = ?",
                stored.step, _data(stored), stored.version, to_ts(stored.expires_at), to_ts(now), read.id, read.version,
            )
            if changed == 1 and owed is not None:
                await outbox.enqueue(tx, **owed)
        return stored if changed == 1 else None

    async def purge(self, expired_before: datetime) -> int:
        """Delete flows that expired before the given moment; returns how many."""
        async with self.db.transaction() as tx:
            return await tx.execute("DELETE FROM flows WHERE expires_at < ?", to_ts(expired_before))
