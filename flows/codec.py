"""The quote a user saw, as JSON in flow data.

Flow data is stored as JSON, so a summary shown before a restart can still be
confirmed with exactly its numbers after it.
"""

from __future__ import annotations

from typing import Any

from core.clock import from_ts, to_ts
from core.money import Money
from core.views import PlanChangeQuote, ScheduledChange


def _money(m: Money) -> list:
    return [m.currency, m.minor]


def _from_money(raw: list) -> Money:
    return Money(raw[0], raw[1])


def _change(change: ScheduledChange | None) -> dict | None:
    if change is None:
        return None
    return {"plan": change.plan, "kind": change.kind, "effective_at": to_ts(change.effective_at)}


def _from_change(raw: dict | None) -> ScheduledChange | None:
    if raw is None:
        return None
    return ScheduledChange(raw["plan"], raw["kind"], from_ts(raw["effective_at"]))


def quote_to_data(q: PlanChangeQuote) -> dict[str, Any]:
    return {
        "kind": q.kind, "from_plan": q.from_plan, "to_plan": q.to_plan,
        "charge_now": _money(q.charge_now), "proration_credit": _money(q.proration_credit),
        "starts_at": to_ts(q.starts_at), "period_end": to_ts(q.period_end) if q.period_end else None,
        "credits_granted": q.credits_granted, "credits_forfeited": q.credits_forfeited,
        "replaces": _change(q.replaces), "next_billing_at": to_ts(q.next_billing_at),
        "next_billing_amount": _money(q.next_billing_amount), "quoted_at": to_ts(q.quoted_at),
    }


def quote_from_data(raw: dict[str, Any]) -> PlanChangeQuote:
    return PlanChangeQuote(
        kind=raw["kind"], from_plan=raw["from_plan"], to_plan=raw["to_plan"],
        charge_now=_from_money(raw["charge_now"]), proration_credit=_from_money(raw["proration_credit"]),
        starts_at=from_ts(raw["starts_at"]), period_end=from_ts(raw["period_end"]) if raw["period_end"] else None,
        credits_granted=raw["credits_granted"], credits_forfeited=raw["credits_forfeited"],
        replaces=_from_change(raw["replaces"]), next_billing_at=from_ts(raw["next_billing_at"]),
        next_billing_amount=_from_money(raw["next_billing_amount"]), quoted_at=from_ts(raw["quoted_at"]),
    )
