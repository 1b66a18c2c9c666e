"""Two-phase payments: no state change without a charge, no charge without a state change.

The provider is never called inside a database transaction. A transaction that needs
money raises ``ChargeNeeded`` at the point of the charge and is rolled back; then

  1. a ``payment_attempts`` row (status ``pending``) is committed on its own,
  2. the provider is asked to charge, with the attempt's key (its idempotency key),
  3. the transaction runs again from the start; this time the charge point finds the
     provider's answer and, in the SAME transaction as the state change, writes the
     invoice and marks the attempt ``completed`` (or raises the decline).

A crash between 1 and 3 leaves the attempt ``pending``: ``recover`` (called by the
composition root at start) settles it: a renewal is completed by settling its account
again (same key: the provider returns the same charge); any other charge the provider
holds without its state change is refunded (``refunded``); one it never took is
``failed``. A charge whose transaction was refused after all (the account changed in
between) is settled the same way at once. The state change itself stays one
transaction: a kill at any moment leaves either both the invoice and the completed
attempt, or neither.

Refunds a moderator approves (core/cases.py) are two-phase the same way, with one
attempt per case (key ``refund:<case>``, also the provider's idempotency key, so the
case is refunded once however often it is asked): the attempt is committed with the
decision to make (in ``charge_ids``: the moderator's key, actor and reason), the provider
refunds outside any transaction (``refund``), then the decision and its effects commit
in one transaction that marks the attempt ``completed``. A definite no from the provider
marks it ``failed`` (the case stays open); one left ``pending`` is finished by ``recover``
(the provider asked again by the same key, then the decision).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import CoreError
from core.money import Money
from core.payments import Charge, PaymentProvider

if TYPE_CHECKING:
    from core.service import SubscriptionCore
    from storage.db import Database, Tx

log = logging.getLogger(__name__)
T = TypeVar("T")

PROVIDER_TIMEOUT = 20.0  # seconds; a slower answer is "unknown": the attempt stays pending
IN_FLIGHT_POLL = 0.02  # seconds between looks at an attempt another press is making
MAX_ROUNDS = 200  # charges one transaction may need (a long clock jump renews once a period)
REVERSED = ("refunding", "refunded")

# The provider's answers for the keys of the operation in progress (see run_paid).
_decided: ContextVar[dict[str, Charge | CoreError] | None] = ContextVar("payment_decisions", default=None)


class ChargeNeeded(Exception):
    def __init__(self, key: str, account_id: str, amount: Money) -> None:
        super().__init__(key)
        self.key, self.account_id, self.amount = key, account_id, amount


def _now() -> int:
    return int(time.time())


async def take(tx: Tx, provider: PaymentProvider, account_id: str, amount: Money, key: str) -> tuple[str, ...]:
    """The charge ids for ``key`` inside the state change's transaction; the attempt completed with it."""
    decided = _decided.get()
    if decided is None:
        raise RuntimeError("a charge outside run_paid: wrap the transaction in core._tx")
    row = await tx.fetchone("SELECT status, charge_ids FROM payment_attempts WHERE key = ?", key)
    if row and row["status"] in REVERSED:
        raise CoreError("payment_failed", "this payment was interrupted and refunded; please start again")
    if row and row["status"] == "completed":
        return tuple(json.loads(row["charge_ids"]))
    outcome = decided.get(key)
    if outcome is None:
        raise ChargeNeeded(key, account_id, amount)
    if isinstance(outcome, CoreError):
        raise outcome
    await tx.execute(
        "UPDATE payment_attempts SET status = 'completed', charge_ids = ?, updated_at = ? WHERE key = ?",
        json.dumps(list(outcome.charge_ids)), _now(), key,
    )
    return outcome.charge_ids


