"""What the flow engine tells an observer: flows started and ended, and the product events
the people who run the bot count (cancellation reasons, save offers, resumes, refund requests).

The engine calls ``note_turn`` after each stored start or press and ``note_expired`` when a
press finds a flow that timed out unfinished; the bot's metrics (bot/metrics.py) are the
observer. flows/ never imports a metrics library, and no event carries what a user typed:
only kinds, step names and choices from fixed lists.
"""

from __future__ import annotations

from typing import Protocol

from flows import cancel, refund, resume
from flows.common import CLOSED
from flows.machine import FlowState


class FlowObserver(Protocol):
    def flow_event(self, event: str, kind: str, **labels: str) -> None:
        """``event``: started, completed (end=<final step>), abandoned (reason=closed|expired),
        cancellation (reason=<CANCEL_REASONS>), save_offer_shown, save_offer_accepted, resume,
        refund_case_opened."""


class IgnoreFlows:
    """The observer when nobody counts (the console, the CLI, most tests)."""

    def flow_event(self, event: str, kind: str, **labels: str) -> None:
        return None


def turn_events(kind: str, before: str | None, after: FlowState, final: bool) -> list[tuple[str, dict[str, str]]]:
    """The events of one stored turn: ``before`` is the step pressed on (None for a start)."""
    events: list[tuple[str, dict[str, str]]] = []
    if before is None:
        events.append(("started", {}))
    if kind == cancel.KIND and after.step == cancel.OFFER and before != cancel.OFFER:
        events.append(("save_offer_shown", {}))
    if not final:
        return events
    if after.step == CLOSED:  # "Never mind"
        return [*events, ("abandoned", {"reason": "closed"})]
    events.append(("completed", {"end": after.step}))
    if kind == cancel.KIND and after.step == cancel.DONE:
        events.append(("cancellation", {"reason": str(after.data.get("reason", "unknown"))}))
    elif kind == cancel.KIND and after.step == cancel.SWITCHED:
        events.append(("save_offer_accepted", {}))
    elif kind == resume.KIND and after.step == resume.DONE:
        events.append(("resume", {}))
    elif kind == refund.KIND and after.step == refund.SENT:
        events.append(("refund_case_opened", {}))
    return events


def note_turn(observer: FlowObserver, kind: str, before: str | None, after: FlowState, final: bool) -> None:
    for event, labels in turn_events(kind, before, after, final):
        observer.flow_event(event, kind, **labels)


def note_expired(observer: FlowObserver, kind: str) -> None:
    """A press on a flow that timed out before it finished: the user had left it."""
    observer.flow_event("abandoned", kind, reason="expired")
