"""The unit of work: how every command changes an account.

A command runs in one transaction that may charge (core/attempts.py): the account is
locked and everything the command needs is read in one statement (core/account_state.py);
its idempotency key is checked (same key and request → the first receipt, nothing written;
same key, other request → ``idempotency_mismatch``, core/idempotency.py); due period-end
effects are applied first (core/periods.py; nothing is spent on it when nothing is due);
then the command's body makes the change, and its receipt is stored under the key with
the audit record. Refusals raise ``CoreError`` and write nothing.

``UnitOfWork`` also holds what every part of the core shares (database, catalog, clock,
payment provider, settings), so that swapping one (a test's provider) reaches them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from core import account_state, attempts, idempotency, periods
from core.account_state import AccountState
from core.audit import write_audit
from core.clock import Clock
from core.errors import CoreError
from core.money import Money
from core.payments import Charge, PaymentProvider
from core.plans import Catalog
from core.rules import CoreSettings
from core.views import Receipt
from storage.db import Database, Tx

T = TypeVar("T")


@dataclass(frozen=True)
class Command:
    operation: str
    account_id: str
    key: str
    actor: str
    params: dict[str, Any]  # what makes two requests the same (with the operation and the account)
    reason: str | None = None
    charge: tuple[str, Money] | None = None  # (key, amount) of a charge known before the transaction


@dataclass(frozen=True)
class Change:
    """What a command's body works with: the open transaction, the account as loaded and settled, now."""

    tx: Tx
    state: AccountState
    now: datetime

    @property
    def account(self) -> dict[str, Any]:
        return self.state.account

    @property
    def sub(self) -> dict[str, Any] | None:
        return self.state.sub


Body = Callable[[Change], Awaitable[Receipt]]


class UnitOfWork:
    def __init__(self, db: Database, catalog: Catalog, clock: Clock, payments: PaymentProvider,
                 settings: CoreSettings) -> None:
        self.db = db
        self.catalog = catalog
        self.clock = clock
        self.payments = payments
        self.settings = settings

    async def run(self, command: Command, body: Body) -> Receipt:
        """The command's receipt: made now, or the first one for its key."""
        idempotency.check_key(command.key)
        hashed = idempotency.request_hash(command.operation, {"account": command.account_id, **command.params})
        attempt_key, charges = None, None
        if command.charge:  # taken before the transaction, so that runs once (core/attempts.py)
            attempt_key, amount = command.charge
            charges = await attempts.charge_before(self.db, self.payments, command.account_id, amount, attempt_key,
                                                   command.key)

        async def attempt(tx: Tx) -> Receipt:
            state, now = await self.locked(tx, command.account_id, key=command.key, attempt_key=attempt_key)
            stored = idempotency.replay(state.prior, hashed, command.key)
            if stored is not None:
                return Receipt.from_json(stored)
            state = await self.settled(tx, state, now, key=command.key, attempt_key=attempt_key)
            receipt = await body(Change(tx, state, now))
            await idempotency.remember(tx, command.key, command.operation, hashed, receipt.to_json(), now)
            await write_audit(tx, command.account_id, command.actor, command.operation, now, command.reason, command.key,
                              request=command.params, receipt=receipt.details)
            await account_state.touch(tx, command.account_id)
            return receipt

        # Return what a replay returns (the stored form), so a double click gets equal receipts.
        return Receipt.from_json((await self.paid(attempt, charges)).to_json())

    async def paid(self, fn: Callable[[Tx], Awaitable[T]], charges: dict[str, Charge | CoreError] | None = None) -> T:
        """One transaction that may charge: the provider is called between its runs (core/attempts.py).
        ``charges``: provider answers already taken for keys the transaction will need."""
        return await attempts.run_paid(self.db, self.payments, fn, charges)

    async def locked(self, tx: Tx, account_id: str, *, key: str | None = None,
                     attempt_key: str | None = None) -> tuple[AccountState, datetime]:
        """The account locked and read in ``tx``, with the moment it was read at."""
        now = self.clock.now()
        state = await account_state.load(tx, account_id, now, key=key, attempt_key=attempt_key, lock=True)
        if state.stale:  # another change committed while we waited for the lock: read it
            now = self.clock.now()
            state = await account_state.load(tx, account_id, now, key=key, attempt_key=attempt_key, lock=True)
        return state, now

    async def settled(self, tx: Tx, state: AccountState, now: datetime, *, key: str | None = None,
                      attempt_key: str | None = None) -> AccountState:
        """The locked account with what fell due by ``now`` applied; as it is when nothing did."""
        if state.settled(now):
            return state
        await self.settle(tx, state.account["id"], now)
        return await account_state.load(tx, state.account["id"], now, key=key, attempt_key=attempt_key, lock=True)

    async def settle(self, tx: Tx, account_id: str, now: datetime) -> periods.SettleCounts:
        return await periods.settle(tx, self.catalog, account_id, now, self.settings.grace)