async def run_paid(core: SubscriptionCore, fn: Callable[[Tx], Awaitable[T]],
                   charges: dict[str, Charge | CoreError] | None = None) -> T:
    """``db.run_in_transaction(fn)``, with every charge ``fn`` needs taken between runs.
    ``charges`` holds answers already taken by ``charge_ahead`` (the transaction then runs once)."""
    outer = _decided.get()
    if outer is not None:  # already inside an operation (recovery settling an account)
        return await core.db.run_in_transaction(fn)
    decided: dict[str, Charge | CoreError] = dict(charges or {})
    token = _decided.set(decided)
    try:
        for _ in range(MAX_ROUNDS):
            try:
                return await core.db.run_in_transaction(fn)
            except ChargeNeeded as need:
                outcome = await _charge(core.db, core.payments, need)
                if outcome is not None:
                    decided[need.key] = outcome
        raise CoreError("payment_failed", "too many charges in one change")
    finally:
        _decided.reset(token)
        taken = [k for k, v in decided.items() if isinstance(v, Charge)]
        if taken:
            await _settle_unfinished(core, taken)


async def charge_ahead(core: SubscriptionCore, account_id: str, amount: Money, key: str) -> dict[str, Charge | CoreError]:
    """Take a charge whose key is known before its transaction (a due renewal), through the
    same committed attempt; pass the result to ``run_paid`` so the transaction runs once. A
    charge whose transaction then does not record it is settled as any other (``_settle_unfinished``)."""
    outcome = await _charge(core.db, core.payments, ChargeNeeded(key, account_id, amount))
    return {} if outcome is None else {key: outcome}


async def _charge(db: Database, provider: PaymentProvider, need: ChargeNeeded) -> Charge | CoreError | None:
    """Commit the attempt, then ask the provider. None: another process was charging the same
    key at that moment and has finished: run the transaction again (it then replays)."""
    for _ in range(int(PROVIDER_TIMEOUT / IN_FLIGHT_POLL) + 1):
        async with db.transaction() as tx:
            mine = await tx.execute(
                "INSERT INTO payment_attempts (key, account_id, amount, currency, status, started_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO UPDATE SET status = 'pending', "
                "started_at = excluded.started_at, updated_at = excluded.updated_at WHERE payment_attempts.status = 'failed'",
                need.key, need.account_id, need.amount.minor, need.amount.currency, _now(), _now(),
            )
            row = await tx.fetchone("SELECT status, started_at FROM payment_attempts WHERE key = ?", need.key)
        if mine or row["status"] in REVERSED or row["status"] == "completed":
            break
        if _now() - row["started_at"] > PROVIDER_TIMEOUT:
            break  # left by a process that died: the provider, asked with the same key, tells
        await asyncio.sleep(IN_FLIGHT_POLL)  # a press of the same confirm, in flight elsewhere
    if row["status"] in REVERSED:
        return CoreError("payment_failed", "this payment was interrupted and refunded; please start again")
    if row["status"] == "completed" or (not mine and row["status"] != "pending"):
        return None
    try:
        return await asyncio.wait_for(provider.charge(need.account_id, need.amount, need.key), PROVIDER_TIMEOUT)
    except CoreError as refused:  # the provider's definite no: nothing was taken
        async with db.transaction() as tx:
            await tx.execute("UPDATE payment_attempts SET status = 'failed', updated_at = ? WHERE key = ? AND status = 'pending'",
                             _now(), need.key)
        return refused
    except Exception:  # timeout, connection lost: the provider may or may not have charged
        log.warning("payment %s: no answer from the provider; left pending for recovery", need.key, exc_info=True)
        # No longer in flight: a second press goes straight to the provider (same key, so the
        # charge it may have taken is returned, not taken again), and recovery may settle it.
        async with db.transaction() as tx:
            await tx.execute("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending'", need.key)
        return CoreError("payment_failed", "the payment provider did not answer; nothing was changed")


async def _settle_unfinished(core: SubscriptionCore, keys: list[str]) -> None:
    """Charges taken in this operation whose state change did not commit (the operation was
    refused after the charge, or failed). A renewal stays pending, released: its period end is
    still due, and the next settle of the account (any read, the sweep) records it by the same
    key. Any other charge is refunded now."""
    try:
        async with core.db.read() as tx:
            rows = [await tx.fetchone("SELECT * FROM payment_attempts WHERE key = ?", k) for k in keys]
        stuck = [r for r in rows if r and r["status"] == "pending"]
        renewals = [r["key"] for r in stuck if _is_renewal(r["key"])]
        for key in renewals:
            async with core.db.transaction() as tx:
                await tx.execute("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending'", key)
        others = [r for r in stuck if not _is_renewal(r["key"])]
        if others:
            await recover(core, others)
    except Exception:
        log.exception("could not settle unfinished payments %s; recover_payments() will", keys)


