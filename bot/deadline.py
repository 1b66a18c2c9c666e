"""Discord's clock for the interaction in hand: it starts when the interaction reaches the
bot (bot/dispatch.py marks it), not when a handler starts its work.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

# A modal cannot follow a defer (it must be the first answer): what may come before it is bounded.
MODAL_WITHIN = 2.0

_arrived: ContextVar[float | None] = ContextVar("interaction_arrived", default=None)


def mark_arrival() -> None:
    _arrived.set(asyncio.get_running_loop().time())


def time_left(limit: float) -> float:
    """``limit`` seconds from the interaction's arrival, less what has passed since."""
    arrived = _arrived.get()
    return limit if arrived is None else limit - (asyncio.get_running_loop().time() - arrived)
