"""An approved refund, in two phases, as charges are (core/attempts.py).

1. the refund attempt, with the decision to make, committed on its own; 2. the provider's
refund, outside any transaction, by the case's key (so a double click or two moderators
refund once); 3. the decision and its effects, one transaction with its audit record,
which completes the attempt. A granted refund of a subscription charge ends the
subscription at once (its credits end; top-ups stay); a refund of a top-up removes that
purchase's unspent credits; a refund of a duplicate charge takes nothing away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime

from core import attempts, idempotency, ledger, periods, refunds
from core.case_records import read_case
from core.clock import to_ts
from core.errors import CoreError
from core.money import Money
from core.notices import CaseNotices
from core.plans import FREE
from core.rules import OPEN_CASE
from core.unit_of_work import Change, Command, UnitOfWork
from core.views import Case, CaseDecision, DecisionEffects, Receipt
from storage.db import Tx

log = logging.getLogger(__name__)


class RefundApprovals:
    def __init__(self, work: UnitOfWork, notices: CaseNotices) -> None:
        self.work = work
        self.notices = notices

    async def approve(self, case: Case, *, key: str, actor: str, reason: str) -> CaseDecision:
        """The three phases for this request; the decision with ``key`` (made now or before)."""
        idempotency.check_key(key)  # before anything is sent to the provider
        decision = {"key": key, "actor": actor, "reason": reason}
        claim = await self._claim(case, decision)
        if claim is not None:
            try:
                await self._refund_and_decide(case.id, decision, *claim)
            except CoreError as exc:
                if exc.code != "case_decided":
                    raise
        return await self._decided_by(case.id, key)

    async def _claim(self, case: Case, decision: dict) -> tuple[str, Money, int] | None:
        """Phase 1: the attempt committed before the provider is asked: (charge id, amount, claim
        token). None: this very request was made already (a replay). While another approval of
        the case is at the provider, waits for it (then the case is decided, or it failed)."""
        hashed = idempotency.request_hash("decide_case", {"account": case.account_id, "case": case.id, "approve": True})
        key = attempts.refund_key(case.id)

        async def claim(tx: Tx) -> tuple[str, Money, int] | None | bool:
            await tx.lock_account(case.account_id)  # a denial of the same case waits, then sees the attempt
            if idempotency.replay(await idempotency.prior(tx, decision["key"]), hashed, decision["key"]) is not None:
                return None
            row = await tx.fetchone("SELECT status, invoice_id FROM cases WHERE id = ?", case.id)
            if row["status"] not in OPEN_CASE:
                raise CoreError("case_decided", f"this case was already {row['status']}", status=row["status"])
            invoice = await tx.fetchone("SELECT * FROM invoices WHERE id = ?", row["invoice_id"])
            if await tx.fetchone("SELECT id FROM invoices WHERE refunds_invoice_id = ?", invoice["id"]):
                raise CoreError("not_refundable", "this charge was already refunded")
            now = int(time.time())  # wall clock, as every attempt's started_at
            # Taken over only when it failed, or when its process went silent (released, or stale).
            mine = await tx.execute(
                "INSERT INTO payment_attempts (key, account_id, amount, currency, status, charge_ids, started_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (key) DO UPDATE SET status = 'pending', "
                "charge_ids = excluded.charge_ids, started_at = excluded.started_at, updated_at = excluded.updated_at "
                "WHERE payment_attempts.status = 'failed' "
                "OR (payment_attempts.status = 'pending' AND payment_attempts.started_at < ?)",
                key, case.account_id, invoice["amount"], invoice["currency"], json.dumps(decision, sort_keys=True),
                now, now, int(now - attempts.PROVIDER_TIMEOUT),
            )
            if not mine:
                return False  # in flight elsewhere
            return invoice["provider_charge_id"], Money(invoice["currency"], invoice["amount"]), now

        for _ in range(int(attempts.PROVIDER_TIMEOUT / attempts.IN_FLIGHT_POLL) + 2):
            claimed = await self.work.db.run_in_transaction(claim)
            if claimed is not False:
                return claimed
            await asyncio.sleep(attempts.IN_FLIGHT_POLL)
        raise CoreError("payment_failed", "another approval of this case is still at the payment provider")

    async def _refund_and_decide(self, case_id: str, decision: dict, charge_id: str, amount: Money, token: int) -> None:
        """Phases 2 and 3 for a claimed attempt; a refund that could not be recorded is released
        for the next press or recover_payments() to record (the provider refunds once per key)."""
        key = attempts.refund_key(case_id)
        refund_id = await attempts.refund(self.work.db, self.work.payments, key, charge_id, amount, token)
        try:
            await self._finish(case_id, decision, refund_id)
        except Exception:
            try:
                await attempts.release(self.work.db, key, token)
            except Exception:
                log.exception("refund %s: could not release the attempt; recover_payments() will finish it", key)
            raise

    async def _finish(self, case_id: str, decision: dict, refund_id: str) -> None:
        """Phase 3: the decision and its effects in one transaction, which completes the attempt;
        only while the attempt still carries this decision (else another approval took it over)."""
        async with self.work.db.read() as tx:
            account_id = (await tx.fetchone("SELECT account_id FROM cases WHERE id = ?", case_id))["account_id"]

        async def body(change: Change) -> Receipt:
            tx, now = change.tx, change.now
            attempt = await tx.fetchone("SELECT status, charge_ids FROM payment_attempts WHERE key = ?",
                                        attempts.refund_key(case_id))
            if not attempt or attempt["status"] != "pending" or json.loads(attempt["charge_ids"]) != decision:
                raise CoreError("case_decided", "another approval of this case is being made", status="refunding")
            row = await tx.fetchone("SELECT * FROM cases WHERE id = ?", case_id)
            if row["status"] not in OPEN_CASE:
                raise CoreError("case_decided", f"this case was already {row['status']}", status=row["status"])
            effects = await self._grant(tx, row, now, refund_id)
            await tx.write("UPDATE payment_attempts SET status = 'completed', updated_at = ? WHERE key = ?",
                           int(time.time()), attempts.refund_key(case_id))
            await tx.write(
                "UPDATE cases SET status = 'approved', decided_by = ?, decision_reason = ?, decided_at = ? WHERE id = ?",
                decision["actor"], decision["reason"], to_ts(now), case_id,
            )
            await self.notices.decided(tx, row, effects)
            plan = FREE if effects.subscription_ended else change.state.plan  # one live subscription at most
            return Receipt("decide_case", account_id, now, plan,
                           details={"case": case_id, "status": "approved", **effects.as_details()})

        command = Command("decide_case", account_id, decision["key"], decision["actor"],
                          {"case": case_id, "approve": True}, decision["reason"])
        await self.work.run(command, body)

    async def _grant(self, tx: Tx, case: dict, now: datetime, refund_id: str) -> DecisionEffects:
        invoice = await tx.fetchone("SELECT * FROM invoices WHERE id = ?", case["invoice_id"])
        refund_invoice = await refunds.record(tx, invoice, refund_id, now)
        refunded = Money(invoice["currency"], invoice["amount"])
        if await refunds.duplicate_of(tx, invoice):
            # A duplicate charge: its twin still pays for the same period or bundle,
            # so returning the extra money takes nothing away.
            return DecisionEffects(refund_invoice, refunded, duplicate=True)
        if invoice["kind"] == "topup" and invoice["bucket_id"]:
            removed = await ledger.close_bucket(tx, invoice["account_id"], invoice["bucket_id"], "void", now, "refund")
            return DecisionEffects(refund_invoice, refunded, credits_removed=removed)
        if invoice["subscription_id"]:
            sub = await tx.fetchone("SELECT * FROM subscriptions WHERE id = ?", invoice["subscription_id"])
            if sub and sub["status"] != "ended":
                await periods.end_subscription(tx, sub, now, "refunded")
                return DecisionEffects(refund_invoice, refunded, subscription_ended=True)
        return DecisionEffects(refund_invoice, refunded)

    async def _decided_by(self, case_id: str, key: str) -> CaseDecision:
        """The decision with ``key``, if it was made; else another decision came first."""
        async with self.work.db.read() as tx:
            mine = await idempotency.prior(tx, key)
        case = await read_case(self.work.db, case_id)
        if mine:
            return CaseDecision(case, DecisionEffects.from_details(Receipt.from_json(mine["result"]).details))
        if case.status in OPEN_CASE:
            raise CoreError("case_decided", "another approval of this case is being made", status="refunding")
        raise CoreError("case_decided", f"this case was already {case.status}", status=case.status)

    async def resume(self, attempt: dict) -> str | None:
        """recover_payments(): finish an approval a crash or a lost answer left between its phases:
        the provider asked again (same key: one refund), then the decision. 'completed', 'failed'
        (the provider refused: the case stays open) or None (left for the next recovery)."""
        key = attempt["key"]
        async with self.work.db.transaction() as tx:  # claimed, so two recoveries do not both finish it
            token = int(time.time())
            mine = await tx.execute("UPDATE payment_attempts SET started_at = ? WHERE key = ? AND status = 'pending' "
                                    "AND started_at = ?", token, key, attempt["started_at"])
            case = await tx.fetchone("SELECT c.id, i.provider_charge_id FROM cases c JOIN invoices i ON i.id = c.invoice_id "
                                     "WHERE c.id = ?", key.removeprefix("refund:"))
        if not mine or case is None:
            return None
        amount = Money(attempt["currency"], attempt["amount"])
        try:
            await self._refund_and_decide(case["id"], json.loads(attempt["charge_ids"]), case["provider_charge_id"],
                                          amount, token)
        except CoreError as exc:
            log.warning("refund %s: not finished by recovery: %s", key, exc.message)
            async with self.work.db.read() as tx:
                now_row = await tx.fetchone("SELECT status FROM payment_attempts WHERE key = ?", key)
            return "failed" if now_row["status"] == "failed" else None
        log.warning("refund %s: interrupted between its phases; completed by recovery", key)
        return "completed"
