"""Cancel renewal (docs/flows.md, flow 1).

    start --(quote ok)--> reason --> comment --(skip | form)--> offer? --> confirm --> done
      |                                                           |  take --> offer_summary --> switched
      +--(refused: Free, already cancelled, upgrade scheduled)    +  keep --> kept

Invariants:
- Nothing changes before the second, explicit "Cancel renewal" press.
- Cancelling is never harder than subscribing: at most one save offer (a
  cheaper plan, never when already on the cheapest), always shown with
  "Continue to cancel" beside it; it never blocks.
- The confirmation shows the core's own quote (access until, credits that
  end, top-ups that stay, a scheduled downgrade dropped); the result is a
  receipt with date and time and a way back (Resume).
- The offer shown, and a switch to it confirmed, are noted for the weekly report
  (core/save_offers.py); the note changes nothing on the account.
"""

from __future__ import annotations

from datetime import datetime

from core.plans import Catalog, Plan
from core.rules import CANCEL_REASONS, MAX_COMMENT
from core.views import AccountView, CancelQuote, Receipt
from flows import plan_steps
from flows.common import COMMON, refuse
from flows.effects import ConfirmCancel, NoteSaveOffer, QuoteCancel
from flows.machine import ANY_STEP, Event, FlowState, Output, Stale, Table, run_table
from flows.replies import MP, Button, Field, Form, M, Option, Reply, Select
from flows.texts import (
    CANCEL_REASON_LABELS,
    live,
    nothing_changed,
    plan_name,
    price_per_period,
    quoted,
    start_button,
)

# Steps the operators' counts name (flows/telemetry.py).
OFFER, DONE = "offer", "done"  # the save offer; auto-renewal cancelled

KIND = "cancel"

QUOTED = "=quoted"
CONFIRM_QUOTED = "=confirm_quoted"
CANCELLED = "=cancelled"
NOTED = "=offer_noted"
CONTINUE = Button(M("Continue to cancel"), "continue")


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, [QuoteCancel(then=QUOTED)]


