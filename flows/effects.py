"""Effects: what a flow asks the engine to do with the core, as plain values.

Flows stay free of I/O: a handler returns one of these and gets the outcome
back as an event whose action is ``then``. ``needs_key`` effects change
something, so the engine gives them an idempotency key made of the flow id and
the step the flow is at when it emits the effect (a double press sends the
same key, and the core answers the second with the first receipt).
``confirms`` marks the final confirmations: the engine claims the flow for
that press before running it, so a different button pressed at the same
moment cannot also advance the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Effect:
    then: str
    needs_key: ClassVar[bool] = False
    confirms: ClassVar[bool] = False
    owes_post: ClassVar[bool] = False  # may owe the moderators a post (core/outbox.py)


# Reads: quotes and facts that are too expensive to load on every event.


@dataclass(frozen=True, kw_only=True)
class QuoteCancel(Effect):
    """core.quote_cancel: the exact effect of a cancellation, or the refusal."""


@dataclass(frozen=True, kw_only=True)
class QuoteResume(Effect):
    """core.quote_resume: resume (before the period ends) or resubscribe."""


@dataclass(frozen=True, kw_only=True)
class QuotePlanChange(Effect):
    plan: str
    timing: str  # "now" | "end"


@dataclass(frozen=True, kw_only=True)
class LoadInvoices(Effect):
    """The account's recent invoices (e.g. to tell an ended subscription from none at all)."""


# Changes: each is a final confirmation, idempotent by its key.


@dataclass(frozen=True, kw_only=True)
class ConfirmCancel(Effect):
    reason: str
    comment: str | None
    needs_key: ClassVar[bool] = True
    confirms: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class ConfirmResume(Effect):
    needs_key: ClassVar[bool] = True
    confirms: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class ConfirmPlanChange(Effect):
    plan: str
    timing: str
    quote: dict[str, Any]  # the summary the user saw (flows.codec), honoured by the core
    needs_key: ClassVar[bool] = True
    confirms: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class ConfirmCancelScheduledChange(Effect):
    needs_key: ClassVar[bool] = True
    confirms: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class ConfirmTopup(Effect):
    bundle: str
    needs_key: ClassVar[bool] = True
    confirms: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class OpenModeratorCase(Effect):
    """core.cases.open_help with the flow's context. Not a claim: it changes no account."""

    topic: str  # "help" | "device_review"
    context: dict[str, Any]
    key_suffix: str
    needs_key: ClassVar[bool] = True
    owes_post: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class OpenRefundCase(Effect):
    """core.cases.open_refund: the refund request as a case with the core's recommendation.

    The final press of the refund flow: claimed like a confirm, so the form and the
    "Send without details" button pressed at once open one case."""

    invoice: str
    reason: str
    details: str | None
    needs_key: ClassVar[bool] = True
    confirms: ClassVar[bool] = True
    owes_post: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class NoteSaveOffer(Effect):
    """core.save_offers: the cancel flow's save offer of ``plan`` was shown, or (``taken``) the
    switch to it confirmed; counted by the weekly report. Changes no account."""

    plan: str
    taken: bool = False
