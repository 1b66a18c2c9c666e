"""The core's refund recommendation: which rule applies to a charge, and why.

Paid periods are generally non-refundable. A refund may be granted for a
duplicate charge, a service failure, or a charge taken in error (e.g. a
renewal charged just before the user cancelled, with no credits used since).
A moderator always decides; this only recommends, with the facts behind it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import from_ts, to_ts
from core.ledger import new_id
from core.views import Recommendation
from storage.db import Tx

DUPLICATE_WINDOW = timedelta(minutes=10)
CANCEL_AFTER_CHARGE_WINDOW = timedelta(hours=48)
REASONS = ("duplicate", "charged_before_cancel", "service_problem", "charged_by_mistake", "other")


def _hours(seconds: int) -> str:
    hours = seconds / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{max(1, seconds // 60)} min"


async def duplicate_of(tx: Tx, invoice: dict) -> dict | None:
    """The charge this one duplicates, if any: another unrefunded charge of the same kind and
    amount, within ``DUPLICATE_WINDOW``, paying for the same thing (the same period, the same
    top-up purchase; two top-ups bought a few minutes apart are two purchases, not a double
    charge). The recommendation calls it a duplicate, and the refund of one takes nothing away."""
    window = int(DUPLICATE_WINDOW.total_seconds())
    candidates = await tx.fetchall(
        "SELECT id, subscription_id, bucket_id, period_start FROM invoices t "
        "WHERE account_id = ? AND id <> ? AND kind = ? AND amount = ? "
        "AND created_at BETWEEN ? AND ? "
        # a twin already refunded no longer makes this one a duplicate
        "AND NOT EXISTS (SELECT 1 FROM invoices r WHERE r.refunds_invoice_id = t.id) ORDER BY created_at, id",
        invoice["account_id"], invoice["id"], invoice["kind"], invoice["amount"],
        invoice["created_at"] - window, invoice["created_at"] + window,
    )
    paid_for = (invoice["subscription_id"], invoice["bucket_id"], invoice["period_start"])
    return next((t for t in candidates if (t["subscription_id"], t["bucket_id"], t["period_start"]) == paid_for), None)


async def recommend(tx: Tx, invoice: dict, reason: str, now_ts: int) -> Recommendation:
    charged_at = invoice["created_at"]
    facts: dict = {"invoice": invoice["id"], "kind": invoice["kind"], "amount": invoice["amount"], "charged_at": charged_at}

    twin = await duplicate_of(tx, invoice)
    if twin:
        facts["duplicate_of"] = twin["id"]
        return Recommendation(True, "duplicate_charge", f"the same amount was charged twice within {_hours(int(DUPLICATE_WINDOW.total_seconds()))}: eligible as a duplicate charge", facts)

    used = await tx.fetchone(
        "SELECT COALESCE(-SUM(delta), 0) AS used FROM credit_entries WHERE account_id = ? AND kind = 'consume' AND created_at >= ?",
        invoice["account_id"], charged_at,
    )
    facts["credits_used_since"] = used["used"]

    if invoice["kind"] == "renewal":
        sub = await tx.fetchone("SELECT cancelled_at FROM subscriptions WHERE id = ?", invoice["subscription_id"])
        cancelled_at = sub["cancelled_at"] if sub else None
        if cancelled_at and cancelled_at >= charged_at:
            gap = cancelled_at - charged_at
            facts["cancelled_after_seconds"] = gap
            if gap <= CANCEL_AFTER_CHARGE_WINDOW.total_seconds() and used["used"] == 0:
                return Recommendation(True, "charged_before_cancel", f"renewal charged {_hours(gap)} before the cancellation, 0 credits used since: eligible under the error rule", facts)
            return Recommendation(False, "not_eligible", f"renewal charged {_hours(gap)} before the cancellation, {used['used']} credits used since: paid periods are non-refundable", facts)

    if invoice["kind"] == "topup":
        bucket = await tx.fetchone("SELECT amount, remaining FROM credit_buckets WHERE id = ?", invoice["bucket_id"])
        if bucket and bucket["remaining"] == bucket["amount"] and now_ts - charged_at <= CANCEL_AFTER_CHARGE_WINDOW.total_seconds() and reason in ("charged_by_mistake", "duplicate"):
            facts["unspent"] = bucket["remaining"]
            return Recommendation(True, "charged_by_mistake", f"top-up bought {_hours(now_ts - charged_at)} ago and none of its {bucket['amount']} credits spent: eligible as a charge in error", facts)

    if reason == "service_problem":
        return Recommendation(False, "service_failure", "the user reports a service problem: eligible only if an outage or failure is confirmed; check the incident log", facts)
    return Recommendation(False, "not_eligible", f"{invoice['kind']} charge with {used['used']} credits used since and no duplicate or error found: paid periods are non-refundable", facts)


async def record(tx: Tx, invoice: dict, refund_id: str, at: datetime) -> str:
    """The refund invoice of a charge the provider has refunded (``refund_id``); its id.
    The provider is called before, outside the transaction (core/attempts.py)."""
    invoice_id = new_id()
    await tx.write(
        "INSERT INTO invoices (id, account_id, kind, amount, currency, subscription_id, plan, bundle, "
        "refunds_invoice_id, provider_charge_id, created_at) VALUES (?, ?, 'refund', ?, ?, ?, ?, ?, ?, ?, ?)",
        invoice_id, invoice["account_id"], -invoice["amount"], invoice["currency"], invoice["subscription_id"],
        invoice["plan"], invoice["bundle"], invoice["id"], refund_id, to_ts(at),
    )
    return invoice_id


def charged_at_text(ts: int) -> str:
    return from_ts(ts).strftime("%Y-%m-%d %H:%M UTC")


__all__ = ["REASONS", "charged_at_text", "duplicate_of", "recommend", "record", "to_ts"]
