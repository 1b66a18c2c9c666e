"""Talk to a moderator, started on its own (a "Talk to a moderator" start button, /help).

    start --> ask --(Send | form with details)--> sent

Inside every other flow the same button opens the case at once with that
flow's context (flows.common); here there is no flow context, so the user may
say what they need first. Works for unlinked users too (no account attached).
"""

from __future__ import annotations

from datetime import datetime

from flows.common import COMMON, case_context, refuse
from flows.effects import OpenModeratorCase
from flows.machine import Event, FlowState, Output, Table, run_table
from flows.replies import Button, Field, Form, M, Reply
from flows.texts import close_button, moderator_will_answer

KIND = "help"

MAX_DETAILS = 1000
SENT = "=sent"


def step(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return run_table(TRANSITIONS, state, event, now)


def _ask_reply(*lead) -> Reply:
    form = Form(M("Describe the problem"), "describe",
                (Field("details", M("What do you need help with? (optional)"), MAX_DETAILS, required=False),))
    lines = (*lead, M("A moderator can look at your account and help."),
             M("Add a few words about what you need if you like, then send."))
    return Reply(lines, buttons=(Button(M("Send to a moderator"), "send", "primary"), close_button()), form=form)


def _open(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state.at("ask"), [_ask_reply()]


def _send(state: FlowState, event: Event, now: datetime, details: str | None = None) -> tuple[FlowState, list[Output]]:
    context = {**case_context(state), "details": details}
    return state, [OpenModeratorCase(topic="help", context=context, key_suffix="", then=SENT)]


def _describe(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    details = (event.fields.get("details") or "").strip()
    if len(details) > MAX_DETAILS:
        return state, [_ask_reply(M("Your message is {n} characters long; the limit is {limit}. Please shorten it.",
                                    n=len(details), limit=MAX_DETAILS))]
    return _send(state, event, now, details or None)


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
    ("ask", SENT): _sent,
    **COMMON,
}
