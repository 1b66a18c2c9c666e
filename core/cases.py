"""Cases for the moderators: refund requests (with the core's recommendation)
and "talk to a moderator" requests. A granted refund of a subscription charge
ends the subscription at once (its credits end; top-ups stay); a refund of a
top-up removes that purchase's unspent credits.

An approved refund is two-phase, as charges are (core/attempts.py): the refund
attempt is committed first, the provider refunds outside any transaction, then the
decision and its effects commit in one transaction with its audit record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import attempts, ledger, outbox, periods, refunds
from core.clock import from_ts, to_ts
from core.errors import CoreError
from core.money import Money
from core.views import Case, Receipt, Recommendation

if TYPE_CHECKING:
    from core.service import SubscriptionCore

MAX_DETAILS = 1000
OPEN = ("open", "draft")
log = logging.getLogger(__name__)


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
            if not draft:
                await _owe_post(tx, case_id)
            return Receipt("open_refund", account_id, now, await self.core._plan_id(tx, account_id), details={"case": case_id})

        receipt = await self.core._change("open_refund", account_id, key, f"discord:{discord_id}" if discord_id else "user",
                                          {"invoice": invoice_id, "reason": reason, "details": details, "draft": draft}, body)
        return await self.get(receipt.details["case"])

    async def submit_draft(self, case_id: str, *, key: str) -> Case:
        case = await self.get(case_id)

        async def body(tx, account: dict, now: datetime) -> Receipt:
            changed = await tx.execute("UPDATE cases SET status = 'open' WHERE id = ? AND status = 'draft'", case_id)
            if changed:
                await _owe_post(tx, case_id)
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
            await _owe_post(tx, case_id)
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
        if case.kind == "refund" and approve:
            return await self._approve_refund(case, key=key, actor=actor, reason=reason)

        async def body(tx, account: dict, now: datetime) -> Receipt:
            row = await tx.fetchone("SELECT * FROM cases WHERE id = ?", case_id)
            if row["status"] not in OPEN:
                raise CoreError("case_decided", f"this case was already {row['status']}", status=row["status"])
            attempt = await tx.fetchone("SELECT status FROM payment_attempts WHERE key = ?", attempts.refund_key(case_id))
            if attempt and attempt["status"] == "pending":
                # An approval is refunding it, or its answer was lost: the money may be back already.
                raise CoreError("case_decided", "this case is being refunded", status="refunding")
            status = "closed" if row["kind"] != "refund" else "denied"
            await tx.execute(
                "UPDATE cases SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ? WHERE id = ?",
                status, actor, reason, to_ts(now), case_id,
            )
            await _owe_decision(tx, row)
            return Receipt("decide_case", row["account_id"], now, await self.core._plan_id(tx, row["account_id"]),
                           details={"case": case_id, "status": status})

        await self.core._change("decide_case", case.account_id, key, actor, {"case": case_id, "approve": approve}, body, reason)
        return await self.get(case_id)

    # ----- an approved refund, in two phases (core/attempts.py) --------------------------------

    async def _approve_refund(self, case: Case, *, key: str, actor: str, reason: str) -> Case:
        """1. the refund attempt, with this decision, committed on its own; 2. the provider's
        refund, outside any transaction, by the case's key (so a double click or two moderators
        refund once); 3. the decision and its effects, one transaction with its audit record."""
        if not key or len(key) > 255:  # checked before anything is sent to the provider
            raise CoreError("invalid", "an idempotency key of 1 to 255 characters is required")
        decision = {"key": key, "actor": actor, "reason": reason}
        claim = await self._claim_refund(case, decision)
        if claim is not None:
            try:
                await self._refund_and_decide(case.id, decision, *claim)
            except CoreError as exc:
                if exc.code != "case_decided":
                    raise
        return await self._decided_by(case.id, key)

    async def _claim_refund(self, case: Case, decision: dict) -> tuple[str, Money, int] | None:
        """Phase 1: the attempt committed before the provider is asked: (charge id, amount, claim
        token). None: this very request was made already (a replay). While another approval of
        the case is at the provider, waits for it (then the case is decided, or it failed)."""
        from core.service import _request_hash

        request_hash = _request_hash("decide_case", {"account": case.account_id, "case": case.id, "approve": True})
        key = attempts.refund_key(case.id)

        async def claim(tx) -> tuple[str, Money, int] | None | bool:
            await tx.lock_account(case.account_id)  # a denial of the same case waits, then sees the attempt
            prior = await tx.fetchone("SELECT request_hash FROM idempotency_keys WHERE key = ?", decision["key"])
            if prior:
                if prior["request_hash"] != request_hash:
                    raise CoreError("idempotency_mismatch", "this key was used for a different request", key=decision["key"])
                return None
            row = await tx.fetchone("SELECT status, invoice_id FROM cases WHERE id = ?", case.id)
            if row["status"] not in OPEN:
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
            claimed = await self.core.db.run_in_transaction(claim)
            if claimed is not False:
                return claimed
            await asyncio.sleep(attempts.IN_FLIGHT_POLL)
        raise CoreError("payment_failed", "another approval of this case is still at the payment provider")

    async def _refund_and_decide(self, case_id: str, decision: dict, charge_id: str, amount: Money, token: int) -> None:
        """Phases 2 and 3 for a claimed attempt; a refund that could not be recorded is released
        for the next press or recover_payments() to record (the provider refunds once per key)."""
        key = attempts.refund_key(case_id)
        refund_id = await attempts.refund(self.core.db, self.core.payments, key, charge_id, amount, token)
        try:
            await self._finish_refund(case_id, decision, refund_id)
        except Exception:
            try:
                await attempts.release(self.core.db, key, token)
            except Exception:
                log.exception("refund %s: could not release the attempt; recover_payments() will finish it", key)
            raise

    async def _finish_refund(self, case_id: str, decision: dict, refund_id: str) -> None:
        """Phase 3: the decision and its effects in one transaction, which completes the attempt;
        only while the attempt still carries this decision (else another approval took it over)."""
        async with self.core.db.read() as tx:
            account_id = (await tx.fetchone("SELECT account_id FROM cases WHERE id = ?", case_id))["account_id"]

        async def body(tx, account: dict, now: datetime) -> Receipt:
            attempt = await tx.fetchone("SELECT status, charge_ids FROM payment_attempts WHERE key = ?",
                                        attempts.refund_key(case_id))
            if not attempt or attempt["status"] != "pending" or json.loads(attempt["charge_ids"]) != decision:
                raise CoreError("case_decided", "another approval of this case is being made", status="refunding")
            row = await tx.fetchone("SELECT * FROM cases WHERE id = ?", case_id)
            if row["status"] not in OPEN:
                raise CoreError("case_decided", f"this case was already {row['status']}", status=row["status"])
            effects = await self._grant_refund(tx, row, now, refund_id)
            await tx.execute("UPDATE payment_attempts SET status = 'completed', updated_at = ? WHERE key = ?",
                             int(time.time()), attempts.refund_key(case_id))
            await tx.execute(
                "UPDATE cases SET status = 'approved', decided_by = ?, decision_reason = ?, decided_at = ? WHERE id = ?",
                decision["actor"], decision["reason"], to_ts(now), case_id,
            )
            await _owe_decision(tx, row)
            return Receipt("decide_case", account_id, now, await self.core._plan_id(tx, account_id),
                           details={"case": case_id, "status": "approved", **effects})

        await self.core._change("decide_case", account_id, decision["key"], decision["actor"],
                                {"case": case_id, "approve": True}, body, decision["reason"])

    async def _decided_by(self, case_id: str, key: str) -> Case:
        """The case, if the decision with ``key`` was made; else another decision came first."""
        async with self.core.db.read() as tx:
            mine = await tx.fetchone("SELECT key FROM idempotency_keys WHERE key = ?", key)
        case = await self.get(case_id)
        if mine:
            return case
        if case.status in OPEN:
            raise CoreError("case_decided", "another approval of this case is being made", status="refunding")
        raise CoreError("case_decided", f"this case was already {case.status}", status=case.status)

    async def resume_refund(self, attempt: dict) -> str | None:
        """recover_payments(): finish an approval a crash or a lost answer left between its phases:
        the provider asked again (same key: one refund), then the decision. 'completed', 'failed'
        (the provider refused: the case stays open) or None (left for the next recovery)."""
        key = attempt["key"]
        async with self.core.db.transaction() as tx:  # claimed, so two recoveries do not both finish it
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
            async with self.core.db.read() as tx:
                now_row = await tx.fetchone("SELECT status FROM payment_attempts WHERE key = ?", key)
            return "failed" if now_row["status"] == "failed" else None
        log.warning("refund %s: interrupted between its phases; completed by recovery", key)
        return "completed"

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
                await _owe_decision(tx, {"id": case.id, "kind": case.kind, "discord_id": case.discord_id})
        return await self.get(case.id)

    async def _grant_refund(self, tx, case: dict, now: datetime, refund_id: str) -> dict[str, Any]:
        invoice = await tx.fetchone("SELECT * FROM invoices WHERE id = ?", case["invoice_id"])
        refund_invoice = await refunds.record(tx, invoice, refund_id, now)
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


# The moderators' channel, as an outbox recipient: the bot knows which channel it is.
MODERATORS = "moderators"


async def _owe_post(tx, case_id: str) -> None:
    """A newly opened case is owed to the moderators' channel, in the transaction that opens it
    (core/outbox.py): posted by the bot's delivery loop, also after an outage or a restart."""
    await outbox.enqueue(tx, key=f"post:{case_id}", kind="case_post", recipient=MODERATORS,
                         payload={"case": case_id}, now=int(time.time()))


async def _owe_decision(tx, row: dict) -> None:
    """A decision owes its line in the moderators' log and, for a refund request, a DM to the
    user, in the decision's transaction; the bot renders both when it sends them (bot/cases.py)."""
    now = int(time.time())
    await outbox.enqueue(tx, key=f"log:{row['id']}", kind="case_decision_log", recipient=MODERATORS,
                         payload={"case": row["id"]}, now=now)
    if row["kind"] == "refund" and (row["discord_id"] or "").isdigit():
        await outbox.enqueue(tx, key=f"decision:{row['id']}", kind="refund_decision",
                             recipient=row["discord_id"], payload={"case": row["id"]}, now=now)
