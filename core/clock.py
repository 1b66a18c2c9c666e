"""Time comes from an injectable clock, always UTC.

``SimulatedClock`` is the test clock: it only moves forward, and the due-work
sweep then applies what fell due (period ends, renewals, retries).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        moment = moment.astimezone(UTC)
        if moment < self._now:
            raise ValueError("a simulated clock only moves forward")
        self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        self.set(self._now + delta)
        return self._now


def to_ts(moment: datetime) -> int:
    return int(moment.timestamp())


def from_ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def add_months(anchor: datetime, months: int) -> datetime:
    """The anchor's day-of-month, months later, clamped to the month's length (Jan 31 → Feb 28)."""
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def utc_day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_DURATION = re.compile(r"^\s*(\d+)\s*([dhms]|w)\s*$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """'31d', '6h', '90m', '2w' → timedelta; anything else is a ValueError."""
    total = timedelta()
    parts = text.replace(",", " ").split()
    if not parts:
        raise ValueError("a duration like 31d, 6h or 30m is needed")
    for part in parts:
        match = _DURATION.match(part)
        if not match:
            raise ValueError(f"not a duration: {part!r} (use e.g. 31d, 6h, 30m)")
        total += timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if total <= timedelta():
        raise ValueError("the duration must be positive")
    return total
