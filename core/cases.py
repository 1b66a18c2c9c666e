"""Cases for the moderators: refund requests (with the core's recommendation)
and "talk to a moderator" requests. A granted refund of a subscription charge
ends the subscription at once (its credits end; top-ups stay); a refund of a
top-up removes that purchase's unspent credits.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import billing, ledger, periods, refunds
from core.clock import from_ts, to_ts
from core.errors import CoreError
from core.views import Case, Receipt, Recommendation

if TYPE_CHECKING:
    from core.service import SubscriptionCore

MAX_DETAILS = 1000


def _case(row: dict) -> Case:
    rec = json.loads(row["recommendation"]) if row["recommendation"] else None
    return Case(
        id=row["id"], kind=row["kind"], status=row["status"], account_id=row["account_id"], discord_id=row["discord_id"],
        invoice_id=row["invoice_id"], reason=row["reason"], details=row["details"],
        context=json.loads(row["context"] or "{}"),
        recommendation=Recommendation(**rec) if rec else None, decided_by=row["decided_by"],
        decision_reason=row["decision_reason"], created_at=from_ts(row["created_at"]),
        decided_at=from_ts(row["decided_at"]) if row["decided_at"] else None,
    )


class CaseDesk:
    def __init__(self, core: SubscriptionCore) -> None:
        self.core = core

    async def get(self, case_id: str) -> Case:
        async with self.core.db.read() as tx:
            row = await tx.fetchone("SELECT * FROM cases WHERE id = ?", case_id)
        if not row:
            raise CoreError("not_found", "no such case", case=case_id)
        return _case(row)

    async def list(self, status: str = "open", limit: int = 25) -> list[Case]:
        async with self.core.db.read() as tx:
            found = await tx.fetchall("SELECT * FROM cases WHERE status = ? ORDER BY created_at, id LIMIT ?", status, limit)
        return [_case(r) for r in found]

    async def open_refund(self, account_id: str, invoice_id: str, reason: str, details: str | None, *,
                          key: str, discord_id: str | None = None, draft: bool = False) -> Case:
        """A refund case for one charge, with the recommendation; one open case per charge."""
        if reason not in refunds.REASONS:
            raise CoreError("invalid", f"unknown refund reason {reason!r}")
        details = (details or "").strip() or None
        if details and len(details) > MAX_DETAILS:
            raise CoreError("invalid", f"the details are longer than {MAX_DETAILS} characters", limit=MAX_DETAILS)

        async def body(tx, account: dict, now: datetime) -> Receipt:
            invoice = await tx.fetchone("SELECT * FROM invoices WHERE id = ? AND account_id = ?", invoice_id, account_id)
            if not invoice:
                raise CoreError("not_found", "no such charge on this account", invoice=invoice_id)
            if invoice["kind"] == "refund" or invoice["amount"] <= 0:
                raise CoreError("not_refundable", "this entry is not a charge that can be refunded")
            if await tx.fetchone("SELECT id FROM invoices WHERE refunds_invoice_id = ?", invoice_id):
                raise CoreError("not_refundable", "this charge was already refunded")
            existing = await tx.fetchone(
                "SELECT id FROM cases WHERE invoice_id = ? AND kind = 'refund' AND status IN ('draft', 'open')", invoice_id)
            if existing:
                raise CoreError("case_open", "a refund case for this charge is already open", case=existing["id"])
            rec = await refunds.recommend(tx, invoice, reason, to_ts(now))
            case_id = ledger.new_id()
            await tx.execute(
                "INSERT INTO cases (id, kind, status, account_id, discord_id, invoice_id, reason, details, context, "
                "recommendation, grounds, created_at) VALUES (?, 'refund', ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?)",
                case_id, "draft" if draft else "open", account_id, discord_id, invoice_id, reason, details,
                json.dumps(rec.__dict__, default=str), rec.grounds, to_ts(now),
            )
            return Receipt("open_refund", account_id, now, await self.core._plan_id(tx, account_id), details={"case": case_id})

        receipt = await self.core._change("open_refund", account_id, key, f"discord:{discord_id}" if discord_id else "user",
                                          {"invoice": invoice_id, "reason": reason, "details": details, "draft": draft}, body)
        return await self.get(receipt.details["case"])

    async def submit_draft(self, case_id: str, *, key: str) -> Case:
        case = await self.get(case_id)

        async def body(tx, account: dict, now: datetime) -> Receipt:
            changed = await tx.execute("UPDATE cases SET status = 'open' WHERE id = ? AND status = 'draft'", case_id)
            return Receipt("submit_case", case.account_id, now, await self.core._plan_id(tx, case.account_id),
                           details={"case": case_id, "changed": changed})

        await self.core._change("submit_case", case.account_id, key, "user", {"case": case_id}, body)
        return await self.get(case_id)

    async def open_help(self, discord_id: str, account_id: str | None, context: dict[str, Any], *, key: str) -> Case:
        """A "talk to a moderator" request with the flow's context."""
        # A double click landing on two processes: the loser's unique violation
        # on the key re-runs this, which then finds the winner's case.
        async def attempt(tx) -> str:
            prior = await tx.fetchone("SELECT result FROM idempotency_keys WHERE key = ?", key)
            if prior:
                return json.loads(prior["result"])["case"]
            now = self.core.clock.now()
            case_id = ledger.new_id()
            await tx.execute(
                "INSERT INTO cases (id, kind, status, account_id, discord_id, context, created_at) "
                "VALUES (?, 'help', 'open', ?, ?, ?, ?)",
                case_id, account_id, str(discord_id), json.dumps(context, default=str, sort_keys=True), to_ts(now),
            )
            await tx.execute(
                "INSERT INTO idempotency_keys (key, operation, request_hash, result, created_at) VALUES (?, 'open_help', '', ?, ?)",
                key, json.dumps({"case": case_id}), to_ts(now),
            )
            from core.service import write_audit

            await write_audit(tx, account_id, f"discord:{discord_id}", "open_help", now, None, key, case=case_id)
            return case_id

        case_id = await self.core.db.run_in_transaction(attempt)
        return await self.get(case_id)

    async def decide(self, case_id: str, approve: bool, *, key: str, actor: str, reason: str) -> Case:
        """Approve (refund through the payment port, with its effects) or deny, with a reason."""
        if not (reason or "").strip():
            raise CoreError("invalid", "a reason is required")
        case = await self.get(case_id)
        if case.account_id is None:
            return await self._close_help(case, key=key, actor=actor, reason=reason)

        async def body(tx, account: dict, now: datetime) -> Receipt:
            row = await tx.fetchone("SELECT * FROM cases WHERE id = ?", case_id)
            if row["status"] not in ("open", "draft"):
                raise CoreError("case_decided", f"this case was already {row['status']}", status=row["status"])
            effects: dict[str, Any] = {}
            status = "closed" if row["kind"] != "refund" else ("approved" if approve else "denied")
            if row["kind"] == "refund" and approve:
                effects = await self._grant_refund(tx, row, now, key)
            await tx.execute(
                "UPDATE cases SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ? WHERE id = ?",
                status, actor, reason, to_ts(now), case_id,
            )
            return Receipt("decide_case", row["account_id"], now, await self.core._plan_id(tx, row["account_id"]),
                           details={"case": case_id, "status": status, **effects})

        await self.core._change("decide_case", case.account_id, key, actor, {"case": case_id, "approve": approve}, body, reason)
        return await self.get(case_id)

    async def _close_help(self, case: Case, *, key: str, actor: str, reason: str) -> Case:
        async with self.core.db.transaction() as tx:
            now = self.core.clock.now()
            changed = await tx.execute(
                "UPDATE cases SET status = 'closed', decided_by = ?, decision_reason = ?, decided_at = ? "
                "WHERE id = ? AND status = 'open'", actor, reason, to_ts(now), case.id,
            )
            if changed:
                from core.service import write_audit

                await write_audit(tx, None, actor, "close_case", now, reason, key, case=case.id)
        return await self.get(case.id)

    async def _grant_refund(self, tx, case: dict, now: datetime, key: str) -> dict[str, Any]:
        invoice = await tx.fetchone("SELECT * FROM invoices WHERE id = ?", case["invoice_id"])
        refund_invoice = await billing.refund(tx, self.core.payments, invoice, f"refund:{key}", now)
        effects: dict[str, Any] = {"refund_invoice": refund_invoice, "amount": invoice["amount"], "currency": invoice["currency"]}
        if await self._paid_twice(tx, invoice):
            # A duplicate charge: its twin still pays for the same period or bundle,
            # so returning the extra money takes nothing away.
            effects["duplicate"] = True
        elif invoice["kind"] == "topup" and invoice["bucket_id"]:
            effects["credits_removed"] = await ledger.close_bucket(tx, invoice["account_id"], invoice["bucket_id"], "void", now, "refund")
        elif invoice["subscription_id"]:
            sub = await tx.fetchone("SELECT * FROM subscriptions WHERE id = ?", invoice["subscription_id"])
            if sub and sub["status"] != "ended":
                await periods.end_subscription(tx, sub, now, "refunded")
                effects["subscription_ended"] = True
        return effects

    @staticmethod
    async def _paid_twice(tx, invoice: dict) -> bool:
        """Another, unrefunded charge identical to this one (a provider's double charge)."""
        twins = await tx.fetchall(
            "SELECT t.subscription_id, t.bucket_id, t.period_start FROM invoices t "
            "WHERE t.account_id = ? AND t.id <> ? AND t.kind = ? AND t.amount = ? AND t.created_at = ? "
            "AND NOT EXISTS (SELECT 1 FROM invoices r WHERE r.refunds_invoice_id = t.id)",
            invoice["account_id"], invoice["id"], invoice["kind"], invoice["amount"], invoice["created_at"],
        )
        same = (invoice["subscription_id"], invoice["bucket_id"], invoice["period_start"])
        return any((t["subscription_id"], t["bucket_id"], t["period_start"]) == same for t in twins)

    async def stats(self, since: datetime) -> dict[str, Any]:
        async with self.core.db.read() as tx:
            open_cases = (await tx.fetchone("SELECT COUNT(*) AS n FROM cases WHERE status IN ('open')"))["n"]
            cancels = (await tx.fetchone(
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cancel' AND created_at >= ?", to_ts(since)))["n"]
            saves = (await tx.fetchone(
                "SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('resume', 'save_offer_accepted') AND created_at >= ?", to_ts(since)))["n"]
            refunded = await tx.fetchone(
                "SELECT COUNT(*) AS n, COALESCE(-SUM(amount), 0) AS total FROM invoices WHERE kind = 'refund' AND created_at >= ?",
                to_ts(since))
        return {"open_cases": open_cases, "cancellations": cancels, "saves": saves,
                "refunds": refunded["n"], "refunded_minor": refunded["total"], "currency": self.core.catalog.currency}