def _ask_reason(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:  # on Free, already cancelled, or an end-of-period upgrade scheduled
        return refuse(state, event.error, event)
    account, catalog = event.facts.account, event.facts.catalog
    plan = catalog.plan(account.plan)
    lines = [M("You're on the {plan} plan ({price}).", plan=plan_name(plan), price=price_per_period(plan))]
    if account.next_billing_at and account.next_billing_amount:
        lines.append(M("Auto-renew is on: your next billing is {date}, {amount}.",
                       date=account.next_billing_at, amount=account.next_billing_amount))
    lines.append(M("Why are you cancelling? Your answer helps us improve; it doesn't change anything yet."))
    options = tuple(Option(CANCEL_REASON_LABELS[r], r) for r in CANCEL_REASONS)
    select = Select(M("Choose a reason"), "reason", options)
    return state.at("reason"), [Reply(tuple(lines), buttons=live(), select=select)]


def _comment_reply(*lead) -> Reply:
    form = Form(M("Add a comment"), "comment",
                (Field("comment", M("Your comment (optional)"), MAX_COMMENT, required=False),))
    lines = (*lead, M("Anything you'd like to add? A comment is optional, up to {limit} characters.", limit=MAX_COMMENT))
    return Reply(lines, buttons=live(Button(M("Skip"), "skip")), form=form)


def _chose_reason(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.value not in CANCEL_REASONS:
        return state, [Stale()]
    return state.at("comment", reason=event.value), [_comment_reply()]


def _commented(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    text = (event.fields.get("comment") or "").strip()
    if len(text) > MAX_COMMENT:
        too_long = M("Your comment is {n} characters long; the limit is {limit}. Please shorten it.",
                     n=len(text), limit=MAX_COMMENT)
        return state, [_comment_reply(too_long)]
    return _offer_or_confirm(state.with_data(comment=text or None), event)


def _skipped(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return _offer_or_confirm(state.with_data(comment=None), event)


def cheaper_plan(account: AccountView, catalog: Catalog) -> Plan | None:
    """The one save offer: the next plan down, if there is one and nothing else is pending."""
    if account.status != "active" or account.scheduled_change:
        return None
    current = catalog.plan(account.plan)
    cheaper = [p for p in catalog.paid_plans() if catalog.is_upgrade(p, current)]
    return max(cheaper, key=lambda p: p.price.minor * 12 // p.months) if cheaper else None


def _offer_or_confirm(state: FlowState, event: Event) -> tuple[FlowState, list[Output]]:
    account, catalog = event.facts.account, event.facts.catalog
    offer = cheaper_plan(account, catalog)
    if offer is None:
        return state, [QuoteCancel(then=CONFIRM_QUOTED)]
    lines = (
        M("Before you go: you could switch to {plan} instead, for {price} with {n} credits each period.",
          plan=plan_name(offer), price=price_per_period(offer), n=offer.credits),
        M("The switch would happen at the end of your period, on {date}; nothing is charged now.", date=account.period_end),
    )
    buttons = (
        Button(M("Switch to {plan}", plan=plan_name(offer)), "take", "primary"),
        Button(M("Keep my plan"), "keep"),
        CONTINUE,
    )
    # Recorded before it is shown, for the weekly report's "save offers shown".
    note = NoteSaveOffer(plan=offer.id, then=NOTED)
    return state.at(OFFER, offer=offer.id), [note, Reply(lines, buttons=live(*buttons, close=False))]


def _noted(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, []  # the screen that follows the note is already queued


def _switched(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    """The save offer's switch confirmed (or refused): plan_steps' result, and a taken offer noted."""
    state, outputs = _PLAN_CHANGED(state, event, now)
    if state.step == SWITCHED:
        outputs = [NoteSaveOffer(plan=state.data["plan"], taken=True, then=NOTED), *outputs]
    return state, outputs


def _take_offer(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return plan_steps.ask_quote(state, OFFER, state.data["offer"], "end")


def _keep(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    account, catalog = event.facts.account, event.facts.catalog
    stays = M("Your {plan} plan stays on auto-renew.", plan=plan_name(catalog.plan(account.plan)))
    more = [stays]
    if account.next_billing_at and account.next_billing_amount:
        more.append(M("Next billing: {date}, {amount}.", date=account.next_billing_at, amount=account.next_billing_amount))
    return state.at("kept"), [nothing_changed(*more)]


def _continue(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, [QuoteCancel(then=CONFIRM_QUOTED)]


def _confirm_reply(q: CancelQuote, reason: str, catalog: Catalog, comment: str | None = None) -> Reply:
    plan = plan_name(catalog.plan(q.plan))
    lines = [
        M("Please confirm: cancel auto-renewal of your {plan} plan.", plan=plan),
        M("You keep {plan} until {date}; nothing more will be charged.", plan=plan, date=q.access_until),
        MP("Your {n} subscription credit ends then.", "Your {n} subscription credits end then.", q.subscription_credits),
        MP("Your {n} top-up credit stays: top-up credits never expire.",
           "Your {n} top-up credits stay: top-up credits never expire.", q.topup_credits),
    ]
    if q.drops_change:
        lines.append(M("Your scheduled change to {plan} on {date} will be dropped.",
                       plan=plan_name(catalog.plan(q.drops_change.plan)), date=q.drops_change.effective_at))
    lines.append(M("Your reason: {reason}.", reason=CANCEL_REASON_LABELS[reason]))
    if comment:
        lines.append(M("Your comment: “{comment}”", comment=quoted(comment)))
    buttons = (Button(M("Cancel renewal"), "confirm", "danger"), Button(M("Keep my plan"), "keep", "primary"))
    return Reply(tuple(lines), buttons=live(*buttons, close=False))


def _show_confirm(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return refuse(state, event.error, event)
    return state.at("confirm"), [_confirm_reply(event.result, state.data["reason"], event.facts.catalog,
                                                state.data.get("comment"))]


def _confirm(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, [ConfirmCancel(reason=state.data["reason"], comment=state.data.get("comment"), then=CANCELLED)]


def result_reply(r: Receipt, catalog: Catalog) -> Reply:
    plan = plan_name(catalog.plan(r.plan))
    lines = [M("Auto-renewal cancelled. You keep access to {plan} until {date}; your subscription credits end then; "
               "your top-up credits stay.", plan=plan, date=r.access_until)]
    dropped = r.details.get("dropped_change")
    if dropped:
        lines.append(M("Your scheduled change to {plan} was dropped.", plan=plan_name(catalog.plan(dropped))))
    lines.append(M("Cancelled on {at}. Changed your mind? You can resume any time before {date}.",
                   at=r.at, date=r.access_until))
    resume = start_button("resume", M("Resume auto-renew"), "primary")
    return Reply(tuple(lines), buttons=(resume,), final=True, receipt=True)


def _cancelled(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return refuse(state, event.error, event)
    receipt: Receipt = event.result
    return state.at(DONE), [result_reply(receipt, event.facts.catalog)]



OFFER_SUMMARY, SWITCHED = "offer_summary", "switched"
_PLAN_STEPS = plan_steps.transitions(summary=OFFER_SUMMARY, done=SWITCHED, extra=(CONTINUE,))
_PLAN_CHANGED = _PLAN_STEPS[(OFFER_SUMMARY, plan_steps.CHANGED)]

TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("start", QUOTED): _ask_reason,
    ("reason", "reason"): _chose_reason,
    ("comment", "comment"): _commented,
    ("comment", "skip"): _skipped,
    (ANY_STEP, CONFIRM_QUOTED): _show_confirm,
    (OFFER, "take"): _take_offer,
    (OFFER, "keep"): _keep,
    (OFFER, "continue"): _continue,
    ("offer_summary", "continue"): _continue,
    ("confirm", "confirm"): _confirm,
    ("confirm", "keep"): _keep,
    ("confirm", CANCELLED): _cancelled,
    **_PLAN_STEPS,
    (OFFER_SUMMARY, plan_steps.CHANGED): _switched,
    (ANY_STEP, NOTED): _noted,
    **COMMON,
}
