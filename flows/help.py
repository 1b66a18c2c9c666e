"""Talk to a moderator, started on its own (a "Talk to a moderator" start button, /help).

    start --> ask --(Send)--------------------------------------> sent
      |        +--(form: what they need)--> review --(Send)-----> sent
      |                                       +--(Write it again: the form)--> review
      +--(no moderators' channel: final, nothing sent)

Inside every other flow the same button opens the case at once with that
flow's context (flows.common); here there is no flow context, so the user may
say what they need first. Typing it only shows it back with Send beside it, as
every other form leads to a confirmation: nothing reaches the moderators before
Send. Works for unlinked users too (no account attached). Without a moderators'
channel (``Facts.moderators``) nobody would read the request, so none is made
and the user is told so.
"""

from __future__ import annotations

from datetime import datetime

from flows.common import COMMON, case_context, refuse
from flows.effects import OpenModeratorCase
from flows.machine import Event, FlowState, Output, Table, run_table
from flows.replies import Button, Field, Form, M, Reply
from flows.texts import close_button, moderator_will_answer, no_moderators, quoted

KIND = "help"

MAX_DETAILS = 1000
SENT = "=sent"


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def _form() -> Form:
    return Form(M("Describe the problem"), "describe",
                (Field("details", M("What do you need help with? (optional)"), MAX_DETAILS, required=False),))


def _ask_reply(*lead) -> Reply:
    lines = (*lead, M("A moderator can look at your account and help."),
             M("Add a few words about what you need if you like, then send."))
    return Reply(lines, buttons=(Button(M("Send to a moderator"), "send", "primary"), close_button()), form=_form())


def _review_reply(details: str, *lead) -> Reply:
    lines = (*lead, M("Your message for the moderators: “{details}”", details=quoted(details, MAX_DETAILS)),
             M("Nothing is sent until you press “Send to a moderator”."))
    buttons = (Button(M("Send to a moderator"), "send", "primary"), Button(M("Write it again"), "describe"),
               close_button())
    return Reply(lines, buttons=buttons, form=_form())


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if not event.facts.moderators:
        return state.at("unavailable"), [no_moderators()]
    return state.at("ask"), [_ask_reply()]


def _send(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    context = {**case_context(state), "details": state.data.get("details")}
    return state, [OpenModeratorCase(topic="help", context=context, key_suffix="", then=SENT)]


def _describe(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    """The description typed: shown back with Send; nothing is sent yet."""
    details = (event.fields.get("details") or "").strip()
    if len(details) > MAX_DETAILS:
        too_long = M("Your message is {n} characters long; the limit is {limit}. Please shorten it.",
                     n=len(details), limit=MAX_DETAILS)
        kept = state.data.get("details")
        return state, [_review_reply(kept, too_long) if kept else _ask_reply(too_long)]
    if not details:  # an empty form: as if nothing had been typed
        return state.at("ask", details=None), [_ask_reply()]
    return state.at("review", details=details), [_review_reply(details)]


def _sent_reply() -> Reply:
    return Reply((M("Your request is with the moderators."), moderator_will_answer()), final=True)


def _sent(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return refuse(state, event.error, event)
    return state.at("sent", case=event.result.id), [_sent_reply()]



TRANSITIONS: Table = {
    ("start", "open"): _open,
    ("ask", "send"): _send,
    ("ask", "describe"): _describe,
    ("review", "send"): _send,
    ("review", "describe"): _describe,
    ("ask", SENT): _sent,
    ("review", SENT): _sent,
    **COMMON,
}
