"""Core refusals (``CoreError.code``) in plain words, with the way out.

Every code in core.errors.CODES has a message here (a test checks it), plus
``bad_catalog``, which the core raises without listing it. A refusal always
means nothing was written, and each message says so where the user might
wonder.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import CoreError
from core.plans import Catalog
from flows.replies import Button, M, Msg, Reply
from flows.texts import free_plan_name, plan_name, start_button


def _plan(err: CoreError, catalog: Catalog) -> Msg | None:
    plan_id = err.details.get("plan")
    return plan_name(catalog.plans[plan_id]) if plan_id in catalog.plans else None


def _already_cancelled(err: CoreError, catalog: Catalog) -> Msg:
    if "access_until" in err.details:
        return M("Auto-renewal is already cancelled. You keep access until {date}.", date=err.details["access_until"])
    return M("Auto-renewal is already cancelled.")


def _not_cancelled(err: CoreError, catalog: Catalog) -> Msg:
    if err.details.get("next_billing_at"):
        return M("Auto-renew is already on, so there is nothing to resume. Your next billing date is {date}.",
                 date=err.details["next_billing_at"])
    return M("Auto-renew is already on, so there is nothing to resume.")


def _already_ended(err: CoreError, catalog: Catalog) -> Msg:
    plan = _plan(err, catalog)
    if plan:
        return M("Your {plan} subscription has ended, so it can't be resumed. You can subscribe again instead.", plan=plan)
    return M("Your subscription has ended, so it can't be resumed. You can subscribe again instead.")


def _resume_first(err: CoreError, catalog: Catalog) -> Msg:
    if "access_until" in err.details:
        return M("Auto-renewal is cancelled, so your plan can't be changed. Resume auto-renew first (you keep access "
                 "until {date} either way), then change your plan.", date=err.details["access_until"])
    return M("Auto-renewal is cancelled, so your plan can't be changed. Resume auto-renew first, then change your plan.")


def _change_pending(err: CoreError, catalog: Catalog) -> Msg:
    plan = _plan(err, catalog)
    if plan and "effective_at" in err.details:
        return M("An upgrade to {plan} is scheduled for {date}, so auto-renewal can't be cancelled before that new "
                 "period begins. You can cancel the scheduled change first, then cancel renewal.",
                 plan=plan, date=err.details["effective_at"])
    return M("A plan change is scheduled for the end of your period, so auto-renewal can't be cancelled now. "
             "You can cancel the scheduled change first, then cancel renewal.")


def _same_plan(err: CoreError, catalog: Catalog) -> Msg:
    plan = _plan(err, catalog)
    if plan:
        return M("Nothing to change: {plan} is already your plan or your scheduled change.", plan=plan)
    return M("Nothing to change: that is already your plan or your scheduled change.")


def _insufficient(err: CoreError, catalog: Catalog) -> Msg:
    return M("There are not enough credits: {available} available.", available=int(err.details.get("available", 0)))


def _fixed(msg: Msg) -> Callable[[CoreError, Catalog], Msg]:
    return lambda err, catalog: msg


def _past_due(err: CoreError, catalog: Catalog) -> Msg:
    if "grace_until" not in err.details:
        return M("Your last renewal payment didn't go through, so your plan can't be changed until it is paid.")
    return M("Your last renewal payment didn't go through, so your plan can't be changed until it is paid. "
             "We'll retry the payment until {date}.", date=err.details["grace_until"])


MESSAGES: dict[str, Callable[[CoreError, Catalog], Msg]] = {
    "not_found": _fixed(M("I couldn't find that any more. Nothing was changed.")),
    "invalid": _fixed(M("That request wasn't valid, so nothing was changed. Please try again.")),
    "already_exists": _fixed(M("An account with this email address already exists.")),
    "no_subscription": lambda err, catalog: M("You're on the {free} plan, so there is no paid subscription to cancel or "
                                              "change.", free=free_plan_name(catalog)),
    "already_cancelled": _already_cancelled,
    "not_cancelled": _not_cancelled,
    "already_ended": _already_ended,
    "resume_first": _resume_first,
    "change_pending": _change_pending,
    "no_change_pending": _fixed(M("No plan change is scheduled, so there is nothing to cancel.")),
    "same_plan": _same_plan,
    "immediate_downgrade": _fixed(M("A move to a cheaper plan happens at the end of your period; you keep your "
                                    "current plan until then.")),
    "already_subscribed": _fixed(M("You already have a subscription. Use /plan to change it.")),
    "insufficient_credits": _insufficient,
    "payment_declined": _fixed(M("The payment did not go through, so nothing was charged and nothing was changed. "
                                 "Please check your payment method, then try again.")),
    "payment_failed": _fixed(M("The payment provider did not answer, so nothing was charged and nothing was changed. "
                               "Please try again in a few minutes.")),
    "idempotency_mismatch": _fixed(M("This button was already used for a different request. Nothing was changed; "
                                     "please start again.")),
    "code_invalid": _fixed(M("This link code is unknown, already used or expired. Get a new code and try again.")),
    "already_linked": _fixed(M("This Discord account or product account is already linked to another one. "
                               "A moderator can sort it out.")),
    "case_open": _fixed(M("A request for this charge is already open; a moderator will answer it.")),
    "case_decided": _fixed(M("This request was already decided.")),
    "not_refundable": _fixed(M("This entry is not a charge that can be refunded.")),
    "device_limit": _fixed(M("This account was created on a device that already has the most accounts allowed, "
                             "so it gets no daily free credits.")),
    "quote_expired": _fixed(M("Your account changed since this summary was shown, so nothing was charged or changed. "
                              "Please look at the new numbers.")),
    "past_due": _past_due,
    "bad_catalog": _fixed(M("Something is wrong on our side, so nothing was changed. A moderator can help.")),
}

_FALLBACK = M("Something went wrong, so nothing was changed. A moderator can help.")


def describe(err: CoreError, catalog: Catalog) -> Msg:
    explain = MESSAGES.get(err.code)
    return explain(err, catalog) if explain else _FALLBACK


def way_out(err: CoreError) -> tuple[Button, ...]:
    """The next thing to do after this refusal, as buttons that start it."""
    if err.code in ("already_cancelled", "resume_first"):
        return (start_button("resume", M("Resume auto-renew"), "primary"),)
    if err.code == "change_pending":
        return (start_button("scheduled_change", M("Cancel the scheduled change"), "primary"),)
    if err.code in ("already_ended", "no_subscription"):
        return (start_button("plan", M("Choose a plan")),)
    if err.code in ("not_cancelled", "no_change_pending", "same_plan", "immediate_downgrade", "not_found"):
        return (start_button("status", M("Show my subscription")),)
    if err.code in ("payment_declined", "payment_failed", "insufficient_credits"):
        return ()
    return (start_button("help", M("Talk to a moderator")),)


def refusal(err: CoreError, catalog: Catalog, *lead: Msg) -> Reply:
    """A final screen for a refusal: what happened, then the way out."""
    return Reply((*lead, describe(err, catalog)), buttons=way_out(err), final=True)
