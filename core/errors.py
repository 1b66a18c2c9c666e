"""Typed errors with stable codes; the flows translate them by code."""

from __future__ import annotations

from typing import Any


class CoreError(Exception):
    """A refusal: nothing was written. ``code`` is stable; ``details`` feed the message."""

    code = "core_error"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"CoreError({self.code!r}, {self.message!r})"


class CatalogError(CoreError):
    def __init__(self, message: str) -> None:
        super().__init__("bad_catalog", message)


# The codes a caller may see, for reference and for the flows' translations.
CODES = (
    "not_found",  # unknown account, plan, bundle, invoice or case
    "invalid",  # a bad argument: zero or negative amount, unknown reason, text too long
    "already_exists",  # an account with this email already exists
    "no_subscription",  # nothing to cancel or change: the account is on Free
    "already_cancelled",  # a cancellation is already scheduled
    "not_cancelled",  # resume without a scheduled cancellation
    "already_ended",  # the period has ended: resubscribe instead
    "resume_first",  # a plan change while a cancellation is scheduled
    "change_pending",  # cancel while an end-of-period upgrade is scheduled
    "no_change_pending",  # cancel a scheduled change when none is scheduled
    "same_plan",  # a change to the plan already held (or already scheduled)
    "immediate_downgrade",  # downgrades are end of period only (moderators excepted)
    "already_subscribed",  # subscribe while a subscription is live
    "insufficient_credits",  # a spend larger than the balance
    "payment_declined",  # the provider declined the charge
    "payment_failed",  # the provider failed; nothing was charged
    "quote_expired",  # the account changed between the summary and the confirm
    "idempotency_mismatch",  # a key reused with a different request
    "code_invalid",  # a link code that is unknown, used or expired
    "already_linked",  # the Discord user or account is linked elsewhere
    "case_open",  # a refund case for this charge is already open
    "case_decided",  # the case was decided already
    "not_refundable",  # a refund of a refund, or of a zero charge
    "past_due",  # a plan change while the last renewal payment is unpaid
    "bad_catalog",  # the plan catalog file is missing or invalid
    "device_limit",  # informational: the account was created restricted
)
