"""Two-phase payments: no state change without a charge, no charge without a state change.

The provider is never called inside a database transaction. A transaction that needs
money raises ``ChargeNeeded`` at the point of the charge and is rolled back; then

  1. a ``payment_attempts`` row (status ``pending``) is committed on its own,
  2. the provider is asked to charge, with the attempt's key (its idempotency key),
  3. the transaction runs again from the start; this time the charge point finds the
     provider's answer and, in the SAME transaction as the state change, writes the
     invoice and marks the attempt ``completed`` (or raises the decline).

A crash between 1 and 3 leaves the attempt ``pending``: ``recover`` (core/recovery.py, called by the
composition root at start) settles it: a renewal is completed by settling its account
again (same key: the provider returns the same charge); any other charge the provider
holds without its state change is refunded (``refunded``); one it never took is
``failed``. A charge whose transaction was refused after all (the account changed in
between) is settled the same way at once. The state change itself stays one
transaction: a kill at any moment leaves either both the invoice and the completed
attempt, or neither.

A charge whose key and amount are known before its transaction (a due renewal, a top-up)
is taken ahead: the attempt committed, the provider asked, then the transaction runs once
with the answer (``charge_ahead``; ``charge_before`` for a command, whose attempt is one
statement committed only while the command's idempotency key is unused and no other
transaction holds the account: a replay, or a change that would wait for the lock, goes
the ordinary way, so a busy account is not charged).

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
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import CoreError
from core.money import Money
from core.payments import Charge, PaymentProvider
from storage.db import Database, Tx

log = logging.getLogger(__name__)
T = TypeVar("T")

PROVIDER_TIMEOUT = 20.0  # seconds; a slower answer is "unknown": the attempt stays pending
IN_FLIGHT_POLL = 0.02  # seconds between looks at an attempt another press is making
MAX_ROUNDS = 200  # charges one transaction may need (a long clock jump renews once a period)
REVERSED = ("refunding", "refunded")
UNREAD = object()  # take()'s caller has not read the attempt: take() reads it

# The attempt of a charge a transaction asked for; a failed one is taken over (a new try).
CLAIM = (
    "INSERT INTO payment_attempts (key, account_id, amount, currency, status, started_at, updated_at) "
    "VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO UPDATE SET status = 'pending', "
    "started_at = excluded.started_at, updated_at = excluded.updated_at WHERE payment_attempts.status = 'failed' "
    "RETURNING status"
)
# The attempt of a command's charge, before its transaction: only for a new request on an
# account no other transaction holds (parameters: the attempt's, then the command's key and account).
CLAIM_FOR_COMMAND = (
    "INSERT INTO payment_attempts (key, account_id, amount, currency, status, started_at, updated_at) "
    "SELECT ?, ?, CAST(? AS BIGINT), ?, 'pending', CAST(? AS BIGINT), CAST(? AS BIGINT) "
    "WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys WHERE key = ?) "
    "AND EXISTS (SELECT 1 FROM accounts WHERE id = ? FOR UPDATE SKIP LOCKED) "
    "ON CONFLICT (key) DO NOTHING RETURNING status"
)


@dataclass
class _Paying:
    """The operation in progress: the provider's answers by key, and the keys its last run recorded."""

    decided: dict[str, Charge | CoreError]
    recorded: set[str] = field(default_factory=set)


_paying: ContextVar[_Paying | None] = ContextVar("payments_in_progress", default=None)


class ChargeNeeded(Exception):
    def __init__(self, key: str, account_id: str, amount: Money) -> None:
        super().__init__(key)
        self.key, self.account_id, self.amount = key, account_id, amount


def _now() -> int:
    return int(time.time())


async def take(tx: Tx, account_id: str, amount: Money, key: str, attempt: Any = UNREAD) -> tuple[str, ...]:
    """The charge ids for ``key`` inside the state change's transaction; the attempt completed
    with it. ``attempt``: its row (status, charge_ids) or None, when the caller read it already."""
    paying = _paying.get()
    if paying is None:
        raise RuntimeError("a charge outside run_paid: run the transaction through UnitOfWork.paid")
    row = await tx.fetchone("SELECT status, charge_ids FROM payment_attempts WHERE key = ?", key) \
        if attempt is UNREAD else attempt
    if row and row["status"] in REVERSED:
        raise CoreError("payment_failed", "this payment was interrupted and refunded; please start again")
    if row and row["status"] == "completed":
        paying.recorded.add(key)
        return tuple(json.loads(row["charge_ids"]))
    outcome = paying.decided.get(key)
    if outcome is None:
        raise ChargeNeeded(key, account_id, amount)
    if isinstance(outcome, CoreError):
        raise outcome
    await tx.write(
        "UPDATE payment_attempts SET status = 'completed', charge_ids = ?, updated_at = ? WHERE key = ?",
        json.dumps(list(outcome.charge_ids)), _now(), key,
    )
    paying.recorded.add(key)
    return outcome.charge_ids


