"""Cancel and resume: auto-renewal off until the period ends, or on again before it does.

A cancellation keeps access until the period ends (core/periods.py then ends the
subscription); one made while past due ends it at once, since the paid period is over and
only the grace retries remain. Resuming is possible until the period ends; after that,
``already_ended`` tells the flow to subscribe again instead.
"""

from __future__ import annotations

from core import account_state
from core.clock import from_ts, to_ts
from core.errors import CoreError
from core.money import Money
from core.periods import end_subscription, period_bounds
from core.reads import Reads
from core.rules import CANCEL_REASONS, MAX_COMMENT
from core.unit_of_work import Change, Command, UnitOfWork
from core.views import AccountView, CancelQuote, Receipt, ResumeQuote


def cancel_check(sub: dict | None) -> None:
    """Refuse a cancellation this subscription cannot take."""
    if not sub:
        raise CoreError("no_subscription", "there is no paid subscription to cancel")
    if sub["cancel_at_period_end"]:
        raise CoreError("already_cancelled", "auto-renewal is already cancelled", access_until=from_ts(sub["period_end"]))
    if sub["scheduled_kind"] == "upgrade":
        raise CoreError("change_pending", "an upgrade is scheduled for the end of the period; cancel that change first",
                        plan=sub["scheduled_plan"], effective_at=from_ts(sub["period_end"]))


class Subscriptions:
    def __init__(self, work: UnitOfWork, reads: Reads) -> None:
        self.work = work
        self.reads = reads

    async def quote_cancel(self, account_id: str, seen: AccountView | None = None) -> CancelQuote:
        """``seen``: the account as the caller read it, settled, moments ago (a flow's press):
        quoted from without reading it again."""
        view = seen or account_state.view(await self.reads.settled_state(account_id), self.work.catalog)
        if not view.subscription_id:
            raise CoreError("no_subscription", "there is no paid subscription to cancel")
        if view.cancel_at_period_end:
            raise CoreError("already_cancelled", "auto-renewal is already cancelled", access_until=view.period_end)
        scheduled = view.scheduled_change
        if scheduled and scheduled.kind == "upgrade":  # as cancel_check, on the view
            raise CoreError("change_pending", "an upgrade is scheduled for the end of the period; cancel that change first",
                            plan=scheduled.plan, effective_at=view.period_end)
        dropped = scheduled if scheduled and scheduled.kind == "downgrade" else None
        # Past due: the paid period is over already, so cancelling ends it now (see cancel).
        access_until = self.work.clock.now() if view.status == "past_due" else view.period_end
        return CancelQuote(view.plan, access_until, view.credits.subscription, view.credits.topup, dropped)

    async def cancel(self, account_id: str, reason: str, comment: str | None = None, *, key: str,
                     actor: str = "user") -> Receipt:
        if reason not in CANCEL_REASONS:
            raise CoreError("invalid", f"unknown cancellation reason {reason!r}", reason=reason)
        comment = (comment or "").strip() or None
        if comment and len(comment) > MAX_COMMENT:
            raise CoreError("invalid", f"the comment is longer than {MAX_COMMENT} characters", limit=MAX_COMMENT)

        async def body(change: Change) -> Receipt:
            tx, sub, now = change.tx, change.sub, change.now
            cancel_check(sub)
            await tx.write(
                "UPDATE subscriptions SET cancel_at_period_end = 1, cancel_reason = ?, cancel_comment = ?, cancelled_at = ?, "
                "scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?",
                reason, comment, to_ts(now), sub["id"],
            )
            access_until = from_ts(sub["period_end"])
            subscription, topup = change.state.balances.subscription, change.state.balances.topup
            if sub["status"] == "past_due":
                # The paid period has ended and only the grace retries remain: stopping
                # future billing stops them, so the subscription ends now (no retry charges).
                await end_subscription(tx, sub, now, "cancelled")
                access_until, subscription = now, 0  # its credits end with it
            return Receipt("cancel", account_id, now, sub["plan"], access_until=access_until,
                           credits=subscription, balance=topup,
                           details={"reason": reason, "dropped_change": sub["scheduled_plan"],
                                    "subscription_credits": subscription, "topup_credits": topup})

        command = Command("cancel", account_id, key, actor, {"reason": reason, "comment": comment}, reason)
        return await self.work.run(command, body)

    async def quote_resume(self, account_id: str, plan: str | None = None,
                           seen: AccountView | None = None) -> ResumeQuote:
        """``seen``: as for ``quote_cancel``."""
        view = seen or await self.reads.snapshot(account_id)
        catalog = self.work.catalog
        if view.subscription_id:
            if not view.cancel_at_period_end:
                raise CoreError("not_cancelled", "auto-renewal is already on", next_billing_at=view.next_billing_at)
            price = catalog.plan(view.plan).price
            return ResumeQuote("resume", view.plan, view.period_end, price, Money(price.currency, 0))
        target = catalog.plan(plan or await self._last_plan(account_id) or "basic")
        if target.is_free:
            raise CoreError("invalid", "choose a paid plan to subscribe to")
        _, end = period_bounds(self.work.clock.now(), 0, target)
        return ResumeQuote("resubscribe", target.id, end, target.price, target.price)

    async def _last_plan(self, account_id: str) -> str | None:
        async with self.work.db.read() as tx:
            row = await tx.fetchone(
                "SELECT plan FROM subscriptions WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", account_id,
            )
        return row["plan"] if row else None

    async def resume(self, account_id: str, *, key: str, actor: str = "user") -> Receipt:
        """Remove a scheduled cancellation; after the period ended, ``already_ended`` (resubscribe)."""

        async def body(change: Change) -> Receipt:
            tx, sub = change.tx, change.sub
            if not sub:
                last = await tx.fetchone(
                    "SELECT plan, ended_at FROM subscriptions WHERE account_id = ? ORDER BY created_at DESC LIMIT 1", account_id,
                )
                if last:
                    raise CoreError("already_ended", "the subscription has ended; subscribe again instead",
                                    plan=last["plan"], ended_at=from_ts(last["ended_at"]))
                raise CoreError("no_subscription", "there is no subscription to resume")
            if not sub["cancel_at_period_end"]:
                raise CoreError("not_cancelled", "auto-renewal is already on", next_billing_at=from_ts(sub["period_end"]))
            await tx.write(
                "UPDATE subscriptions SET cancel_at_period_end = 0, cancel_reason = NULL, cancel_comment = NULL, "
                "cancelled_at = NULL WHERE id = ?", sub["id"],
            )
            plan = self.work.catalog.plan(sub["plan"])
            return Receipt("resume", account_id, change.now, plan.id, next_billing_at=from_ts(sub["period_end"]),
                           next_billing_amount=plan.price, details={"subscription": sub["id"]})

        return await self.work.run(Command("resume", account_id, key, actor, {}), body)
