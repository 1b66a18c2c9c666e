"""Transitions every flow shares, spread into each flow's table.

"Talk to a moderator" opens a case with the flow's context and answers the
presser alone: the flow stays where it was, so the user may carry on. "Never
mind" ends the flow with nothing changed, and says so.
"""

from __future__ import annotations

from datetime import datetime

from core.errors import CoreError
from flows.effects import OpenModeratorCase
from flows.errors import refusal
from flows.machine import ANY_STEP, Event, FlowState, Notice, Output
from flows.replies import M, Msg, Reply
from flows.texts import CLOSE, HELP, moderator_will_answer, no_moderators, nothing_changed

CLOSED = "closed"
REFUSED = "refused"


def case_context(state: FlowState) -> dict:
    """What the moderators see: the flow's kind, step and the user's choices so far."""
    public = {k: v for k, v in state.data.items() if not k.startswith("_")}
    return {"flow": state.id, "kind": state.kind, "step": state.step, "data": public}


def _talk_to_moderator(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if not event.facts.moderators:  # nobody would read the case: say so, and the flow stays as it was
        return state, [Notice(no_moderators(final=False))]
    return state, [OpenModeratorCase(topic="help", context=case_context(state), key_suffix="help", then="helped")]


def _helped(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    if event.error:
        return state, [Notice(refusal(event.error, event.facts.catalog))]
    note = Reply((moderator_will_answer(), M("You can carry on here meanwhile; nothing was changed.")))
    return state, [Notice(note)]


def _close(state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    return state.at(CLOSED), [nothing_changed()]


COMMON = {
    (ANY_STEP, HELP): _talk_to_moderator,
    (ANY_STEP, "helped"): _helped,
    (ANY_STEP, CLOSE): _close,
}


def refuse(state: FlowState, err: CoreError, event: Event, *lead: Msg) -> tuple[FlowState, list[Output]]:
    """End the flow on a core refusal, with the way out the refusal calls for."""
    return state.at(REFUSED), [refusal(err, event.facts.catalog, *lead)]
