"""Resume auto-renew, or resubscribe once the subscription has ended (docs/flows.md, flow 2).

    start --(cancellation scheduled)--> confirm --> done        "auto-renew is on again"
      +----(period ended / never had one)--> choose_plan --> summary --> subscribed
      +----(auto-renew already on)--> refused (nothing to resume)

Invariants:
- Before the period ends, resuming charges nothing and keeps the period.
- After it ended, a cancelled subscription is never revived: the user
  subscribes again (a new period, charged now, summary first).
"""

from __future__ import annotations

from datetime import datetime

from core.plans import Catalog
from core.views import Receipt
from flows import plan_steps
from flows.common import COMMON, refuse
from flows.effects import ConfirmResume, LoadInvoices, QuoteResume
from flows.machine import Event, FlowState, Output, Stale, Table, run_table
from flows.replies import Button, M, Option, Reply, Select
from flows.texts import free_plan_name, live, plan_name, price_per_period, start_button

DONE = "done"  # auto-renewal back on; named by the operators' counts (flows/telemetry.py)

KIND = "resume"

QUOTED = "=quoted"
HISTORY = "=history"
RESUMED = "=resumed"
PAID_KINDS = ("subscription", "renewal", "upgrade")


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, [QuoteResume(then=QUOTED)]


def _quoted(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:  # auto-renew already on
        return refuse(state, event.error, event)
    quote = event.result
    if quote.kind == "resubscribe":
        return state.with_data(previous_plan=quote.plan), [LoadInvoices(then=HISTORY)]
    account, catalog = event.facts.account, event.facts.catalog
    plan = plan_name(catalog.plan(quote.plan))
    lines = (
        M("Auto-renewal of your {plan} plan is off: your access ends on {date}.", plan=plan, date=account.period_end),
        M("Resume it? Nothing is charged now; your next billing will be {date}, {amount}.",
          date=quote.next_billing_at, amount=quote.next_billing_amount),
    )
    confirm = Button(M("Resume auto-renew"), "confirm", "primary")
    return state.at("confirm"), [Reply(lines, buttons=live(confirm))]


def plan_select(catalog: Catalog, previous: str | None, exclude: tuple[str, ...] = ()) -> Select:
    options = []
    for plan in catalog.paid_plans():
        if plan.id in exclude:
            continue
        if plan.id == previous:
            note = M("Your previous plan · {n} credits each period", n=plan.credits)
        else:
            note = M("{n} credits each period", n=plan.credits)
        label = M("{plan} · {price}", plan=plan_name(plan), price=price_per_period(plan))
        options.append(Option(label, plan.id, note))
    return Select(M("Choose a plan"), "plan", tuple(options))


def _history(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return refuse(state, event.error, event)
    had_one = any(invoice.kind in PAID_KINDS for invoice in event.result)
    if had_one:
        lines = (M("Your subscription has ended, so auto-renew can't be turned back on."),
                 M("You can subscribe again: you're charged now and a new period starts today."))
    else:
        lines = (M("There is no subscription to resume: you're on the {free} plan.",
                   free=free_plan_name(event.facts.catalog)),
                 M("You can subscribe to a plan: you're charged now and your period starts today."))
    previous = state.data.get("previous_plan") if had_one else None
    select = plan_select(event.facts.catalog, previous)
    return state.at("choose_plan"), [Reply(lines, buttons=live(), select=select)]


def _chose_plan(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    catalog = event.facts.catalog
    if event.value not in catalog.plans or catalog.plans[event.value].is_free:
        return state, [Stale()]
    return plan_steps.ask_quote(state, "choose_plan", event.value, "now")


def _confirm(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, [ConfirmResume(then=RESUMED)]


def result_reply(r: Receipt, catalog: Catalog) -> Reply:
    lines = (
        M("Auto-renew is on again. Your next billing is {date}, {amount}.", date=r.next_billing_at, amount=r.next_billing_amount),
        M("Your {plan} plan continues as before. Resumed on {at}.", plan=plan_name(catalog.plan(r.plan)), at=r.at),
    )
    undo = start_button("cancel", M("Cancel renewal"))
    return Reply(lines, buttons=(undo,), final=True, receipt=True)


def _resumed(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:  # e.g. the period ended while the confirmation was open: subscribe again
        return refuse(state, event.error, event)
    receipt: Receipt = event.result
    return state.at(DONE), [result_reply(receipt, event.facts.catalog)]



TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("start", QUOTED): _quoted,
    ("start", HISTORY): _history,
    ("confirm", "confirm"): _confirm,
    ("confirm", RESUMED): _resumed,
    ("choose_plan", "plan"): _chose_plan,
    **plan_steps.transitions(summary="summary", done="subscribed"),
    **COMMON,
}
