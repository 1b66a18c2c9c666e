"""What moderators and users read about a case: the mod-channel post, the queue's lines, a
decision's log entry and the user's DM. Plain values (``Msg``, ``Reply``) built from the
core's views; bot/cases.py gathers the facts and sends them.
"""

from __future__ import annotations

from typing import Any

from bot.messages import TALK_TO_MODERATOR
from bot.moderation import mention, plain
from core.views import AccountView, Case, Invoice
from flows.refund import REASON_LABELS, case_ref, charge_data, describe_charge
from flows.replies import M, Msg, Reply
from flows.texts import plan_name, start_button

OPEN = ("open", "draft")
RECOMMEND = {True: M("approve"), False: M("deny")}


def reason_label(case: Case) -> Msg:
    """The refund reason as the user picked it; "other" for one the list no longer has."""
    return REASON_LABELS.get(case.reason or "", REASON_LABELS["other"])


def account_lines(account: AccountView, invoices: list[Invoice], catalog) -> list[Msg]:
    """Plan, period, credits by kind, restrictions, recent invoices: the facts a decision needs."""
    plan = plan_name(catalog.plan(account.plan))
    lines = [M("Account: {email}", email=account.email)]
    if account.status == "free":
        lines.append(M("Plan: {plan} (no paid subscription)", plan=plan))
    else:
        lines.append(
            M(
                "Plan: {plan}, {status}; period {start} to {end}",
                plan=plan,
                status=account.status,
                start=account.period_start,
                end=account.period_end,
            )
        )
        if account.cancel_at_period_end:
            lines.append(
                M("Auto-renew: off (cancelled; access until {date})", date=account.period_end)
            )
        elif account.next_billing_at and account.next_billing_amount:
            lines.append(
                M(
                    "Auto-renew: on (next billing {date}, {amount})",
                    date=account.next_billing_at,
                    amount=account.next_billing_amount,
                )
            )
        if account.scheduled_change:
            lines.append(
                M(
                    "Scheduled change: to {plan} on {date}",
                    plan=plan_name(catalog.plan(account.scheduled_change.plan)),
                    date=account.scheduled_change.effective_at,
                )
            )
    c = account.credits
    lines.append(
        M(
            "Credits: {free} free today, {subscription} subscription, {topup} top-up (total {total})",
            free=c.free_today,
            subscription=c.subscription,
            topup=c.topup,
            total=c.total,
        )
    )
    if account.restricted:
        lines.append(
            M("Restricted by the device limit: {why}", why=plain(account.restriction_reason or "-"))
        )
    else:
        lines.append(M("Restrictions: none"))
    if invoices:
        lines.append(M("Recent invoices:"))
        lines += [
            M("- {invoice}", invoice=describe_charge(charge_data(i), catalog)) for i in invoices
        ]
    else:
        lines.append(M("Recent invoices: none"))
    return lines


def case_summary(case: Case) -> Msg:
    """One line of the queue (/admin cases, /admin lookup)."""
    if case.kind == "refund":
        rec = case.recommendation
        return M(
            "{case} · refund · {user} · {reason} · recommended: {recommendation}",
            case=case_ref(case.id),
            user=mention(case.discord_id),
            reason=reason_label(case),
            recommendation=RECOMMEND[bool(rec and rec.approve)],
        )
    topic = case.context.get("kind") or case.context.get("topic") or "help"
    return M(
        "{case} · talk to a moderator · {user} · from: {topic}",
        case=case_ref(case.id),
        user=mention(case.discord_id),
        topic=str(topic),
    )


def decided_line(case: Case) -> Msg:
    who = mention(str(case.decided_by or "").removeprefix("moderator:"))
    reason = plain(case.decision_reason)
    if case.status == "approved":
        return M("Approved by {moderator}. Reason: {reason}", moderator=who, reason=reason)
    if case.status == "denied":
        return M("Denied by {moderator}. Reason: {reason}", moderator=who, reason=reason)
    return M("Closed by {moderator}. Reason: {reason}", moderator=who, reason=reason)


