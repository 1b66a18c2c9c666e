"""How many flows one user may start in a minute of real time.

Counted on a monotonic clock of this process (injectable for tests), never on the
core's clock: with CLOCK=simulated the core's time stands still between two
``clock advance`` runs, so a window counted in it would never end and the "slow
down" answer would never lift. The count lives in this process's memory: it only
keeps one user from flooding the bot with conversations, so a restart forgetting
it is harmless, and a user reaching several bot processes is limited in each.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable

# Flows one user may start per minute (reminders are the bot's own: not limited).
STARTS_PER_MINUTE = 10
WINDOW_SECONDS = 60.0
FORGET_AFTER = 10_000  # owners kept before the quiet ones are dropped


class StartLimit:
    """At most ``limit`` starts per owner in any ``window`` seconds of ``clock`` (seconds)."""

    def __init__(self, limit: int = STARTS_PER_MINUTE, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._starts: dict[Hashable, deque[float]] = defaultdict(deque)

    def allow(self, owner: Hashable, now: float | None = None) -> bool:
        """Count a start for ``owner`` now if the limit allows it; False if it does not."""
        now = self.clock() if now is None else now
        if len(self._starts) > FORGET_AFTER:
            for quiet in [o for o, seen in self._starts.items() if not seen or now - seen[-1] >= self.window]:
                del self._starts[quiet]
        seen = self._starts[owner]
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True
