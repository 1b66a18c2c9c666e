"""Plan changes: subscribe from Free, upgrade now (prorated) or at period end, downgrade at
period end, drop a scheduled change, and a moderator's immediate change.

A quote computes exactly what a confirm will do without changing anything, so a flow can
show the numbers first; the confirm honours them when nothing else changed since.
"""

from __future__ import annotations

from datetime import datetime

from core import billing, ledger, periods
from core.clock import from_ts, to_ts
from core.errors import CoreError
from core.ledger import Balances
from core.money import Money
from core.plans import FREE, Catalog
from core.reads import Reads
from core.unit_of_work import Change, Command, UnitOfWork
from core.views import PlanChangeQuote, Receipt, ScheduledChange
from storage.db import Tx


def quote_change(catalog: Catalog, sub: dict | None, balances: Balances, plan_id: str, timing: str,
                 now: datetime) -> PlanChangeQuote:
    """What changing to ``plan_id`` does, for the live subscription ``sub`` (None: Free)."""
    if timing not in ("now", "end"):
        raise CoreError("invalid", "timing must be now or end", timing=timing)
    target = catalog.plan(plan_id)
    zero = Money(catalog.currency, 0)
    if not sub:
        if target.is_free:
            raise CoreError("same_plan", "the account is already on the Free plan", plan=FREE)
        _, end = periods.period_bounds(now, 0, target)
        return PlanChangeQuote("subscribe", FREE, target.id, target.price, zero, now, end, target.credits, 0,
                               None, end, target.price, now)
    if sub["cancel_at_period_end"]:
        raise CoreError("resume_first", "auto-renewal is cancelled; resume it before changing plan",
                        access_until=from_ts(sub["period_end"]))
    if sub["status"] == "past_due":
        raise CoreError("past_due", "the last renewal payment failed; update the payment first",
                        grace_until=from_ts(sub["grace_until"]))
    current = catalog.plan(sub["plan"])
    if target.id == current.id:
        raise CoreError("same_plan", f"the account is already on {current.name}", plan=current.id)
    if target.id == sub["scheduled_plan"]:
        raise CoreError("same_plan", f"a change to {target.name} is already scheduled", plan=target.id)
    replaces = ScheduledChange(sub["scheduled_plan"], sub["scheduled_kind"], from_ts(sub["period_end"])) if sub["scheduled_plan"] else None
    period_end = from_ts(sub["period_end"])
    upgrade = catalog.is_upgrade(current, target)
    if target.is_free:
        raise CoreError("invalid", "to move to Free, cancel auto-renewal instead")
    if upgrade and timing == "now":
        length = sub["period_end"] - sub["period_start"]
        unused = max(0, sub["period_end"] - to_ts(now))
        # old price × unused seconds / period seconds, rounded half up to the minor unit
        credit = (2 * current.price.minor * unused + length) // (2 * length)
        credit = min(credit, current.price.minor)
        charge = Money(target.price.currency, max(0, target.price.minor - credit))
        _, end = periods.period_bounds(now, 0, target)
        return PlanChangeQuote("upgrade_now", current.id, target.id, charge, Money(current.price.currency, credit),
                               now, end, target.credits, balances.subscription, replaces, end, target.price, now)
    if not upgrade and timing == "now":
        raise CoreError("immediate_downgrade", "a downgrade takes effect at the end of the period")
    kind = "upgrade_end" if upgrade else "downgrade"
    return PlanChangeQuote(kind, current.id, target.id, zero, zero, period_end, None, target.credits, 0,
                           replaces, period_end, target.price, now)


