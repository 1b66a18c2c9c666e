"""What the flows need from the core: the calls they make, and nothing else.

The engine (flows/engine.py) and the effect runner (flows/runner.py) are written against
``Core``; the subscription core (core/service.py) is one, and a test may pass a smaller
double. The database the engine keeps flows in is given to it apart, by the composition
root: the flows never reach into the core's.
"""

from __future__ import annotations

from typing import Any, Protocol

from core.clock import Clock
from core.plans import Catalog
from core.rules import CoreSettings
from core.views import (
    AccountView,
    CancelQuote,
    Case,
    Invoice,
    PlanChangeQuote,
    Receipt,
    ResumeQuote,
)
from storage.db import Tx


class Cases(Protocol):
    async def open_refund(self, account_id: str, invoice_id: str, reason: str, details: str | None, *,
                          key: str, discord_id: str | None = None, draft: bool = False) -> Case: ...

    async def open_help(self, discord_id: str, account_id: str | None, context: dict[str, Any], *,
                        key: str) -> Case: ...


class Core(Protocol):
    @property
    def catalog(self) -> Catalog: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> CoreSettings: ...

    @property
    def cases(self) -> Cases: ...

    async def account_for_discord(self, discord_id: str) -> AccountView | None: ...

    async def view_if_settled(self, tx: Tx, account_id: str) -> AccountView | None:
        """The account read in the caller's ``tx`` (the engine reads its flow in the same one);
        None when due work must be applied first (``snapshot``)."""

    async def snapshot(self, account_id: str) -> AccountView: ...

    async def invoices(self, account_id: str, limit: int = 10) -> list[Invoice]: ...

    async def quote_cancel(self, account_id: str, seen: AccountView | None = None) -> CancelQuote:
        """``seen``: the account as the engine read it for this press (settled): not read again."""

    async def cancel(self, account_id: str, reason: str, comment: str | None = None, *, key: str,
                     actor: str = "user") -> Receipt: ...

    async def quote_resume(self, account_id: str, plan: str | None = None,
                           seen: AccountView | None = None) -> ResumeQuote: ...

    async def resume(self, account_id: str, *, key: str, actor: str = "user") -> Receipt: ...

    async def quote_plan_change(self, account_id: str, plan: str, timing: str = "now") -> PlanChangeQuote: ...

    async def change_plan(self, account_id: str, plan: str, timing: str = "now", *, key: str,
                          quote: PlanChangeQuote | None = None, actor: str = "user") -> Receipt: ...

    async def cancel_scheduled_change(self, account_id: str, *, key: str, actor: str = "user") -> Receipt: ...

    async def buy_topup(self, account_id: str, bundle: str, *, key: str, actor: str = "user") -> Receipt: ...