def _is_renewal(key: str) -> bool:
    return key.startswith(("renew", "retry"))


def refund_key(case_id: str) -> str:
    """A case's refund attempt and the provider's idempotency key for its refund: one per case."""
    return f"refund:{case_id}"


def _is_refund(key: str) -> bool:
    return key.startswith("refund:")


async def refund(db: Database, provider: PaymentProvider, key: str, charge_id: str, amount: Money, token: int) -> str:
    """The provider's refund for a committed refund attempt, outside any transaction; its refund id.
    ``token``: the attempt's started_at as claimed, so a late answer never touches another's claim."""
    try:
        return await asyncio.wait_for(provider.refund(charge_id, amount, key), PROVIDER_TIMEOUT)
    except CoreError as refused:  # the provider's definite no: nothing was refunded
        async with db.transaction() as tx:
            await tx.execute("UPDATE payment_attempts SET status = 'failed', updated_at = ? "
                             "WHERE key = ? AND status = 'pending' AND started_at = ?", _now(), key, token)
        raise CoreError("payment_failed", f"the payment provider refused the refund ({refused.message}); "
                        "nothing was refunded and the case is still open") from refused
    except Exception as lost:  # timeout, connection lost: it may or may not have refunded
        log.warning("refund %s: no answer from the provider; left pending for recovery", key, exc_info=True)
        await release(db, key, token)
        raise CoreError("payment_failed", "the payment provider did not answer; the case is still open and "
                        "the refund will be completed automatically") from lost


async def release(db: Database, key: str, token: int) -> None:
    """No longer in flight: a second press, or recover() at once, may finish it (same key)."""
    async with db.transaction() as tx:
        await tx.execute("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending' AND started_at = ?",
                         key, token)


async def recover(core: SubscriptionCore, attempts: list[dict[str, Any]]) -> dict[str, int]:
    """Settle pending attempts: renewals by settling their account, approved refunds by finishing
    them (core/cases.py), the rest by asking the provider."""
    done = {"completed": 0, "refunded": 0, "failed": 0}
    for row in attempts:
        key = row["key"]
        if _is_refund(key):  # an approved refund left between its phases: finish it
            outcome = await core.cases.resume_refund(row)
            if outcome:
                done[outcome] += 1
            continue
        if _is_renewal(key):
            async with core.db.transaction() as tx:  # orphaned: not in flight any more (see _charge)
                await tx.execute("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending'", key)
            try:
                await core.snapshot(row["account_id"])  # settles due periods: takes this charge by its key
            except CoreError:
                pass
        async with core.db.read() as tx:
            now_row = await tx.fetchone("SELECT status FROM payment_attempts WHERE key = ?", key)
        if now_row["status"] == "completed":
            done["completed"] += 1
            continue
        if now_row["status"] not in ("pending", "refunding"):
            continue
        charge = await core.payments.find_charge(key)
        if charge is None:
            async with core.db.transaction() as tx:
                await tx.execute("UPDATE payment_attempts SET status = 'failed', updated_at = ? WHERE key = ? AND status = 'pending'",
                                 _now(), key)
            done["failed"] += 1
            continue
        async with core.db.transaction() as tx:
            claimed = await tx.execute(
                "UPDATE payment_attempts SET status = 'refunding', charge_ids = ?, updated_at = ? "
                "WHERE key = ? AND status IN ('pending', 'refunding')",
                json.dumps(list(charge.charge_ids)), _now(), key)
        if not claimed:
            continue
        amount = Money(row["currency"], row["amount"])
        for n, charge_id in enumerate(charge.charge_ids):
            await core.payments.refund(charge_id, amount, f"recover:{key}" + (f":{n}" if n else ""))
        async with core.db.transaction() as tx:
            await tx.execute("UPDATE payment_attempts SET status = 'refunded', updated_at = ? WHERE key = ?", _now(), key)
        log.warning("payment %s: charged without its change (interrupted); refunded", key)
        done["refunded"] += 1
    return done
