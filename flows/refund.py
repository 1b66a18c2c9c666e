"""Refund request (docs/flows.md, flow 6; docs/bot.md, Refunds go to DMs): the intake, in the user's DM.

    start --(=charges)--> charge --(select)--> reason --(select)--> details --(form | "Send without details")
      |                                                                 |
      +--(no refundable charge: final)                                  +--(=opened)--> sent
                                                                        +--(case_open, not_refundable ...)--> refused

Invariants:
- Nothing is stored for the moderators until the last press ("Send …"): choosing
  a charge or a reason, or leaving midway, opens no case, and "Never mind" says so.
- The request becomes ONE refund case through the core (``core.cases.open_refund``),
  which adds its recommendation and grounds; the key is the flow and its step, so a
  double press, or the form and the button pressed at once, open one case.
- One open case per charge: a second request for the same charge is refused by the
  core (``case_open``) and the answer points to the open request.
- The flow stays answerable for ``HOLD`` after it starts, not just the usual timeout:
  it is started by the bot in a DM the user may read later, or (DMs closed) continued
  from a Retry once the user opens their DMs.
- The user never sees the recommendation: it is advice for the moderators, who decide.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.clock import from_ts, to_ts
from core.money import Money
from core.plans import Catalog
from core.refunds import REASONS
from core.rules import MAX_DETAILS
from core.views import Case, Invoice
from flows.common import COMMON, REFUSED, refuse
from flows.effects import LoadInvoices, OpenRefundCase
from flows.machine import HOLD_UNTIL, Event, FlowState, Output, Stale, Table, run_table
from flows.replies import Button, Field, Form, M, Msg, Option, Reply, Select
from flows.texts import live, plan_name, start_button

SENT = "sent"  # the request is a case; named by the operators' counts (flows/telemetry.py)

KIND = "refund"

HOLD = timedelta(days=3)
MAX_CHARGES = 10  # the most recent charges offered (a Discord select holds 25)

CHARGES = "=charges"
OPENED = "=opened"

# Labels of core.refunds.REASONS, in its order (a test checks the keys).
REASON_LABELS: dict[str, Msg] = {
    "duplicate": M("I was charged twice for the same thing"),
    "charged_before_cancel": M("I was charged just before I cancelled"),
    "service_problem": M("The service did not work"),
    "charged_by_mistake": M("I was charged by mistake"),
    "other": M("Something else"),
}


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


# -- charges as flow data (JSON), and how they read ------------------------------------------


def charge_data(invoice: Invoice) -> dict[str, Any]:
    return {"id": invoice.id, "kind": invoice.kind, "currency": invoice.amount.currency, "minor": invoice.amount.minor,
            "at": to_ts(invoice.created_at), "plan": invoice.plan, "bundle": invoice.bundle}


def refundable(invoices: list[Invoice]) -> list[Invoice]:
    """Charges that could be refunded, newest first: money taken, not a refund, not refunded already.

    The core lists invoices newest first, so a charge's refund (always newer) is in the
    same list whenever the charge is."""
    refunded = {i.refunds_invoice_id for i in invoices if i.refunds_invoice_id}
    charges = [i for i in invoices if i.kind != "refund" and i.amount.minor > 0 and i.id not in refunded]
    return charges[:MAX_CHARGES]


def what_was_charged(charge: dict[str, Any], catalog: Catalog) -> Msg:
    """'Renewal of Plus', 'Top-up of 500 credits' ..."""
    kind, plan_id = charge["kind"], charge.get("plan")
    if kind == "refund":
        return M("Refund")
    plan = plan_name(catalog.plans[plan_id]) if plan_id in catalog.plans else None
    if kind == "topup":
        bundle = catalog.bundles.get(charge.get("bundle") or "")
        return M("Top-up of {n} credits", n=bundle.credits) if bundle else M("Top-up")
    if plan is None:
        return M("Charge")
    if kind == "renewal":
        return M("Renewal of {plan}", plan=plan)
    if kind == "upgrade":
        return M("Upgrade to {plan}", plan=plan)
    return M("Subscription to {plan}", plan=plan)


def describe_charge(charge: dict[str, Any], catalog: Catalog) -> Msg:
    """One charge on one line: date, what, amount."""
    return M("{date} · {what} · {amount}", date=from_ts(charge["at"]).date(), what=what_was_charged(charge, catalog),
             amount=Money(charge["currency"], charge["minor"]))


def _chosen(state: FlowState) -> dict[str, Any] | None:
    wanted = state.data.get("invoice")
    return next((c for c in state.data.get("charges", []) if c["id"] == wanted), None)


# -- the steps ----------------------------------------------------------------------------------


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    held = state.with_data(**{HOLD_UNTIL: to_ts(now + HOLD)})
    return held, [LoadInvoices(then=CHARGES)]


def _charge_reply(state: FlowState, catalog: Catalog, *lead: Msg) -> Reply:
    options = tuple(Option(describe_charge(c, catalog), c["id"]) for c in state.data["charges"])
    lines = (
        *lead,
        M("Let's look at your refund request together. Nothing is sent to the moderators until the last step."),
        M("Which charge is it about?"),
    )
    return Reply(lines, buttons=live(), select=Select(M("Choose a charge"), "charge", options))


def _listed(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return refuse(state, event.error, event)
    charges = [charge_data(i) for i in refundable(list(event.result or []))]
    if not charges:
        lines = (M("I can't find a charge on your account that could be refunded."),
                 M("If you think a charge is missing here, a moderator can look at it with you."))
        # Final at once: the engine stores no flow, so only a start button can follow.
        return state.at(REFUSED), [Reply(lines, buttons=(start_button("help", M("Talk to a moderator")),), final=True)]
    state = state.at("charge", charges=charges)
    return state, [_charge_reply(state, event.facts.catalog)]


def _reason_reply(charge: dict[str, Any], catalog: Catalog) -> Reply:
    lines = (
        M("Charge: {charge}.", charge=describe_charge(charge, catalog)),
        M("What happened? Choose the reason that fits best."),
    )
    options = tuple(Option(REASON_LABELS[r], r) for r in REASONS)
    return Reply(lines, buttons=live(), select=Select(M("Choose a reason"), "reason", options))


def _chose_charge(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    charge = next((c for c in state.data.get("charges", []) if c["id"] == event.value), None)
    if charge is None:
        return state, [Stale()]
    return state.at("reason", invoice=charge["id"]), [_reason_reply(charge, event.facts.catalog)]


def _details_reply(charge: dict[str, Any], reason: str, catalog: Catalog, *lead: Msg) -> Reply:
    lines = (
        *lead,
        M("Charge: {charge}.", charge=describe_charge(charge, catalog)),
        M("Reason: {reason}.", reason=REASON_LABELS[reason]),
        M("Add a few words for the moderators if you like (what happened, when you cancelled, what did not work), "
          "up to {limit} characters. Then your request goes to them.", limit=MAX_DETAILS),
    )
    form = Form(M("Details for the moderators"), "details",
                (Field("details", M("What happened?"), MAX_DETAILS, required=True),))
    buttons = (Button(M("Add details and send"), "details", "primary"), Button(M("Send without details"), "send"))
    return Reply(lines, buttons=live(*buttons), form=form)


def _chose_reason(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    charge = _chosen(state)
    if event.value not in REASONS or charge is None:
        return state, [Stale()]
    return state.at("details", reason=event.value), [_details_reply(charge, event.value, event.facts.catalog)]


def _open_case(state: FlowState, details: str | None) -> tuple[FlowState, list[Output]]:
    effect = OpenRefundCase(invoice=state.data["invoice"], reason=state.data["reason"], details=details, then=OPENED)
    return state, [effect]


def _described(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    details = (event.fields.get("details") or "").strip()
    if len(details) > MAX_DETAILS:
        too_long = M("Your message is {n} characters long; the limit is {limit}. Please shorten it.",
                     n=len(details), limit=MAX_DETAILS)
        return state, [_details_reply(_chosen(state), state.data["reason"], event.facts.catalog, too_long)]
    return _open_case(state, details or None)


def _send(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return _open_case(state, None)


def sent_reply(case_ref: str, charge: dict[str, Any], catalog: Catalog) -> Reply:
    lines = (
        M("Your refund request {case} is with the moderators.", case=case_ref),
        M("Charge: {charge}.", charge=describe_charge(charge, catalog)),
        M("Nothing has been refunded or changed yet: a moderator decides, and I'll tell you the decision here."),
    )
    return Reply(lines, final=True)


def case_ref(case_id: str) -> str:
    """The short reference users and moderators see (the first 8 characters of the case id)."""
    return f"#{case_id[:8]}"


def _opened(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    catalog = event.facts.catalog
    if event.error and event.error.code == "case_open":
        open_case = str(event.error.details.get("case", ""))
        lines = (
            M("A refund request for this charge is already open: {case}. A moderator will answer it; I'll tell you the "
              "decision here.", case=case_ref(open_case)),
            M("Nothing new was sent."),
        )
        return state.at(REFUSED, open_case=open_case), [Reply(lines, final=True)]
    if event.error:
        return refuse(state, event.error, event)
    case: Case = event.result
    return state.at(SENT, case=case.id), [sent_reply(case_ref(case.id), _chosen(state), catalog)]


TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("start", CHARGES): _listed,
    ("charge", "charge"): _chose_charge,
    ("reason", "reason"): _chose_reason,
    ("details", "details"): _described,
    ("details", "send"): _send,
    ("details", OPENED): _opened,
    **COMMON,
}

