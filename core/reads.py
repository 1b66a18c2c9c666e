"""Reads: an account as of now, its invoices and audit trail.

A read applies what fell due first (a late sweep never extends access): most reads find
nothing due and take no write lock, one statement in a read transaction
(core/account_state.py); the rest settle the account in a write transaction and read it there.
"""

from __future__ import annotations

from typing import Any

from core import account_state, audit, billing
from core.account_state import AccountState
from core.unit_of_work import UnitOfWork
from core.views import AccountView, Invoice
from storage.db import Tx


class Reads:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work

    async def snapshot(self, account_id: str) -> AccountView:
        """The account as of now, with due period-end effects applied first."""
        return account_state.view(await self.settled_state(account_id), self.work.catalog)

    async def settled_state(self, account_id: str) -> AccountState:
        """The account as loaded for a command, with due period-end effects applied first."""
        now = self.work.clock.now()
        async with self.work.db.read() as tx:
            state = await account_state.load(tx, account_id, now)
        return state if state.settled(now) else await self._settle(account_id)

    async def view_if_settled(self, tx: Tx, account_id: str) -> AccountView | None:
        """The account as of now, read in ``tx``; None when period-end effects or lapsed credits
        are due, which only a write transaction may apply (``snapshot`` does). Most reads find
        nothing due, so they take no write lock."""
        now = self.work.clock.now()
        state = await account_state.load(tx, account_id, now)
        return account_state.view(state, self.work.catalog) if state.settled(now) else None

    async def _settle(self, account_id: str) -> AccountState:
        async def attempt(tx: Tx) -> AccountState:
            state, now = await self.work.locked(tx, account_id)
            return await self.work.settled(tx, state, now)

        return await self.work.paid(attempt)

    async def find_account(self, ref: str) -> AccountView | None:
        """By email, Discord user id or account id."""
        ref = (ref or "").strip()
        async with self.work.db.read() as tx:
            row = await tx.fetchone(
                "SELECT id FROM accounts WHERE email = ? OR discord_id = ? OR id = ?", ref.lower(), ref, ref,
            )
        return await self.snapshot(row["id"]) if row else None

    async def account_for_discord(self, discord_id: str) -> AccountView | None:
        async with self.work.db.read() as tx:
            row = await tx.fetchone("SELECT id FROM accounts WHERE discord_id = ?", str(discord_id))
            view = await self.view_if_settled(tx, row["id"]) if row else None
        if row and view is None:
            view = account_state.view(await self._settle(row["id"]), self.work.catalog)
        return view

    async def invoices(self, account_id: str, limit: int = 10) -> list[Invoice]:
        await self.snapshot(account_id)  # a renewal that fell due is charged before it is listed
        async with self.work.db.read() as tx:
            found = await tx.fetchall(
                "SELECT * FROM invoices WHERE account_id = ? ORDER BY created_at DESC, id LIMIT ?", account_id, limit,
            )
        return [billing.invoice_view(r) for r in found]

    async def audit_trail(self, account_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return await audit.audit_trail(self.work.db, account_id, limit)
