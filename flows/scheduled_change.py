"""Cancel a scheduled plan change (docs/flows.md, flow 4).

    start --(a change is scheduled)--> confirm --> done
      +--(none scheduled)--> refused

Invariant: the current plan continues exactly as it is; nothing is charged.
"""

from __future__ import annotations

from datetime import datetime

from core.errors import CoreError
from core.plans import Catalog
from core.views import Receipt
from flows.common import COMMON, refuse
from flows.effects import ConfirmCancelScheduledChange
from flows.machine import Event, FlowState, Output, Table, run_table
from flows.replies import Button, M, Reply
from flows.texts import live, plan_name, start_button

KIND = "scheduled_change"

CANCELLED = "=cancelled"


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account, catalog = event.facts.account, event.facts.catalog
    change = account.scheduled_change
    if change is None:
        return refuse(state, CoreError("no_change_pending", "no plan change is scheduled"), event)
    current = catalog.plan(account.plan)
    lines = (
        M("A change from {old} to {new} is scheduled for {date}.",
          old=plan_name(current), new=plan_name(catalog.plan(change.plan)), date=change.effective_at),
        M("Cancel it? You'll stay on {plan}; your next billing will be {date}, {amount}.",
          plan=plan_name(current), date=account.period_end, amount=current.price),
    )
    confirm = Button(M("Cancel the scheduled change"), "confirm", "danger")
    return state.at("confirm", plan=change.plan), [Reply(lines, buttons=live(confirm))]


def _confirm(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, [ConfirmCancelScheduledChange(then=CANCELLED)]


def result_reply(r: Receipt, catalog: Catalog) -> Reply:
    lines = (
        M("The scheduled change to {plan} is cancelled.", plan=plan_name(catalog.plan(r.details["dropped"]))),
        M("You stay on {plan}; next billing: {date}, {amount}.",
          plan=plan_name(catalog.plan(r.plan)), date=r.next_billing_at, amount=r.next_billing_amount),
        M("Cancelled on {at}.", at=r.at),
    )
    return Reply(lines, buttons=(start_button("plan", M("Change plan")),), final=True, receipt=True)


def _cancelled(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return refuse(state, event.error, event)
    receipt: Receipt = event.result
    return state.at("done"), [result_reply(receipt, event.facts.catalog)]



TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("confirm", "confirm"): _confirm,
    ("confirm", CANCELLED): _cancelled,
    **COMMON,
}