async def run_paid(db: Database, payments: PaymentProvider, fn: Callable[[Tx], Awaitable[T]],
                   charges: dict[str, Charge | CoreError] | None = None) -> T:
    """``db.run_in_transaction(fn)``, with every charge ``fn`` needs taken between runs.
    ``charges`` holds answers already taken (``charge_ahead``): the transaction then runs once."""
    if _paying.get() is not None:  # already inside an operation (recovery settling an account)
        return await db.run_in_transaction(fn)
    paying = _Paying(dict(charges or {}))
    token = _paying.set(paying)

    async def run(tx: Tx) -> T:
        paying.recorded.clear()  # what counts is the run that commits; earlier ones rolled back
        return await fn(tx)

    committed = False
    try:
        for _ in range(MAX_ROUNDS):
            try:
                result = await db.run_in_transaction(run)
            except ChargeNeeded as need:
                outcome = await _charge(db, payments, need)
                if outcome is not None:
                    paying.decided[need.key] = outcome
                continue
            committed = True
            return result
        raise CoreError("payment_failed", "too many charges in one change")
    finally:
        _paying.reset(token)
        unrecorded = [k for k, v in paying.decided.items()
                      if isinstance(v, Charge) and not (committed and k in paying.recorded)]
        if unrecorded:
            await _settle_unfinished(db, payments, unrecorded)


async def charge_ahead(db: Database, payments: PaymentProvider, account_id: str, amount: Money,
                       key: str) -> dict[str, Charge | CoreError]:
    """Take a charge whose key is known before its transaction (a due renewal), through the
    same committed attempt; pass the result to ``run_paid`` so the transaction runs once. A
    charge whose transaction then does not record it is settled as any other (``_settle_unfinished``)."""
    outcome = await _charge(db, payments, ChargeNeeded(key, account_id, amount))
    return {} if outcome is None else {key: outcome}


async def charge_before(db: Database, payments: PaymentProvider, account_id: str, amount: Money, key: str,
                        command_key: str) -> dict[str, Charge | CoreError]:
    """A command's charge taken ahead, its attempt committed in one statement; {} when the
    command's key is used already, the account is held by another transaction or the attempt
    exists: then the transaction takes the charge when it reaches it, as any other."""
    now = _now()
    claimed = await db.run_alone(CLAIM_FOR_COMMAND, key, account_id, amount.minor, amount.currency, now, now,
                                 command_key, account_id)
    if not claimed:
        return {}
    return {key: await _ask(db, payments, ChargeNeeded(key, account_id, amount))}


async def _charge(db: Database, payments: PaymentProvider, need: ChargeNeeded) -> Charge | CoreError | None:
    """Commit the attempt, then ask the provider. None: another process was charging the same
    key at that moment and has finished: run the transaction again (it then replays)."""
    for _ in range(int(PROVIDER_TIMEOUT / IN_FLIGHT_POLL) + 1):
        if await db.run_alone(CLAIM, need.key, need.account_id, need.amount.minor, need.amount.currency, _now(), _now()):
            return await _ask(db, payments, need)
        [row] = await db.run_alone("SELECT status, started_at FROM payment_attempts WHERE key = ?", need.key)
        if row["status"] in REVERSED:
            return CoreError("payment_failed", "this payment was interrupted and refunded; please start again")
        if row["status"] != "pending":
            return None
        if _now() - row["started_at"] > PROVIDER_TIMEOUT:
            break  # left by a process that died: the provider, asked with the same key, tells
        await asyncio.sleep(IN_FLIGHT_POLL)  # a press of the same confirm, in flight elsewhere
    return await _ask(db, payments, need)


async def _ask(db: Database, payments: PaymentProvider, need: ChargeNeeded) -> Charge | CoreError:
    """The provider's answer for a committed attempt; a definite no marks the attempt failed."""
    try:
        return await asyncio.wait_for(payments.charge(need.account_id, need.amount, need.key), PROVIDER_TIMEOUT)
    except CoreError as refused:  # the provider's definite no: nothing was taken
        await db.run_alone("UPDATE payment_attempts SET status = 'failed', updated_at = ? WHERE key = ? AND status = 'pending'",
                           _now(), need.key)
        return refused
    except Exception:  # timeout, connection lost: the provider may or may not have charged
        log.warning("payment %s: no answer from the provider; left pending for recovery", need.key, exc_info=True)
        # No longer in flight: a second press goes straight to the provider (same key, so the
        # charge it may have taken is returned, not taken again), and recovery may settle it.
        await db.run_alone("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending'", need.key)
        return CoreError("payment_failed", "the payment provider did not answer; nothing was changed")


