"""Credits: top-ups bought, credits spent by the product, a moderator's grant or removal.

A receipt's balance is counted from the balances the command read, plus what it added or
took (core/ledger.py keeps the buckets), so a confirm reads its account once.
"""

from __future__ import annotations

from core import billing, ledger
from core.account_state import daily_free
from core.errors import CoreError
from core.unit_of_work import Change, Command, UnitOfWork
from core.views import Receipt


def _whole(amount: object) -> bool:
    return isinstance(amount, int) and not isinstance(amount, bool)


class Credits:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work

    def _daily(self, change: Change) -> int:
        return daily_free(self.work.catalog, change.account, change.sub)

    async def buy_topup(self, account_id: str, bundle: str, *, key: str, actor: str = "user") -> Receipt:
        chosen = self.work.catalog.bundle(bundle)
        charge_key = f"topup:{key}"  # the charge's idempotency key at the provider, known before the transaction

        async def body(change: Change) -> Receipt:
            tx, now = change.tx, change.now
            bucket = await ledger.grant(tx, account_id, "topup", chosen.credits, charge_key, now, None)
            invoices = await billing.charge(tx, account_id, chosen.price, charge_key, now, kind="topup",
                                            bundle=chosen.id, bucket_id=bucket, attempt=change.state.attempt)
            before = change.state.balances.credits(self._daily(change))
            return Receipt("topup", account_id, now, change.state.plan, charged=chosen.price, credits=chosen.credits,
                           balance=before.total + chosen.credits, invoice_ids=tuple(invoices),
                           details={"bundle": chosen.id, "topup_balance": before.topup + chosen.credits})

        command = Command("topup", account_id, key, actor, {"bundle": bundle}, charge=(charge_key, chosen.price))
        return await self.work.run(command, body)

    async def spend_credits(self, account_id: str, amount: int, *, key: str, ref: str = "usage",
                            actor: str = "product") -> Receipt:
        if not _whole(amount) or amount <= 0:
            raise CoreError("invalid", "the amount of credits must be a whole number above zero", amount=amount)

        async def body(change: Change) -> Receipt:
            daily = self._daily(change)
            await ledger.ensure_free_bucket(change.tx, account_id, daily, change.now, change.state.balances.free_written)
            taken = await ledger.spend(change.tx, account_id, amount, change.now, ref)
            before = change.state.balances.credits(daily)
            return Receipt("spend", account_id, change.now, change.state.plan, credits=amount,
                           balance=before.total - amount, details={"taken": taken})

        return await self.work.run(Command("spend", account_id, key, actor, {"amount": amount, "ref": ref}), body)

    async def adjust_credits(self, account_id: str, delta: int, *, key: str, actor: str, reason: str) -> Receipt:
        """A moderator's grant (a never-expiring bucket) or removal (in spending order)."""
        if not _whole(delta) or delta == 0:
            raise CoreError("invalid", "the amount of credits must be a whole number other than zero", amount=delta)
        if not (reason or "").strip():
            raise CoreError("invalid", "a reason is required")

        async def body(change: Change) -> Receipt:
            tx, now = change.tx, change.now
            daily = self._daily(change)
            if delta > 0:
                await ledger.grant(tx, account_id, "topup", delta, f"grant:{key}", now, None, ref=f"moderator:{actor}")
            else:
                await ledger.ensure_free_bucket(tx, account_id, daily, now, change.state.balances.free_written)
                await ledger.spend(tx, account_id, -delta, now, f"moderator:{actor}")
            before = change.state.balances.credits(daily)
            return Receipt("adjust_credits", account_id, now, change.state.plan, credits=delta, balance=before.total + delta)

        return await self.work.run(Command("adjust_credits", account_id, key, actor, {"delta": delta}, reason), body)
