"""The subscription at a glance (/subscription): one screen, not a stored flow.

Its buttons all start other flows, so nothing needs to be remembered between
presses; which ones appear follows what the account can do right now.
"""

from __future__ import annotations

from core.plans import FREE
from flows.credits import balance_lines
from flows.machine import Facts
from flows.replies import Button, M, Msg, Reply
from flows.texts import free_plan_name, plan_name, price_per_period, start_button


def status_reply(facts: Facts) -> Reply:
    account, catalog = facts.account, facts.catalog
    plan = catalog.plan(account.plan)
    lines: list[Msg] = []
    buttons: list[Button] = []
    if account.status == "free":
        lines.append(M("Plan: {plan}, with {n} free credits a day.", plan=plan_name(plan),
                       n=catalog.plan(FREE).daily_free_credits))
        buttons.append(start_button("plan", M("Choose a plan"), "primary"))
    else:
        lines.append(M("Plan: {plan} ({price}).", plan=plan_name(plan), price=price_per_period(plan)))
        lines.append(M("Current period: {start} to {end}.", start=account.period_start, end=account.period_end))
        if account.cancel_at_period_end:
            lines.append(M("Auto-renew is off: you keep {plan} until {date}, then your account moves to the {free} "
                           "plan.", plan=plan_name(plan), date=account.period_end, free=free_plan_name(catalog)))
            buttons.append(start_button("resume", M("Resume auto-renew"), "primary"))
        elif account.status == "past_due":
            lines.append(M("Your last renewal payment didn't go through. We'll retry until {date}; your plan stays "
                           "active meanwhile.", date=account.grace_until))
        else:
            lines.append(M("Auto-renew is on. Next billing: {date}, {amount}.",
                           date=account.next_billing_at, amount=account.next_billing_amount))
        change = account.scheduled_change
        if change:
            lines.append(M("Scheduled: a change to {plan} on {date}.",
                           plan=plan_name(catalog.plan(change.plan)), date=change.effective_at))
            buttons.append(start_button("scheduled_change", M("Cancel the scheduled change")))
        if not account.cancel_at_period_end:
            buttons.append(start_button("plan", M("Change plan")))
            if not (change and change.kind == "upgrade"):
                buttons.append(start_button("cancel", M("Cancel renewal")))
    if account.restricted and account.status == "free":
        lines.append(M("This account gets no daily free credits because of the device limit."))
    lines += balance_lines(account)
    buttons += [start_button("topup", M("Buy credits")), start_button("help", M("Talk to a moderator"))]
    return Reply(tuple(lines), buttons=tuple(buttons), final=True)
