"""Cases for the moderators: refund requests (with the core's recommendation)
and "talk to a moderator" requests. A granted refund of a subscription charge
ends the subscription at once (its credits end; top-ups stay); a refund of a
top-up removes that purchase's unspent credits.

An approved refund is two-phase, as charges are (core/attempts.py): the refund
attempt is committed first, the provider refunds outside any transaction, then the
decision and its effects commit in one transaction with its audit record
(core/refund_approvals.py). Opening and deciding a case owe their notices through
the hook the core was given (core/notices.py), in the same transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core import attempts, idempotency, ledger, refunds
from core.audit import write_audit
from core.case_records import case_from_row, decision_effects, read_case
from core.clock import to_ts
from core.errors import CoreError
from core.notices import MODERATORS, CaseNotices
from core.refund_approvals import RefundApprovals
from core.rules import MAX_DETAILS, OPEN_CASE
from core.unit_of_work import Change, Command, UnitOfWork
from core.views import Case, CaseDecision, DecisionEffects, Receipt
from storage.db import Tx

__all__ = ["MODERATORS", "CaseDesk"]  # MODERATORS: where the bot's delivery loop looks for it


class CaseDesk:
    def __init__(self, work: UnitOfWork, notices: CaseNotices) -> None:
        self.work = work
        self.notices = notices
        self.approvals = RefundApprovals(work, notices)

    async def get(self, case_id: str) -> Case:
        return await read_case(self.work.db, case_id)

    async def list(self, status: str = "open", limit: int = 25) -> list[Case]:
        async with self.work.db.read() as tx:
            found = await tx.fetchall("SELECT * FROM cases WHERE status = ? ORDER BY created_at, id LIMIT ?", status, limit)
        return [case_from_row(r) for r in found]

    async def decision_effects(self, case: Case) -> DecisionEffects:
        """What the decision of ``case`` did (nothing while it is undecided)."""
        return await decision_effects(self.work.db, case)

    async def open_refund(self, account_id: str, invoice_id: str, reason: str, details: str | None, *,
                          key: str, discord_id: str | None = None, draft: bool = False) -> Case:
        """A refund case for one charge, with the recommendation; one open case per charge."""
        if reason not in refunds.REASONS:
            raise CoreError("invalid", f"unknown refund reason {reason!r}")
        details = (details or "").strip() or None
        if details and len(details) > MAX_DETAILS:
            raise CoreError("invalid", f"the details are longer than {MAX_DETAILS} characters", limit=MAX_DETAILS)

        async def body(change: Change) -> Receipt:
            tx, now = change.tx, change.now
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
            await tx.write(
                "INSERT INTO cases (id, kind, status, account_id, discord_id, invoice_id, reason, details, context, "
                "recommendation, grounds, created_at) VALUES (?, 'refund', ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?)",
                case_id, "draft" if draft else "open", account_id, discord_id, invoice_id, reason, details,
                json.dumps(rec.__dict__, default=str), rec.grounds, to_ts(now),
            )
            if not draft:
                await self.notices.opened(tx, case_id)
            return Receipt("open_refund", account_id, now, change.state.plan, details={"case": case_id})

        actor = f"discord:{discord_id}" if discord_id else "user"
        params = {"invoice": invoice_id, "reason": reason, "details": details, "draft": draft}
        receipt = await self.work.run(Command("open_refund", account_id, key, actor, params), body)
        return await self.get(receipt.details["case"])

    async def submit_draft(self, case_id: str, *, key: str) -> Case:
        case = await self.get(case_id)

        async def body(change: Change) -> Receipt:
            changed = await change.tx.execute("UPDATE cases SET status = 'open' WHERE id = ? AND status = 'draft'", case_id)
            if changed:
                await self.notices.opened(change.tx, case_id)
            return Receipt("submit_case", case.account_id, change.now, change.state.plan,
                           details={"case": case_id, "changed": changed})

        await self.work.run(Command("submit_case", case.account_id, key, "user", {"case": case_id}), body)
        return await self.get(case_id)

    async def open_help(self, discord_id: str, account_id: str | None, context: dict[str, Any], *, key: str) -> Case:
        """A "talk to a moderator" request with the flow's context."""
        idempotency.check_key(key)
        hashed = idempotency.request_hash("open_help", {"discord": str(discord_id), "account": account_id,
                                                         "context": context})

        # A double click landing on two processes: the loser's unique violation
        # on the key re-runs this, which then finds the winner's case.
        async def attempt(tx: Tx) -> str:
            stored = idempotency.replay(await idempotency.prior(tx, key), hashed, key)
            if stored is not None:
                return json.loads(stored)["case"]
            now = self.work.clock.now()
            case_id = ledger.new_id()
            await tx.write(
                "INSERT INTO cases (id, kind, status, account_id, discord_id, context, created_at) "
                "VALUES (?, 'help', 'open', ?, ?, ?, ?)",
                case_id, account_id, str(discord_id), json.dumps(context, default=str, sort_keys=True), to_ts(now),
            )
            await self.notices.opened(tx, case_id)
            await idempotency.remember(tx, key, "open_help", hashed, json.dumps({"case": case_id}), now)
            await write_audit(tx, account_id, f"discord:{discord_id}", "open_help", now, None, key, case=case_id)
            return case_id

        case_id = await self.work.db.run_in_transaction(attempt)
        return await self.get(case_id)

    async def decide(self, case_id: str, approve: bool, *, key: str, actor: str, reason: str) -> CaseDecision:
        """Approve (refund through the payment port, with its effects) or deny, with a reason;
        the case as decided, and what the decision did."""
        if not (reason or "").strip():
            raise CoreError("invalid", "a reason is required")
        case = await self.get(case_id)
        if case.account_id is None:
            return await self._close_help(case, key=key, actor=actor, reason=reason)
        if case.kind == "refund" and approve:
            return await self.approvals.approve(case, key=key, actor=actor, reason=reason)

        async def body(change: Change) -> Receipt:
            tx, now = change.tx, change.now
            row = await tx.fetchone("SELECT * FROM cases WHERE id = ?", case_id)
            if row["status"] not in OPEN_CASE:
                raise CoreError("case_decided", f"this case was already {row['status']}", status=row["status"])
            attempt = await tx.fetchone("SELECT status FROM payment_attempts WHERE key = ?",
                                      attempts.refund_key(case_id))
            if attempt and attempt["status"] == "pending":
                # An approval is refunding it, or its answer was lost: the money may be back already.
                raise CoreError("case_decided", "this case is being refunded", status="refunding")
            status = "closed" if row["kind"] != "refund" else "denied"
            await tx.write(
                "UPDATE cases SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ? WHERE id = ?",
                status, actor, reason, to_ts(now), case_id,
            )
            await self.notices.decided(tx, row, DecisionEffects())
            return Receipt("decide_case", row["account_id"], now, change.state.plan,
                           details={"case": case_id, "status": status})

        command = Command("decide_case", case.account_id, key, actor, {"case": case_id, "approve": approve}, reason)
        await self.work.run(command, body)
        return CaseDecision(await self.get(case_id), DecisionEffects())

    async def resume_refund(self, attempt: dict) -> str | None:
        """recover_payments(): finish an approval left between its phases (core/refund_approvals.py)."""
        return await self.approvals.resume(attempt)

    async def _close_help(self, case: Case, *, key: str, actor: str, reason: str) -> CaseDecision:
        async with self.work.db.transaction() as tx:
            now = self.work.clock.now()
            changed = await tx.execute(
                "UPDATE cases SET status = 'closed', decided_by = ?, decision_reason = ?, decided_at = ? "
                "WHERE id = ? AND status = 'open'", actor, reason, to_ts(now), case.id,
            )
            if changed:
                await write_audit(tx, None, actor, "close_case", now, reason, key, case=case.id)
                await self.notices.decided(tx, {"id": case.id, "kind": case.kind, "discord_id": case.discord_id},
                                           DecisionEffects())
        return CaseDecision(await self.get(case.id), DecisionEffects())

    async def stats(self, since: datetime) -> dict[str, Any]:
        async with self.work.db.read() as tx:
            open_cases = (await tx.fetchone("SELECT COUNT(*) AS n FROM cases WHERE status IN ('open')"))["n"]
            cancels = (await tx.fetchone(
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cancel' AND created_at >= ?", to_ts(since)))["n"]
            saves = (await tx.fetchone(
                "SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('resume', 'save_offer_accepted') AND created_at >= ?",
                to_ts(since)))["n"]
            refunded = await tx.fetchone(
                "SELECT COUNT(*) AS n, COALESCE(-SUM(amount), 0) AS total FROM invoices WHERE kind = 'refund' AND created_at >= ?",
                to_ts(since))
        return {"open_cases": open_cases, "cancellations": cancels, "saves": saves,
                "refunds": refunded["n"], "refunded_minor": refunded["total"], "currency": self.work.catalog.currency}
