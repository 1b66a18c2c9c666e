"""The subscription core's public API: reads, quotes and changes, in one place.

``SubscriptionCore`` delegates to the modules that do the work, each over the one unit of
work every change goes through (core/unit_of_work.py): one transaction, the account
locked, due period-end effects applied first, an idempotency key checked (same key and
request → the first receipt, nothing written; same key, other request →
``idempotency_mismatch``), then the change and its audit record. Refusals raise
``CoreError`` and write nothing. Quotes compute exactly what a confirm will do, without
changing anything, so a flow can show the numbers first.

    accounts        sign-up, Discord links, restriction reviews   core/accounts.py
    reads           snapshot, invoices, audit trail               core/reads.py
    subscriptions   cancel, resume                                core/subscriptions.py
    plan changes    subscribe, upgrade, downgrade                 core/plan_changes.py
    credits         top-ups, spending, a moderator's adjustment   core/credits.py
    cases           refund and help requests                      core/cases.py
    sweep           due work across accounts                      core/sweep.py
    privacy         what is kept about a Discord user, forgetting  core/privacy.py
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core import privacy, recovery
from core.accounts import Accounts
from core.cases import CaseDesk
from core.clock import Clock
from core.credits import Credits
from core.notices import CaseNotices, OutboxNotices
from core.payments import PaymentProvider
from core.plan_changes import PlanChanges
from core.plans import FREE, Catalog
from core.preferences import UserPreferences
from core.reads import Reads
from core.rules import CANCEL_REASONS, MAX_COMMENT, CoreSettings
from core.subscriptions import Subscriptions
from core.sweep import run_sweep
from core.unit_of_work import UnitOfWork
from core.views import (
    AccountView,
    CancelQuote,
    Invoice,
    PlanChangeQuote,
    Receipt,
    ResumeQuote,
    SweepReport,
)
from storage.db import Database, Tx

__all__ = ["CANCEL_REASONS", "MAX_COMMENT", "CoreSettings", "SubscriptionCore"]  # the rules, where callers found them


class SubscriptionCore:
    def __init__(self, db: Database, catalog: Catalog, clock: Clock, payments: PaymentProvider,
                 settings: CoreSettings | None = None, notices: CaseNotices | None = None) -> None:
        """``notices``: how opened and decided cases reach the moderators (core/notices.py; the outbox by default)."""
        self.work = UnitOfWork(db, catalog, clock, payments, settings or CoreSettings())
        self.reads = Reads(self.work)
        self.accounts = Accounts(self.work, self.reads)
        self.subscriptions = Subscriptions(self.work, self.reads)
        self.plan_changes = PlanChanges(self.work, self.reads)
        self.credits = Credits(self.work)
        self.cases = CaseDesk(self.work, notices or OutboxNotices())
        self.users = UserPreferences(db, clock)

    # What every part shares lives on the unit of work: a provider swapped here reaches them all.
    @property
    def db(self) -> Database:
        return self.work.db

    @property
    def catalog(self) -> Catalog:
        return self.work.catalog

    @property
    def clock(self) -> Clock:
        return self.work.clock

    @property
    def settings(self) -> CoreSettings:
        return self.work.settings

    @property
    def payments(self) -> PaymentProvider:
        return self.work.payments

    @payments.setter
    def payments(self, provider: PaymentProvider) -> None:
        self.work.payments = provider

    async def recover_payments(self, older_than: timedelta = timedelta(0)) -> dict[str, int]:
        """Settle payment attempts left pending (a crash, a provider that did not answer) that
        started more than ``older_than`` ago: completed, refunded or failed. Called at start."""
        pending = await recovery.pending(self.db, older_than)
        return await recovery.recover(self.db, self.payments, pending, finish_refund=self.cases.resume_refund,
                                      settle_account=self.snapshot)

    # ----- accounts and links ---------------------------------------------------

    async def create_account(self, email: str, *, key: str, device_id: str | None = None,
                             discord_id: str | None = None, plan: str = FREE, actor: str = "signup") -> AccountView:
        return await self.accounts.create_account(email, key=key, device_id=device_id, discord_id=discord_id,
                                                  plan=plan, actor=actor)

    async def find_account(self, ref: str) -> AccountView | None:
        """By email, Discord user id or account id."""
        return await self.reads.find_account(ref)

    async def account_for_discord(self, discord_id: str) -> AccountView | None:
        return await self.reads.account_for_discord(discord_id)

    async def issue_link_code(self, account_id: str, *, key: str, actor: str = "operator") -> tuple[str, datetime]:
        return await self.accounts.issue_link_code(account_id, key=key, actor=actor)

    async def link_discord(self, code: str, discord_id: str, *, key: str) -> AccountView:
        return await self.accounts.link_discord(code, discord_id, key=key)

    async def admin_link(self, account_id: str, discord_id: str, *, key: str, actor: str, reason: str) -> Receipt:
        return await self.accounts.admin_link(account_id, discord_id, key=key, actor=actor, reason=reason)

    async def review_restriction(self, account_id: str, lift: bool, *, key: str, actor: str, reason: str) -> Receipt:
        return await self.accounts.review_restriction(account_id, lift, key=key, actor=actor, reason=reason)

    # ----- reads ----------------------------------------------------------------

    async def snapshot(self, account_id: str) -> AccountView:
        """The account as of now, with due period-end effects applied first."""
        return await self.reads.snapshot(account_id)

    async def view_if_settled(self, tx: Tx, account_id: str) -> AccountView | None:
        """The account as of now, read in ``tx`` (a read of the caller's); None when period-end
        effects or lapsed credits are due, which only ``snapshot`` applies."""
        return await self.reads.view_if_settled(tx, account_id)

    async def invoices(self, account_id: str, limit: int = 10) -> list[Invoice]:
        return await self.reads.invoices(account_id, limit)

    async def audit_trail(self, account_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return await self.reads.audit_trail(account_id, limit)

    # ----- cancel and resume ----------------------------------------------------

    async def quote_cancel(self, account_id: str, seen: AccountView | None = None) -> CancelQuote:
        """``seen``: the account as the caller read it, settled, moments ago: not read again."""
        return await self.subscriptions.quote_cancel(account_id, seen)

    async def cancel(self, account_id: str, reason: str, comment: str | None = None, *, key: str,
                     actor: str = "user") -> Receipt:
        return await self.subscriptions.cancel(account_id, reason, comment, key=key, actor=actor)

    async def quote_resume(self, account_id: str, plan: str | None = None,
                           seen: AccountView | None = None) -> ResumeQuote:
        return await self.subscriptions.quote_resume(account_id, plan, seen)

    async def resume(self, account_id: str, *, key: str, actor: str = "user") -> Receipt:
        """Remove a scheduled cancellation; after the period ended, ``already_ended`` (resubscribe)."""
        return await self.subscriptions.resume(account_id, key=key, actor=actor)

    # ----- plan changes -----------------------------------------------------------

    async def quote_plan_change(self, account_id: str, plan: str, timing: str = "now") -> PlanChangeQuote:
        return await self.plan_changes.quote_plan_change(account_id, plan, timing)

    async def change_plan(self, account_id: str, plan: str, timing: str = "now", *, key: str,
                          quote: PlanChangeQuote | None = None, actor: str = "user") -> Receipt:
        """Subscribe (from Free), upgrade now or at period end, or downgrade at period end;
        with ``quote``, the numbers the user saw, honoured if nothing else changed since."""
        return await self.plan_changes.change_plan(account_id, plan, timing, key=key, quote=quote, actor=actor)

    async def cancel_scheduled_change(self, account_id: str, *, key: str, actor: str = "user") -> Receipt:
        return await self.plan_changes.cancel_scheduled_change(account_id, key=key, actor=actor)

    async def admin_change_plan(self, account_id: str, plan: str, *, key: str, actor: str, reason: str) -> Receipt:
        """A moderator's immediate change, up or down, without a charge; to Free ends the subscription now."""
        return await self.plan_changes.admin_change_plan(account_id, plan, key=key, actor=actor, reason=reason)

    # ----- credits --------------------------------------------------------------------

    async def buy_topup(self, account_id: str, bundle: str, *, key: str, actor: str = "user") -> Receipt:
        return await self.credits.buy_topup(account_id, bundle, key=key, actor=actor)

    async def spend_credits(self, account_id: str, amount: int, *, key: str, ref: str = "usage",
                            actor: str = "product") -> Receipt:
        return await self.credits.spend_credits(account_id, amount, key=key, ref=ref, actor=actor)

    async def adjust_credits(self, account_id: str, delta: int, *, key: str, actor: str, reason: str) -> Receipt:
        """A moderator's grant (a never-expiring bucket) or removal (in spending order)."""
        return await self.credits.adjust_credits(account_id, delta, key=key, actor=actor, reason=reason)

    # ----- users' data on request (core/privacy.py) ---------------------------------------

    async def what_we_keep(self, discord_id: str) -> privacy.KeptData:
        """What is kept about a Discord user: link (email masked), preferences, conversations, requests."""
        return await privacy.what_we_keep(self.db, discord_id)

    async def forget_discord_user(self, discord_id: str, *, actor: str, reason: str | None = None,
                                  key: str) -> privacy.Forgotten:
        """Delete or blank what is kept about a Discord user; invoices, ledger and audit stay, without the id."""
        try:
            return await privacy.forget(self.db, self.clock, discord_id, actor=actor, reason=reason, key=key)
        finally:
            self.users.forget(discord_id)  # its preferences row is gone: no copy of it either

    # ----- due work -----------------------------------------------------------------------

    async def sweep(self, limit: int = 1000) -> SweepReport:
        """Apply what fell due across all accounts, in batches; returns what was done."""
        return await run_sweep(self.work, self.recover_payments, limit)