class PlanChanges:
    def __init__(self, work: UnitOfWork, reads: Reads) -> None:
        self.work = work
        self.reads = reads

    async def quote_plan_change(self, account_id: str, plan: str, timing: str = "now") -> PlanChangeQuote:
        state = await self.reads.settled_state(account_id)
        return quote_change(self.work.catalog, state.sub, state.balances, plan, timing, self.work.clock.now())

    async def change_plan(self, account_id: str, plan: str, timing: str = "now", *, key: str,
                          quote: PlanChangeQuote | None = None, actor: str = "user") -> Receipt:
        """Subscribe (from Free), upgrade now or at period end, or downgrade at period end.

        With ``quote``, the numbers the user saw are honoured if nothing else
        changed since; otherwise ``quote_expired`` asks the flow to show new ones.
        """
        params = {"plan": plan, "timing": timing}
        if quote:
            params["quoted"] = [quote.kind, quote.charge_now.minor, quote.proration_credit.minor, to_ts(quote.quoted_at)]

        async def body(change: Change) -> Receipt:
            sub = change.sub
            fresh = quote_change(self.work.catalog, sub, change.state.balances, plan, timing, change.now)
            use = fresh
            if quote:
                same_period = sub is None or quote.quoted_at >= from_ts(sub["period_start"])
                if not same_period or (quote.kind, quote.from_plan, quote.to_plan, quote.replaces) != (
                        fresh.kind, fresh.from_plan, fresh.to_plan, fresh.replaces):
                    raise CoreError("quote_expired", "the account changed since this summary was shown")
                use = quote
            return await self._apply(change.tx, account_id, sub, use, change.now, key)

        return await self.work.run(Command("change_plan", account_id, key, actor, params), body)

    async def _apply(self, tx: Tx, account_id: str, sub: dict | None, q: PlanChangeQuote, now: datetime,
                     key: str) -> Receipt:
        target = self.work.catalog.plan(q.to_plan)
        if q.kind == "subscribe":
            sub_id, invoices, end = await periods.start_subscription(tx, account_id, target, now, f"subscribe:{key}")
            return Receipt("subscribe", account_id, now, target.id, charged=target.price, next_billing_at=end,
                           next_billing_amount=target.price, credits=target.credits, invoice_ids=tuple(invoices),
                           details={"subscription": sub_id})
        if q.kind == "upgrade_now":
            forfeited = await ledger.expire_subscription_credits(tx, account_id, now, "expire", "upgrade")
            start, end = periods.period_bounds(now, 0, target)
            invoices = await billing.charge(tx, account_id, q.charge_now, f"upgrade:{key}", now,
                                            kind="upgrade", subscription_id=sub["id"], plan=target.id, period=(start, end))
            await tx.write(
                "UPDATE subscriptions SET plan = ?, cycle_anchor = ?, cycle_index = 0, period_start = ?, period_end = ?, "
                "next_due_at = ?, scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?",
                target.id, to_ts(now), to_ts(start), to_ts(end), to_ts(end), sub["id"],
            )
            await periods.grant_allowance(tx, account_id, sub["id"], target, start, end, source=f"upgrade:{key}")
            return Receipt("upgrade_now", account_id, now, target.id, charged=q.charge_now, proration_credit=q.proration_credit,
                           next_billing_at=end, next_billing_amount=target.price, credits=target.credits,
                           invoice_ids=tuple(invoices), details={"from": q.from_plan, "forfeited": forfeited,
                                                                 "replaced": q.replaces.plan if q.replaces else None})
        kind = "upgrade" if q.kind == "upgrade_end" else "downgrade"
        await tx.write("UPDATE subscriptions SET scheduled_plan = ?, scheduled_kind = ? WHERE id = ?", target.id, kind, sub["id"])
        return Receipt(q.kind, account_id, now, q.from_plan, access_until=q.starts_at, next_billing_at=q.starts_at,
                       next_billing_amount=target.price, credits=target.credits,
                       details={"to": target.id, "replaced": q.replaces.plan if q.replaces else None})

    async def cancel_scheduled_change(self, account_id: str, *, key: str, actor: str = "user") -> Receipt:
        async def body(change: Change) -> Receipt:
            sub = change.sub
            if not sub or not sub["scheduled_plan"]:
                raise CoreError("no_change_pending", "no plan change is scheduled")
            await change.tx.write("UPDATE subscriptions SET scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?", sub["id"])
            plan = self.work.catalog.plan(sub["plan"])
            return Receipt("cancel_change", account_id, change.now, plan.id, next_billing_at=from_ts(sub["period_end"]),
                           next_billing_amount=plan.price, details={"dropped": sub["scheduled_plan"]})

        return await self.work.run(Command("cancel_change", account_id, key, actor, {}), body)

    async def admin_change_plan(self, account_id: str, plan: str, *, key: str, actor: str, reason: str) -> Receipt:
        """A moderator's immediate change, up or down, without a charge; to Free ends the subscription now."""
        target = self.work.catalog.plan(plan)

        async def body(change: Change) -> Receipt:
            tx, sub, now = change.tx, change.sub, change.now
            if target.is_free:
                if not sub:
                    raise CoreError("same_plan", "the account is already on the Free plan", plan=FREE)
                await periods.end_subscription(tx, sub, now, "moderator")
                return Receipt("admin_change_plan", account_id, now, FREE, details={"from": sub["plan"]})
            if not sub:
                _sub_id, invoices, end = await periods.start_subscription(
                    tx, account_id, target, now, f"admin:{key}", charge_amount=Money(target.price.currency, 0))
                return Receipt("admin_change_plan", account_id, now, target.id, next_billing_at=end,
                               next_billing_amount=target.price, invoice_ids=tuple(invoices), details={"from": FREE})
            if sub["plan"] == target.id:
                raise CoreError("same_plan", f"the account is already on {target.name}", plan=target.id)
            await ledger.expire_subscription_credits(tx, account_id, now, "expire", "moderator_change")
            await tx.write("UPDATE subscriptions SET plan = ?, scheduled_plan = NULL, scheduled_kind = NULL WHERE id = ?",
                           target.id, sub["id"])
            start, end = now, from_ts(sub["period_end"])
            await periods.grant_allowance(tx, account_id, sub["id"], target, start, end, source=f"admin:{key}")
            return Receipt("admin_change_plan", account_id, now, target.id, next_billing_at=end,
                           next_billing_amount=target.price, details={"from": sub["plan"]})

        return await self.work.run(Command("admin_change_plan", account_id, key, actor, {"plan": plan}, reason), body)
