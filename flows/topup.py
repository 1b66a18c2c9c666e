"""Buy a top-up bundle (docs/flows.md, flow 5).

    start --> choose --> confirm --> done

Invariants: charged only on the confirm; top-up credits never expire, and the
screens say so before the user pays.
"""

from __future__ import annotations

from datetime import datetime

from core.plans import Bundle, Catalog
from core.views import Receipt
from flows.common import COMMON, refuse
from flows.effects import ConfirmTopup
from flows.errors import describe
from flows.machine import Event, FlowState, Output, Stale, Table, run_table
from flows.replies import Button, M, Msg, Option, Reply, Select
from flows.texts import live, start_button

KIND = "topup"

BOUGHT = "=bought"
RETRYABLE = ("payment_declined", "payment_failed")


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def bundles(catalog: Catalog) -> list[Bundle]:
    return sorted(catalog.bundles.values(), key=lambda b: b.credits)


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    credits = event.facts.account.credits
    lines = (
        M("Top-up credits never expire, and they stay when you cancel or change plan."),
        M("Your balance now: {total} credits, of which {topup} are top-up credits.", total=credits.total, topup=credits.topup),
        M("Which bundle would you like?"),
    )
    options = tuple(Option(M("{n} credits · {price}", n=b.credits, price=b.price), b.id) for b in bundles(event.facts.catalog))
    return state.at("choose"), [Reply(lines, buttons=live(), select=Select(M("Choose a bundle"), "bundle", options))]


def _confirm_reply(bundle: Bundle, topup_now: int, *lead: Msg) -> Reply:
    lines = (
        *lead,
        M("Buy {n} credits for {price}? You're charged now.", n=bundle.credits, price=bundle.price),
        M("Your top-up credits will be {n}.", n=topup_now + bundle.credits),
    )
    pay = Button(M("Pay {price}", price=bundle.price), "confirm", "primary")
    return Reply(lines, buttons=live(pay))


def _chose(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    catalog = event.facts.catalog
    if event.value not in catalog.bundles:
        return state, [Stale()]
    bundle = catalog.bundle(event.value)
    return state.at("confirm", bundle=bundle.id), [_confirm_reply(bundle, event.facts.account.credits.topup)]


def _confirm(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state, [ConfirmTopup(bundle=state.data["bundle"], then=BOUGHT)]


def result_reply(r: Receipt) -> Reply:
    lines = (
        M("Done: {n} credits added for {price}.", n=r.credits, price=r.charged),
        M("Your balance: {total} credits, of which {topup} are top-up credits (they never expire).",
          total=r.balance, topup=r.details["topup_balance"]),
        M("Charged on {at}.", at=r.at),
    )
    return Reply(lines, buttons=(start_button("credits", M("Check my credits")),), final=True, receipt=True)


def _bought(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    catalog = event.facts.catalog
    if event.error and event.error.code in RETRYABLE:  # nothing was charged: the user may try again
        bundle = catalog.bundle(state.data["bundle"])
        return state, [_confirm_reply(bundle, event.facts.account.credits.topup, describe(event.error, catalog))]
    if event.error:
        return refuse(state, event.error, event)
    receipt: Receipt = event.result
    return state.at("done"), [result_reply(receipt)]



TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("choose", "bundle"): _chose,
    ("confirm", "confirm"): _confirm,
    ("confirm", BOUGHT): _bought,
    **COMMON,
}
