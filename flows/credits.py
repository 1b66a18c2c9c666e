"""Credits check (docs/flows.md, flow 7): the balance per kind, and why daily free credits did not arrive.

    start --> shown --(restricted: "Ask for a review")--> review_requested

The causes, as the core reports them (AccountView.free_credits_blocked_by):
on a paid plan, already had today's, restricted by the device limit. An
unlinked user never gets here: the engine answers that cause itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import utc_day_start
from core.plans import FREE
from core.views import AccountView
from flows.common import COMMON, case_context
from flows.effects import OpenModeratorCase
from flows.errors import refusal
from flows.machine import Event, Facts, FlowState, Notice, Output, Stale, Table, run_table
from flows.replies import Button, M, Msg, Reply
from flows.texts import (
    close_button,
    free_plan_name,
    help_button,
    moderator_will_answer,
    plan_name,
    start_button,
)

KIND = "credits"

REVIEWED = "=reviewed"


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def balance_lines(account: AccountView) -> list[Msg]:
    c = account.credits
    lines: list[Msg] = []
    if account.status == "free":
        lines.append(M("Free credits today: {n}", n=c.free_today))
    if c.subscription or account.status != "free":
        until = c.subscription_expires_at or account.period_end
        lines.append(M("Subscription credits: {n}, until {date}", n=c.subscription, date=until))
    lines.append(M("Top-up credits: {n} (they never expire)", n=c.topup))
    lines.append(M("Total: {n} credits", n=c.total))
    return lines


def why_no_free_credits(account: AccountView, facts: Facts, now: datetime) -> list[Msg]:
    """Why today's free credits are not there; empty when they are."""
    catalog = facts.catalog
    daily = catalog.plan(FREE).daily_free_credits
    cause = account.free_credits_blocked_by
    if cause == "paid_plan":
        plan = catalog.plan(account.plan)
        return [M("Daily free credits are for the {free} plan only. On {plan} you get {n} credits each period instead.",
                  free=free_plan_name(catalog), plan=plan_name(plan), n=plan.credits)]
    if cause == "used_today":
        return [M("You've already had today's {n} free credits. New ones arrive at {time}.",
                  n=daily, time=utc_day_start(now) + timedelta(days=1))]
    if cause == "restricted":
        return [
            M("Your account gets no daily free credits: it was created on a device that already had {max} accounts, "
              "the most allowed per device. Everything else works as usual.", max=facts.max_accounts_per_device),
            M("If you think this is a mistake, ask a moderator to review it."),
        ]
    return []


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account = event.facts.account
    lines = [*balance_lines(account), *why_no_free_credits(account, event.facts, now)]
    buttons: list[Button] = []
    if account.free_credits_blocked_by == "restricted":
        buttons.append(Button(M("Ask for a review"), "review", "primary"))
    buttons += [start_button("topup", M("Buy credits")), help_button(), close_button(M("Close"))]
    return state.at("shown"), [Reply(tuple(lines), buttons=tuple(buttons))]


def _review(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account = event.facts.account
    if account.free_credits_blocked_by != "restricted":
        return state, [Stale()]
    context = {**case_context(state), "restriction_reason": account.restriction_reason}
    return state, [OpenModeratorCase(topic="device_review", context=context, key_suffix="review", then=REVIEWED)]


def _review_reply() -> Reply:
    return Reply((M("We've asked a moderator to review the device limit on your account."), moderator_will_answer()),
                 final=True)


def _reviewed(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return state, [Notice(refusal(event.error, event.facts.catalog))]
    return state.at("review_requested", case=event.result.id), [_review_reply()]



TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("shown", "review"): _review,
    ("shown", REVIEWED): _reviewed,
    **COMMON,
}
