"""The product's rules as numbers and names: what a command accepts, and the settings an
operator may tune (``CoreSettings``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

CANCEL_REASONS = (
    "too_expensive", "not_using", "missing_features", "results_quality",
    "switching_service", "technical_problems", "taking_break", "other",
)
MAX_COMMENT = 1000  # a cancellation's comment, in characters (the database checks it too)
MAX_DETAILS = 1000  # a refund request's details, in characters
MAX_KEY = 255  # an idempotency key, in characters
LINK_CODE_TTL = timedelta(minutes=30)
LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes
OPEN_CASE = ("open", "draft")  # case statuses still waiting for a decision


@dataclass(frozen=True)
class CoreSettings:
    max_accounts_per_device: int = 2
    grace: timedelta = timedelta(days=3)
    reminder_days: int = 3
