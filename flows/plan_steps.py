"""The plan-change summary and its confirmation, shared by three flows.

Change plan, the cancel flow's save offer (switch to a cheaper plan) and
resubscribing after a subscription ended all end the same way: a summary from
``core.quote_plan_change`` (charge now, proration credit, what happens to
credits, start date, what it replaces), then a confirm that passes that very
quote to ``core.change_plan``, so the receipt's numbers are the numbers shown.
A flow spreads ``transitions(summary=..., done=...)`` into its table, naming
its own steps.

Actions starting with "=" carry an effect's outcome; users cannot send them.
"""

from __future__ import annotations

from datetime import datetime

from core.plans import Catalog
from core.views import PlanChangeQuote, Receipt
from flows.codec import quote_from_data, quote_to_data
from flows.common import refuse
from flows.effects import ConfirmPlanChange, QuotePlanChange
from flows.errors import describe
from flows.machine import ANY_STEP, Event, FlowState, Output, Table
from flows.replies import MP, Button, M, Msg, Reply
from flows.texts import live, plan_name, price_per_period, start_button

QUOTED = "=plan_quoted"
REQUOTED = "=plan_requoted"
CHANGED = "=plan_changed"
CONFIRM = "confirm"
RETRYABLE = ("payment_declined", "payment_failed")


def ask_quote(state: FlowState, step: str, plan: str, timing: str) -> tuple[FlowState, list[Output]]:
    """Move to ``step`` and ask the core what changing to ``plan`` would do."""
    return state.at(step, plan=plan, timing=timing), [QuotePlanChange(plan=plan, timing=timing, then=QUOTED)]


def summary_lines(q: PlanChangeQuote, catalog: Catalog) -> list[Msg]:
    old, new = catalog.plan(q.from_plan), catalog.plan(q.to_plan)
    lines: list[Msg]
    if q.kind == "subscribe":
        lines = [
            M("Subscribe to {plan} ({price}).", plan=plan_name(new), price=price_per_period(new)),
            M("Charged now: {amount}.", amount=q.charge_now),
            M("Your first period runs until {date}, with {n} credits.", date=q.period_end, n=q.credits_granted),
            M("Next billing: {date}, {amount}. You can cancel renewal any time.",
              date=q.next_billing_at, amount=q.next_billing_amount),
        ]
    elif q.kind == "upgrade_now":
        lines = [
            M("Upgrade from {old} to {new}, starting now.", old=plan_name(old), new=plan_name(new)),
            M("{plan} price: {amount}", plan=plan_name(new), amount=new.price),
            M("Credit for the unused part of your {plan} period: {amount}", plan=plan_name(old), amount=q.proration_credit),
            M("Charged now: {amount}.", amount=q.charge_now),
        ]
        if q.credits_forfeited:
            lines.append(MP("Your remaining {n} {plan} subscription credit ends now.",
                            "Your remaining {n} {plan} subscription credits end now.",
                            q.credits_forfeited, plan=plan_name(old)))
        lines += [
            M("You get {n} {plan} credits at once.", n=q.credits_granted, plan=plan_name(new)),
            M("A new billing period starts now. Next billing: {date}, {amount}.",
              date=q.next_billing_at, amount=q.next_billing_amount),
            M("Top-up credits are not affected."),
        ]
    else:  # upgrade_end, downgrade: nothing happens before the period ends
        if q.kind == "upgrade_end":
            lines = [M("Upgrade from {old} to {new} at the end of your period, on {date}.",
                       old=plan_name(old), new=plan_name(new), date=q.starts_at)]
        else:
            lines = [M("Switch from {old} to {new} at the end of your period, on {date}.",
                       old=plan_name(old), new=plan_name(new), date=q.starts_at)]
        lines += [
            M("Nothing is charged now. On {date} you'll be charged {amount} and get {n} {plan} credits.",
              date=q.starts_at, amount=q.next_billing_amount, n=q.credits_granted, plan=plan_name(new)),
            M("You keep {plan} and its credits until then.", plan=plan_name(old)),
        ]
        if q.kind == "upgrade_end":
            lines.append(M("While this upgrade is scheduled, auto-renewal can't be cancelled; you can cancel the "
                           "scheduled change at any time."))
    if q.replaces:
        lines.append(M("This replaces your scheduled change to {plan} on {date}.",
                       plan=plan_name(catalog.plan(q.replaces.plan)), date=q.replaces.effective_at))
    return lines