def case_lines(
    case: Case,
    account: AccountView | None,
    invoices: list[Invoice],
    charge: Invoice | None,
    catalog,
) -> list[Msg]:
    """A case as posted to the mod channel: who asked, what about, the core's recommendation
    and its grounds (refunds), and the account's facts."""
    user, ref = mention(case.discord_id), case_ref(case.id)
    if case.kind == "refund":
        lines = [M("**Refund request {case}** from {user}", case=ref, user=user)]
        if charge:
            lines.append(
                M("Charge: {charge}", charge=describe_charge(charge_data(charge), catalog))
            )
        lines.append(
            M("Reason: {reason}", reason=reason_label(case))
        )
        if case.details:
            lines.append(M("Details from the user: {details}", details=plain(case.details)))
        rec = case.recommendation
        if rec:
            lines.append(
                M(
                    "Recommendation: {recommendation}. Grounds: {grounds}",
                    recommendation=RECOMMEND[rec.approve],
                    grounds=rec.grounds,
                )
            )
    else:
        lines = [M("**Talk to a moderator {case}** from {user}", case=ref, user=user)]
        context = case.context
        if context.get("kind") and context.get("kind") != "help":
            lines.append(
                M(
                    "Asked from: the {flow} conversation, at step {step}",
                    flow=str(context["kind"]),
                    step=str(context.get("step", "-")),
                )
            )
        if context.get("details"):
            lines.append(M("Their note: {details}", details=plain(str(context["details"]))))
    if account is not None:
        lines += account_lines(account, invoices, catalog)
    else:
        lines.append(M("No product account is linked to this Discord user."))
    if case.status not in OPEN:
        lines.append(decided_line(case))
    return lines


def told_line(told: bool) -> Msg:
    """``told``: the decision is owed to the user by DM (the delivery loop sends it, retrying
    while Discord fails); False when there is no Discord user to tell."""
    return (
        M("The user will be told by DM as soon as Discord accepts the message.")
        if told
        else M("The user could not be told: their DMs are closed.")
    )


def decision_log(case: Case, moderator: int, told: bool, amount: Any) -> list[Msg]:
    """The mod-log entry of a decision."""
    who, user, ref = mention(moderator), mention(case.discord_id), case_ref(case.id)
    reason = plain(case.decision_reason)
    if case.status == "approved":
        line = M(
            "{moderator} approved refund request {case} for {user} ({amount} refunded). Reason: {reason}",
            moderator=who,
            case=ref,
            user=user,
            amount=amount or "-",
            reason=reason,
        )
    elif case.status == "denied":
        line = M(
            "{moderator} denied refund request {case} for {user}. Reason: {reason}",
            moderator=who,
            case=ref,
            user=user,
            reason=reason,
        )
    else:
        return [
            M(
                "{moderator} closed request {case} from {user}. Reason: {reason}",
                moderator=who,
                case=ref,
                user=user,
                reason=reason,
            )
        ]
    return [line, told_line(told)]


def decision_reply(case: Case, effects: dict[str, Any], charge: Invoice | None, catalog) -> Reply:
    """The decision as the user reads it in their DM (``effects``: what the core's refund did)."""
    ref = case_ref(case.id)
    what = (
        [M("Charge: {charge}.", charge=describe_charge(charge_data(charge), catalog))]
        if charge
        else []
    )
    if case.status == "approved":
        lines = [M("Your refund request {case} was approved.", case=ref), *what]
        if effects.get("money"):
            lines.append(
                M("{amount} is being refunded to your payment method.", amount=effects["money"])
            )
        if effects.get("subscription_ended"):
            lines.append(
                M(
                    "As with every refunded subscription charge, your subscription has ended now: its access "
                    "and remaining subscription credits stopped. Your top-up credits stay."
                )
            )
        if effects.get("credits_removed"):
            lines.append(
                M(
                    "The {n} unspent credits of that top-up were removed.",
                    n=int(effects["credits_removed"]),
                )
            )
        return Reply(tuple(lines), buttons=(start_button("status", M("Show my subscription")),))
    lines = [
        M("Your refund request {case} was declined.", case=ref),
        *what,
        M("The moderator's reason: {reason}", reason=plain(case.decision_reason, 1000)),
        M(
            "Paid periods are generally not refundable. If something is missing from the picture, you can "
            "talk to a moderator."
        ),
    ]
    return Reply(tuple(lines), buttons=(TALK_TO_MODERATOR,))
