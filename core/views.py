"""What the core returns: read views, quotes shown before a confirm, receipts after."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from core.clock import from_ts, to_ts
from core.money import Money


@dataclass(frozen=True)
class Credits:
    free_today: int
    subscription: int
    subscription_expires_at: datetime | None
    topup: int

    @property
    def total(self) -> int:
        return self.free_today + self.subscription + self.topup


@dataclass(frozen=True)
class ScheduledChange:
    plan: str
    kind: str  # "upgrade" | "downgrade"
    effective_at: datetime


@dataclass(frozen=True)
class AccountView:
    account_id: str
    email: str
    discord_id: str | None
    plan: str
    status: str  # "free" | "active" | "past_due"
    subscription_id: str | None
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool
    cancel_reason: str | None
    scheduled_change: ScheduledChange | None
    credits: Credits
    restricted: bool
    restriction_reason: str | None
    next_billing_at: datetime | None
    next_billing_amount: Money | None
    grace_until: datetime | None
    free_credits_blocked_by: str | None  # why no daily free credits: paid_plan, used_today, restricted


@dataclass(frozen=True)
class CancelQuote:
    plan: str
    access_until: datetime
    subscription_credits: int
    topup_credits: int
    drops_change: ScheduledChange | None


@dataclass(frozen=True)
class PlanChangeQuote:
    kind: str  # subscribe | upgrade_now | upgrade_end | downgrade
    from_plan: str
    to_plan: str
    charge_now: Money
    proration_credit: Money
    starts_at: datetime
    period_end: datetime | None  # end of the new cycle when it starts now
    credits_granted: int  # the new plan's allowance, now or at start
    credits_forfeited: int  # current subscription credits that end now
    replaces: ScheduledChange | None
    next_billing_at: datetime
    next_billing_amount: Money
    quoted_at: datetime


@dataclass(frozen=True)
class ResumeQuote:
    kind: str  # "resume" | "resubscribe"
    plan: str
    next_billing_at: datetime
    next_billing_amount: Money
    charge_now: Money


@dataclass(frozen=True)
class Receipt:
    """The result of a change, stored with its idempotency key and replayed as is."""

    operation: str
    account_id: str
    at: datetime
    plan: str
    charged: Money | None = None
    proration_credit: Money | None = None
    access_until: datetime | None = None
    next_billing_at: datetime | None = None
    next_billing_amount: Money | None = None
    credits: int | None = None
    balance: int | None = None
    invoice_ids: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = {"ts": to_ts(value)}
            elif isinstance(value, Money):
                value = {"currency": value.currency, "minor": value.minor}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return json.dumps(out, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Receipt:
        raw = json.loads(text)
        for name, value in raw.items():
            if isinstance(value, dict) and set(value) == {"ts"}:
                raw[name] = from_ts(value["ts"])
            elif isinstance(value, dict) and set(value) == {"currency", "minor"}:
                raw[name] = Money(value["currency"], value["minor"])
        raw["invoice_ids"] = tuple(raw.get("invoice_ids", ()))
        return cls(**raw)


@dataclass(frozen=True)
class Invoice:
    id: str
    kind: str
    amount: Money
    plan: str | None
    bundle: str | None
    created_at: datetime
    period_start: datetime | None
    period_end: datetime | None
    refunds_invoice_id: str | None


@dataclass(frozen=True)
class Recommendation:
    approve: bool
    rule: str  # duplicate_charge | charged_before_cancel | service_failure | unused_topup | not_eligible
    grounds: str  # plain English for the moderators' queue
    facts: dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    status: str
    account_id: str | None
    discord_id: str | None
    invoice_id: str | None
    reason: str | None
    details: str | None
    context: dict[str, Any]
    recommendation: Recommendation | None
    decided_by: str | None
    decision_reason: str | None
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class DecisionEffects:
    """What deciding a case did. An approved refund: its refund invoice and amount, and what it
    took away (the subscription ended, or the top-up's unspent credits removed; nothing for a
    duplicate charge, whose twin still pays). A denial or a closed request: nothing."""

    refund_invoice_id: str | None = None
    refunded: Money | None = None
    subscription_ended: bool = False
    credits_removed: int = 0
    duplicate: bool = False

    def as_details(self) -> dict[str, Any]:
        """The JSON form, as a decision's receipt stores it (and an outbox payload carries it)."""
        out: dict[str, Any] = {}
        if self.refund_invoice_id:
            out["refund_invoice"] = self.refund_invoice_id
        if self.refunded is not None:
            out.update(amount=self.refunded.minor, currency=self.refunded.currency)
        if self.duplicate:
            out["duplicate"] = True
        if self.subscription_ended:
            out["subscription_ended"] = True
        if self.credits_removed:
            out["credits_removed"] = self.credits_removed
        return out

    @classmethod
    def from_details(cls, details: dict[str, Any] | None) -> DecisionEffects:
        details = details or {}
        refunded = None
        if "amount" in details and "currency" in details:
            refunded = Money(details["currency"], int(details["amount"]))
        return cls(details.get("refund_invoice"), refunded, bool(details.get("subscription_ended")),
                   int(details.get("credits_removed") or 0), bool(details.get("duplicate")))


@dataclass(frozen=True)
class CaseDecision:
    """What ``CaseDesk.decide`` returns: the case as decided, and what the decision did."""

    case: Case
    effects: DecisionEffects


@dataclass(frozen=True)
class SweepReport:
    renewed: int = 0
    ended: int = 0
    past_due: int = 0
    retried: int = 0
    reminders: tuple[tuple[str, str, int], ...] = ()  # (discord_id, subscription_id, period_end ts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
