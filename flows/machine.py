"""The pieces every flow is made of: stored state, events, outputs, and the table lookup.

A flow module is a transition table plus a pure function:

    TRANSITIONS = {(step, action): handler, ...}
    def step(state, event, now) -> (state, [Reply | Notice | Effect])

A handler never does I/O. When it needs the core (a quote, a confirm, a case
for the moderators) it returns an ``Effect``; the engine runs it and feeds the
outcome back as a new event whose action is the effect's ``then`` (with
``result`` or ``error`` set). Facts the flow reads on every event (the account
as of now, the catalog) arrive in ``event.facts``.

An unknown (step, action) pair is never guessed at: ``run_table`` answers it
with ``Stale``, which the engine shows as "this confirmation has expired".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.errors import CoreError
from core.plans import Catalog
from core.views import AccountView
from flows.effects import Effect
from flows.replies import Reply

# A table entry for any live step (Talk to a moderator, Never mind).
ANY_STEP = "*"
# Data key (epoch seconds) that keeps a flow open past the usual timeout, e.g. a reminder until the renewal.
HOLD_UNTIL = "_hold_until"
# Actions that start with "=" carry an effect's outcome or an engine request; a user cannot send them.
INTERNAL = "="


@dataclass(frozen=True)
class FlowState:
    """One stored conversation. ``kind`` and ``step`` are stable strings: they are persisted."""

    id: str
    owner: str
    account_id: str | None
    kind: str
    step: str
    data: dict[str, Any]
    version: int
    expires_at: datetime
    created_at: datetime
    updated_at: datetime

    def at(self, step: str, **data: Any) -> FlowState:
        """The same flow moved to ``step``, with ``data`` merged in (None removes a key)."""
        merged = {**self.data, **data}
        return replace(self, step=step, data={k: v for k, v in merged.items() if v is not None})

    def with_data(self, **data: Any) -> FlowState:
        return self.at(self.step, **data)


@dataclass(frozen=True)
class Facts:
    """What a flow may read about the world on any event; loaded by the engine."""

    catalog: Catalog
    account: AccountView | None
    max_accounts_per_device: int
    moderators: bool = True  # a request for a moderator reaches one (the bot has a moderators' channel)


@dataclass(frozen=True)
class Event:
    action: str
    facts: Facts
    value: str | None = None  # the chosen option of a select
    fields: Mapping[str, str] = field(default_factory=dict)  # a submitted form
    result: Any = None  # an effect's outcome
    error: CoreError | None = None  # an effect's refusal


@dataclass(frozen=True)
class Notice:
    """An answer for the presser only; the flow's message and stored state stay as they are."""

    reply: Reply


@dataclass(frozen=True)
class Stale:
    """The event does not fit the flow's step: answered as expired, nothing changes."""


Output = Reply | Notice | Effect | Stale
Handler = Callable[[FlowState, Event, datetime], tuple[FlowState, list[Output]]]
Table = Mapping[tuple[str, str], Handler]


def run_table(table: Table, state: FlowState, event: Event, now: datetime) -> tuple[FlowState, list[Output]]:
    handler = table.get((state.step, event.action)) or table.get((ANY_STEP, event.action))
    if handler is None:
        return state, [Stale()]
    return handler(state, event, now)