def confirm_label(q: PlanChangeQuote, catalog: Catalog) -> Msg:
    if q.kind == "subscribe":
        return M("Pay {amount} and subscribe", amount=q.charge_now)
    if q.kind == "upgrade_now":
        return M("Pay {amount} and upgrade", amount=q.charge_now)
    if q.kind == "upgrade_end":
        return M("Schedule the upgrade")
    return M("Switch to {plan} on {date}", plan=plan_name(catalog.plan(q.to_plan)), date=q.starts_at)


def summary_reply(q: PlanChangeQuote, catalog: Catalog, lead: tuple[Msg, ...] = (),
                  extra: tuple[Button, ...] = ()) -> Reply:
    confirm = Button(confirm_label(q, catalog), CONFIRM, "primary")
    return Reply((*lead, *summary_lines(q, catalog)), buttons=live(confirm, *extra))


def result_reply(r: Receipt, catalog: Catalog) -> Reply:
    plan = catalog.plan(r.plan)
    if r.operation == "subscribe":
        lines = [
            M("You're subscribed to {plan}.", plan=plan_name(plan)),
            M("Charged {amount} on {at}.", amount=r.charged, at=r.at),
            M("You have {n} {plan} credits for this period. Next billing: {date}, {amount}.",
              n=r.credits, plan=plan_name(plan), date=r.next_billing_at, amount=r.next_billing_amount),
        ]
        return Reply(tuple(lines), buttons=(start_button("status", M("Show my subscription")),), final=True, receipt=True)
    if r.operation == "upgrade_now":
        lines = [
            M("You're now on {plan}.", plan=plan_name(plan)),
            M("Charged {amount} on {at}, after a credit of {credit} for the unused part of your previous period.",
              amount=r.charged, at=r.at, credit=r.proration_credit),
            M("You have {n} {plan} credits. Next billing: {date}, {amount}.",
              n=r.credits, plan=plan_name(plan), date=r.next_billing_at, amount=r.next_billing_amount),
        ]
        return Reply(tuple(lines), buttons=(start_button("status", M("Show my subscription")),), final=True, receipt=True)
    # upgrade_end or downgrade: scheduled, nothing charged; the way back is to cancel the scheduled change
    target = catalog.plan(r.details["to"])
    lines = [
        M("Done: you'll move from {old} to {new} on {date}.", old=plan_name(plan), new=plan_name(target), date=r.access_until),
        M("Nothing was charged. Until then you keep {plan} and its credits.", plan=plan_name(plan)),
    ]
    if r.details.get("replaced"):
        lines.append(M("This replaced your earlier scheduled change to {plan}.",
                       plan=plan_name(catalog.plan(r.details["replaced"]))))
    lines.append(M("Confirmed on {at}.", at=r.at))
    undo = start_button("scheduled_change", M("Undo: cancel the scheduled change"))
    return Reply(tuple(lines), buttons=(undo,), final=True, receipt=True)


def transitions(summary: str, done: str, extra: tuple[Button, ...] = ()) -> Table:
    """The summary step (named ``summary``) and the result step (named ``done``) for a flow's table."""

    def show(state: FlowState, event: Event, now: datetime, lead: tuple[Msg, ...] = ()) -> tuple[FlowState, list[Output]]:
        if event.error:
            return refuse(state, event.error, event)
        quote: PlanChangeQuote = event.result
        return state.at(summary, quote=quote_to_data(quote)), [summary_reply(quote, event.facts.catalog, lead, extra)]

    def requoted(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
        return show(state, event, now, lead=(M("Your account changed since the summary was shown, so here are the "
                                                 "new numbers. Nothing was charged yet."),))

    def confirm(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
        d = state.data
        return state, [ConfirmPlanChange(plan=d["plan"], timing=d["timing"], quote=d["quote"], then=CHANGED)]

    def changed(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
        catalog = event.facts.catalog
        if event.error and event.error.code == "quote_expired":
            d = state.data
            return state, [QuotePlanChange(plan=d["plan"], timing=d["timing"], then=REQUOTED)]
        if event.error and event.error.code in RETRYABLE:
            quote = quote_from_data(state.data["quote"])
            return state, [summary_reply(quote, catalog, (describe(event.error, catalog),), extra)]
        if event.error:
            return refuse(state, event.error, event)
        receipt: Receipt = event.result
        return state.at(done), [result_reply(receipt, catalog)]


    return {
        (ANY_STEP, QUOTED): show,
        (summary, REQUOTED): requoted,
        (summary, CONFIRM): confirm,
        (summary, CHANGED): changed,
    }
