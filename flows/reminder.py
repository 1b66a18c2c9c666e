"""Renewal reminder (docs/flows.md, flow 8): the screen the sweep's DM shows.

    start --> ask --(Keep renewal)--> kept
               +--(Cancel renewal: starts the cancel flow)

Invariants: keeping changes nothing; the reminder stays answerable until the
renewal itself (a DM may be read days later), not just the usual timeout.
"""

from __future__ import annotations

from datetime import datetime

from core.clock import to_ts
from flows.common import COMMON, REFUSED
from flows.machine import HOLD_UNTIL, Event, FlowState, Output, Table, run_table
from flows.replies import Button, M, Reply
from flows.texts import help_button, nothing_changed, plan_name, start_button

KIND = "reminder"


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account, catalog = event.facts.account, event.facts.catalog
    if account.next_billing_at is None or account.status != "active":
        # Cancelled or ended since the reminder was queued: nothing renews.
        lines = (M("Your plan does not renew automatically, so there is nothing to remind you of."),)
        return state.at(REFUSED), [Reply(lines, buttons=(start_button("status", M("Show my subscription")),), final=True)]
    plan = plan_name(catalog.plan(account.plan))
    lines = (
        M("Reminder: your {plan} plan renews on {date}, and you'll be charged {amount}.",
          plan=plan, date=account.next_billing_at, amount=account.next_billing_amount),
        M("To keep it, there is nothing to do. If you cancel renewal, you keep access until {date} either way.",
          date=account.next_billing_at),
    )
    buttons = (Button(M("Keep renewal"), "keep", "success"), start_button("cancel", M("Cancel renewal"), "danger"),
               help_button())
    held = state.at("ask", **{HOLD_UNTIL: to_ts(account.next_billing_at)})
    return held, [Reply(lines, buttons=buttons)]


def _keep(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account, catalog = event.facts.account, event.facts.catalog
    more = [M("You can turn these reminders off with /reminders.")]
    if account.next_billing_at and account.next_billing_amount:
        more.insert(0, M("Your {plan} plan renews on {date} for {amount}.", plan=plan_name(catalog.plan(account.plan)),
                         date=account.next_billing_at, amount=account.next_billing_amount))
    return state.at("kept"), [nothing_changed(*more)]


TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("ask", "keep"): _keep,
    **COMMON,
}