async def _settle_unfinished(db: Database, payments: PaymentProvider, keys: list[str]) -> None:
    """Charges taken in this operation whose state change did not commit (the operation was
    refused after the charge, or failed). A renewal stays pending, released: its period end is
    still due, and the next settle of the account (any read, the sweep) records it by the same
    key. Any other charge is refunded now."""
    try:
        async with db.read() as tx:
            rows = [await tx.fetchone("SELECT * FROM payment_attempts WHERE key = ?", k) for k in keys]
        for row in (r for r in rows if r and r["status"] == "pending"):
            if is_renewal(row["key"]):
                await db.run_alone("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending'",
                                   row["key"])
            else:
                await reverse(db, payments, row)
    except Exception:
        log.exception("could not settle unfinished payments %s; recover_payments() will", keys)


async def reverse(db: Database, payments: PaymentProvider, row: dict[str, Any]) -> str | None:
    """A charge's attempt left without its state change: 'completed' (it was recorded after
    all), 'failed' (the provider never took it), 'refunded', or None (settled elsewhere)."""
    key = row["key"]
    async with db.read() as tx:
        now_row = await tx.fetchone("SELECT status FROM payment_attempts WHERE key = ?", key)
    if now_row["status"] == "completed":
        return "completed"
    if now_row["status"] not in ("pending", "refunding"):
        return None
    charge = await payments.find_charge(key)
    if charge is None:
        await db.run_alone("UPDATE payment_attempts SET status = 'failed', updated_at = ? WHERE key = ? AND status = 'pending'",
                           _now(), key)
        return "failed"
    claimed = await db.run_alone(
        "UPDATE payment_attempts SET status = 'refunding', charge_ids = ?, updated_at = ? "
        "WHERE key = ? AND status IN ('pending', 'refunding') RETURNING key",
        json.dumps(list(charge.charge_ids)), _now(), key)
    if not claimed:
        return None
    amount = Money(row["currency"], row["amount"])
    for n, charge_id in enumerate(charge.charge_ids):
        await payments.refund(charge_id, amount, f"recover:{key}" + (f":{n}" if n else ""))
    await db.run_alone("UPDATE payment_attempts SET status = 'refunded', updated_at = ? WHERE key = ?", _now(), key)
    log.warning("payment %s: charged without its change (interrupted); refunded", key)
    return "refunded"


def is_renewal(key: str) -> bool:
    return key.startswith(("renew", "retry"))


def refund_key(case_id: str) -> str:
    """A case's refund attempt and the provider's idempotency key for its refund: one per case."""
    return f"refund:{case_id}"


def is_refund(key: str) -> bool:
    return key.startswith("refund:")


async def refund(db: Database, provider: PaymentProvider, key: str, charge_id: str, amount: Money, token: int) -> str:
    """The provider's refund for a committed refund attempt, outside any transaction; its refund id.
    ``token``: the attempt's started_at as claimed, so a late answer never touches another's claim."""
    try:
        return await asyncio.wait_for(provider.refund(charge_id, amount, key), PROVIDER_TIMEOUT)
    except CoreError as refused:  # the provider's definite no: nothing was refunded
        await db.run_alone("UPDATE payment_attempts SET status = 'failed', updated_at = ? "
                           "WHERE key = ? AND status = 'pending' AND started_at = ?", _now(), key, token)
        raise CoreError("payment_failed", f"the payment provider refused the refund ({refused.message}); "
                        "nothing was refunded and the case is still open") from refused
    except Exception as lost:  # timeout, connection lost: it may or may not have refunded
        log.warning("refund %s: no answer from the provider; left pending for recovery", key, exc_info=True)
        await release(db, key, token)
        raise CoreError("payment_failed", "the payment provider did not answer; the case is still open and "
                        "the refund will be completed automatically") from lost


async def release(db: Database, key: str, token: int) -> None:
    """No longer in flight: a second press, or recovery at once, may finish it (same key)."""
    await db.run_alone("UPDATE payment_attempts SET started_at = 0 WHERE key = ? AND status = 'pending' AND started_at = ?",
                       key, token)
