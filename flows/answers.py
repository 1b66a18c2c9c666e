"""Answers to the questions recognised in support channels (docs/bot.md, Questions in chat).

Written as a support agent would answer: the rule in plain words with the
catalog's real numbers, then what it means for this user when their account
is linked, then a button that starts the matching flow. One screen, never a
stored flow: every button here starts one.

A public answer (``personal=False``, a server channel) never carries the
asker's account facts: everyone can read it. Its buttons start flows that
show each presser their own account, privately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from core.plans import FREE
from flows.cancel import cheaper_plan
from flows.credits import why_no_free_credits
from flows.machine import Facts
from flows.replies import Button, M, Msg, Reply
from flows.status import status_reply
from flows.texts import free_plan_name, not_linked, plan_name, price_per_period, start_button
from flows.topup import bundles


def _daily(facts: Facts) -> int:
    return facts.catalog.plan(FREE).daily_free_credits


def _plan_lines(facts: Facts) -> list[Msg]:
    return [M("{plan}: {price}, {n} credits each period", plan=plan_name(p), price=price_per_period(p), n=p.credits)
            for p in facts.catalog.paid_plans()]


def _free_credits(facts: Facts, now: datetime) -> Reply:
    lines = [
        M("Accounts on the {free} plan get {n} free credits every day. They reset at midnight UTC and don't carry "
          "over to the next day.", free=free_plan_name(facts.catalog), n=_daily(facts)),
        M("Paid plans don't get daily free credits; each period they come with a larger allowance instead."),
    ]
    account = facts.account
    if account and account.status != "free":
        plan = facts.catalog.plan(account.plan)
        lines.append(M("You're on {plan}, which gives you {n} credits each period.", plan=plan_name(plan), n=plan.credits))
    elif account and account.restricted:
        lines.append(M("Your account doesn't get daily free credits because of the device limit."))
    elif account:
        lines.append(M("You have {n} free credits left today.", n=account.credits.free_today))
    return Reply(tuple(lines), buttons=(start_button("credits", M("Check my credits"), "primary"),), final=True)


def _credits_missing(facts: Facts, now: datetime) -> Reply:
    account = facts.account
    if account is None:
        return not_linked("credits")
    why = why_no_free_credits(account, facts, now)
    if not why:
        why = [M("Your free credits for today are there: {n} left. New ones arrive every day at midnight UTC.",
                 n=account.credits.free_today)]
    return Reply(tuple(why), buttons=(start_button("credits", M("Check my credits"), "primary"),), final=True)


def _device_limit(facts: Facts, now: datetime) -> Reply:
    lines = [
        M("Each device can create up to {max} accounts. Accounts created beyond that still work, but they get no "
          "daily free credits.", max=facts.max_accounts_per_device),
        M("If an account was restricted by mistake, a moderator can review it."),
    ]
    if facts.account and facts.account.restricted:
        lines.append(M("Your account is restricted by the device limit; you can ask for a review from your credits."))
    elif facts.account:
        lines.append(M("Your account is not restricted."))
    return Reply(tuple(lines), buttons=(start_button("credits", M("Check my credits"), "primary"),), final=True)


def _cancel(facts: Facts, now: datetime) -> Reply:
    lines = [
        M("You can cancel auto-renewal at any time. You keep your plan, its features and its credits until the end of "
          "the period you paid for; then your account moves to the {free} plan.", free=free_plan_name(facts.catalog)),
        M("Here it takes a reason, an optional comment and a final confirmation; nothing changes before you confirm."),
    ]
    buttons: tuple[Button, ...] = (start_button("cancel", M("Cancel renewal"), "primary"),)
    account = facts.account
    if account and account.status == "free":
        lines.append(M("You're on the {free} plan, so there is nothing to cancel.", free=free_plan_name(facts.catalog)))
        buttons = (start_button("status", M("Show my subscription")),)
    elif account and account.cancel_at_period_end:
        lines.append(M("Your auto-renewal is already cancelled; you keep access until {date}.", date=account.period_end))
        buttons = (start_button("resume", M("Resume auto-renew")),)
    elif account and account.next_billing_at:
        lines.append(M("Your {plan} plan renews on {date}.", plan=plan_name(facts.catalog.plan(account.plan)),
                       date=account.next_billing_at))
    return Reply(tuple(lines), buttons=buttons, final=True)


def _resume(facts: Facts, now: datetime) -> Reply:
    lines = [
        M("If you cancelled, you can turn auto-renew back on at any time before your period ends: nothing is charged, "
          "and your plan continues as before."),
        M("Once the period has ended, you subscribe again instead: a new period starts and is charged at once."),
    ]
    account = facts.account
    label = M("Resume auto-renew")
    if account and account.cancel_at_period_end:
        lines.append(M("Your {plan} plan is set to end on {date}; you can resume it now.",
                       plan=plan_name(facts.catalog.plan(account.plan)), date=account.period_end))
    elif account and account.status != "free":
        lines.append(M("Your auto-renew is on, so there is nothing to resume."))
    elif account:
        label = M("Subscribe again")
    return Reply(tuple(lines), buttons=(start_button("resume", label, "primary"),), final=True)


def _upgrade(facts: Facts, now: datetime) -> Reply:
    lines = [
        M("You can upgrade at any time, starting now or at the end of your period."),
        M("Now: you pay the new plan's price minus a credit for the unused part of your current period, and get the new "
          "plan's full allowance at once (your old plan's remaining subscription credits end)."),
        M("At the end of the period: nothing is charged now; the new plan starts with your next billing."),
        *_plan_lines(facts),
    ]
    if facts.account:
        lines.append(M("You're on {plan} now.", plan=plan_name(facts.catalog.plan(facts.account.plan))))
    return Reply(tuple(lines), buttons=(start_button("plan", M("Change plan"), "primary"),), final=True)


def _downgrade(facts: Facts, now: datetime) -> Reply:
    lines = [M("You can switch to a cheaper plan at any time. The switch happens at the end of your current period; "
               "you keep your plan and its credits until then, and nothing is charged now.")]
    account = facts.account
    if account and account.status != "free" and cheaper_plan(account, facts.catalog) is None and not account.scheduled_change:
        lines.append(M("You're already on the cheapest paid plan; to stop paying, cancel auto-renewal."))
    else:
        lines += _plan_lines(facts)
    return Reply(tuple(lines), buttons=(start_button("plan", M("Change plan"), "primary"),), final=True)


def _topup(facts: Facts, now: datetime) -> Reply:
    lines = [M("You can buy extra credits at any time; top-up credits never expire."),
             *(M("{n} credits for {price}", n=b.credits, price=b.price) for b in bundles(facts.catalog))]
    return Reply(tuple(lines), buttons=(start_button("topup", M("Buy credits"), "primary"),), final=True)


def _topup_expiry(facts: Facts, now: datetime) -> Reply:
    lines = [
        M("No: top-up credits never expire. They stay when you cancel, change plan, or have a subscription refunded."),
        M("Subscription credits are different: they end with each period and don't roll over."),
    ]
    if facts.account:
        lines.append(M("You have {n} top-up credits.", n=facts.account.credits.topup))
    return Reply(tuple(lines), buttons=(start_button("credits", M("Check my credits"), "primary"),), final=True)


def _after_cancel(facts: Facts, now: datetime) -> Reply:
    lines = [M("When you cancel auto-renewal, you keep your plan and its credits until the end of the period. Then your "
               "account moves to the {free} plan: subscription credits end, and top-up credits stay.",
               free=free_plan_name(facts.catalog))]
    account = facts.account
    if account and account.status != "free" and account.period_end:
        lines.append(M("For you that would be on {date}; your {n} top-up credits would stay.",
                       date=account.period_end, n=account.credits.topup))
    buttons = (start_button("status", M("Show my subscription")), start_button("cancel", M("Cancel renewal")))
    return Reply(tuple(lines), buttons=buttons, final=True)


def _refund(facts: Facts, now: datetime) -> Reply:
    lines = (
        M("Refunds are decided by a moderator. Paid periods are generally not refundable, but a duplicate charge, a "
          "service failure or a charge taken in error (for example a renewal charged just before you cancelled, with "
          "no credits used since) can be refunded."),
        M("A moderator can look at the charge with you."),
    )
    return Reply(lines, buttons=(start_button("help", M("Talk to a moderator"), "primary"),), final=True)


def _status(facts: Facts, now: datetime) -> Reply:
    return status_reply(facts) if facts.account else not_linked("status")


def _credits_missing_in_public(facts: Facts, now: datetime) -> Reply:
    lines = (
        M("Accounts on the {free} plan get {n} free credits a day. When they don't arrive, it is one of these:",
          free=free_plan_name(facts.catalog), n=_daily(facts)),
        M("The account is on a paid plan, which gets its allowance each period instead."),
        M("Today's free credits were already used; new ones arrive at midnight UTC."),
        M("The account was created on a device that already has the most accounts allowed, so it gets no daily free "
          "credits (a moderator can review this)."),
        M("The Discord account is not linked to a product account yet: use /link CODE."),
        M("Check your credits to see which one applies to you; only you will see the answer."),
    )
    return Reply(lines, buttons=(start_button("credits", M("Check my credits"), "primary"),), final=True)


def _status_in_public(facts: Facts, now: datetime) -> Reply:
    lines = (M("You can see your plan, your next billing date and your credits with the button below; only you will "
               "see them."),)
    return Reply(lines, buttons=(start_button("status", M("Show my subscription"), "primary"),), final=True)


# The questions as a user picks them from "Did you mean…?" or the menu.
TOPICS: dict[str, Msg] = {
    "free_credits": M("Free daily credits"),
    "credits_missing": M("Credits that didn't arrive"),
    "device_limit": M("Accounts on one device"),
    "cancel": M("How to cancel"),
    "resume": M("Undo a cancellation"),
    "upgrade": M("Move to a bigger plan"),
    "downgrade": M("Move to a cheaper plan"),
    "topup": M("Buy extra credits"),
    "topup_expiry": M("Do bought credits expire?"),
    "after_cancel": M("What happens after cancelling"),
    "refund": M("Ask for a refund"),
    "status": M("My plan and renewal date"),
}
MENU_TOPICS = ("status", "credits_missing", "cancel", "upgrade", "topup", "refund")


def topic_button(intent: str) -> Button:
    """A button that answers ``intent`` for whoever presses it."""
    return Button(TOPICS[intent], f"answer:{intent}")


def did_you_mean_reply(intents: tuple[str, ...]) -> Reply:
    """The likeliest questions, likeliest first, when none is clearly ahead."""
    return Reply((M("Did you mean…?"),), buttons=tuple(topic_button(i) for i in intents), final=True)


def _none(facts: Facts, now: datetime) -> Reply:
    """The menu: what the bot can help with, when it was spoken to and could not place the message."""
    lines = (M("I can help with your subscription: your plan and billing, cancelling or resuming, changing plan, "
               "buying credits, and missing credits."),
             M("Pick a topic, or ask your question in your own words."))
    buttons = (*(topic_button(i) for i in MENU_TOPICS), start_button("help", M("Talk to a moderator")))
    return Reply(lines, buttons=buttons, final=True)


# Small talk (locales/smalltalk.py) when the bot is spoken to: a short friendly word instead
# of the menu, which would read as if the bot had not listened.
SMALL_TALK: dict[str, Msg] = {
    "greeting": M("Hi! What can I help you with? Ask me about your plan, billing or credits in your own words."),
    "thanks": M("You're welcome! If anything else comes up, just ask."),
}


def small_talk_reply(kind: str) -> Reply:
    return Reply((SMALL_TALK[kind],), final=True)


ANSWERS: dict[str, Callable[[Facts, datetime], Reply]] = {
    "free_credits": _free_credits,
    "credits_missing": _credits_missing,
    "device_limit": _device_limit,
    "cancel": _cancel,
    "resume": _resume,
    "upgrade": _upgrade,
    "downgrade": _downgrade,
    "topup": _topup,
    "topup_expiry": _topup_expiry,
    "after_cancel": _after_cancel,
    "refund": _refund,
    "status": _status,
    "none": _none,
}


# Where the general rule alone would not help, a public answer of its own.
IN_PUBLIC: dict[str, Callable[[Facts, datetime], Reply]] = {
    "credits_missing": _credits_missing_in_public,
    "status": _status_in_public,
}


def answer_reply(intent: str, facts: Facts, now: datetime, personal: bool = True) -> Reply:
    """``personal=False``: nothing about the asker is said, whatever ``facts.account`` holds."""
    if intent not in ANSWERS:
        raise ValueError(f"unknown intent {intent!r}")
    if not personal:
        return IN_PUBLIC.get(intent, ANSWERS[intent])(replace(facts, account=None), now)
    return ANSWERS[intent](facts, now)
