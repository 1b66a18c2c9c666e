"""Change plan, or subscribe from Free (docs/flows.md, flow 3).

    start --> choose --(upgrade)--> timing --(now | end)--> summary --> done
                |--(downgrade: end of period only)--------> summary
                |--(on Free: subscribe, charged now)------> summary
      +--(cancellation scheduled)--> refused: "resume first", with a Resume button

Invariants:
- The summary is the core's quote; the confirm passes that quote back, so the
  receipt shows the numbers the user saw (or the flow shows new ones).
- A new change replaces a scheduled one, and the summary says so.
"""

from __future__ import annotations

from datetime import datetime

from core.errors import CoreError
from core.plans import Catalog
from core.views import AccountView
from flows import plan_steps
from flows.common import COMMON, REFUSED, refuse
from flows.machine import Event, FlowState, Output, Stale, Table, run_table
from flows.replies import Button, M, Msg, Option, Reply, Select
from flows.texts import free_plan_name, live, plan_name, price_per_period, start_button

KIND = "plan"


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def choices(account: AccountView, catalog: Catalog) -> list[str]:
    """Plans the user may pick: paid ones other than the current plan and an already scheduled change."""
    taken = {account.plan, account.scheduled_change.plan if account.scheduled_change else None}
    return [p.id for p in catalog.paid_plans() if p.id not in taken]


def _option(account: AccountView, catalog: Catalog, plan_id: str) -> Option:
    plan = catalog.plan(plan_id)
    label = M("{plan} · {price}", plan=plan_name(plan), price=price_per_period(plan))
    if account.status == "free":
        note = M("{n} credits each period", n=plan.credits)
    elif catalog.is_upgrade(catalog.plan(account.plan), plan):
        note = M("Upgrade · {n} credits each period", n=plan.credits)
    else:
        note = M("Downgrade from {date} · {n} credits each period", date=account.period_end, n=plan.credits)
    return Option(label, plan.id, note)


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account, catalog = event.facts.account, event.facts.catalog
    if account.cancel_at_period_end:
        return refuse(state, CoreError("resume_first", "auto-renewal is cancelled", access_until=account.period_end), event)
    if account.status == "past_due":
        lines = (M("Your last renewal payment didn't go through, so your plan can't be changed until it is paid. "
                   "We'll retry the payment until {date}.", date=account.grace_until),)
        return state.at(REFUSED), [Reply(lines, buttons=(start_button("help", M("Talk to a moderator")),), final=True)]
    available = choices(account, catalog)
    if not available:
        return state.at(REFUSED), [Reply((M("There is no other plan to switch to."),), final=True)]
    lines: list[Msg] = []
    extra: tuple[Button, ...] = ()
    if account.status == "free":
        lines.append(M("You're on the {free} plan. Choose a plan to subscribe to; you'll see the price and what you "
                       "get before you pay.", free=free_plan_name(catalog)))
    else:
        current = catalog.plan(account.plan)
        lines.append(M("You're on {plan} ({price}), renewing on {date}.",
                       plan=plan_name(current), price=price_per_period(current), date=account.period_end))
        if account.scheduled_change:
            change = account.scheduled_change
            lines.append(M("A change to {plan} is scheduled for {date}; a new choice replaces it.",
                           plan=plan_name(catalog.plan(change.plan)), date=change.effective_at))
            extra = (start_button("scheduled_change", M("Cancel the scheduled change")),)
        lines.append(M("Upgrades can start now or at the end of your period; downgrades happen at the end of your period."))
        lines.append(M("To move to the {free} plan, cancel auto-renewal instead.", free=free_plan_name(catalog)))
    select = Select(M("Choose a plan"), "plan", tuple(_option(account, catalog, p) for p in available))
    return state.at("choose"), [Reply(tuple(lines), buttons=live(*extra), select=select)]


def _chose(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account, catalog = event.facts.account, event.facts.catalog
    if event.value not in choices(account, catalog):
        return state, [Stale()]
    target = catalog.plan(event.value)
    if account.status == "free":
        return plan_steps.ask_quote(state, "choose", target.id, "now")
    current = catalog.plan(account.plan)
    if not catalog.is_upgrade(current, target):
        return plan_steps.ask_quote(state, "choose", target.id, "end")
    lines = (
        M("When should {plan} start?", plan=plan_name(target)),
        M("Now: you pay {price} minus a credit for the unused part of this period; your {old} subscription credits "
          "end and you get {n} {plan} credits at once. A new billing period starts today.",
          price=target.price, old=plan_name(current), n=target.credits, plan=plan_name(target)),
        M("At the end of the period ({date}): nothing is charged now; {plan} starts with your next billing.",
          date=account.period_end, plan=plan_name(target)),
    )
    buttons = (Button(M("Now"), "now", "primary"), Button(M("At the end of the period"), "end"))
    return state.at("timing", plan=target.id), [Reply(lines, buttons=live(*buttons))]


def _now(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return plan_steps.ask_quote(state, "timing", state.data["plan"], "now")


def _end(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return plan_steps.ask_quote(state, "timing", state.data["plan"], "end")


TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("choose", "plan"): _chose,
    ("timing", "now"): _now,
    ("timing", "end"): _end,
    **plan_steps.transitions(summary="summary", done="done"),
    **COMMON,
}
