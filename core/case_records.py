"""Cases as stored: a row made a ``Case``, read by id, and what a decision did."""

from __future__ import annotations

import json

from core.clock import from_ts
from core.errors import CoreError
from core.rules import OPEN_CASE
from core.views import Case, DecisionEffects, Recommendation
from storage.db import Database


def case_from_row(row: dict) -> Case:
    rec = json.loads(row["recommendation"]) if row["recommendation"] else None
    return Case(
        id=row["id"], kind=row["kind"], status=row["status"], account_id=row["account_id"], discord_id=row["discord_id"],
        invoice_id=row["invoice_id"], reason=row["reason"], details=row["details"],
        context=json.loads(row["context"] or "{}"),
        recommendation=Recommendation(**rec) if rec else None, decided_by=row["decided_by"],
        decision_reason=row["decision_reason"], created_at=from_ts(row["created_at"]),
        decided_at=from_ts(row["decided_at"]) if row["decided_at"] else None,
    )


async def read_case(db: Database, case_id: str) -> Case:
    async with db.read() as tx:
        row = await tx.fetchone("SELECT * FROM cases WHERE id = ?", case_id)
    if not row:
        raise CoreError("not_found", "no such case", case=case_id)
    return case_from_row(row)


async def decision_effects(db: Database, case: Case) -> DecisionEffects:
    """What the decision of ``case`` did, from its receipt in the decision's audit record
    (for notices owed before they carried it); nothing for an undecided case."""
    if case.account_id is None or case.status in OPEN_CASE:
        return DecisionEffects()
    async with db.read() as tx:
        found = await tx.fetchall(
            "SELECT details FROM audit_log WHERE account_id = ? AND action = 'decide_case' AND details LIKE ?",
            case.account_id, f"%{case.id}%")
    for row in found:
        receipt = json.loads(row["details"]).get("receipt") or {}
        if receipt.get("case") == case.id and receipt.get("status") == case.status:
            return DecisionEffects.from_details(receipt)
    return DecisionEffects()
