"""Charges and refunds through the payment port, each recorded as an invoice."""

from __future__ import annotations

from datetime import datetime

from core import attempts
from core.clock import from_ts, to_ts
from core.ledger import new_id
from core.money import Money
from core.views import Invoice
from storage.db import Tx


async def charge(
    tx: Tx, account_id: str, amount: Money, key: str, at: datetime, *,
    kind: str, subscription_id: str | None = None, plan: str | None = None, bundle: str | None = None, bucket_id: str | None = None,
    period: tuple[datetime, datetime] | None = None, attempt: dict | None | object = attempts.UNREAD,
) -> list[str]:
    """Take ``amount`` and write an invoice per provider charge (two if it charged twice).

    A zero amount (an upgrade fully covered by proration) still gets an invoice,
    so every money movement and every plan start has its record. ``attempt``: the
    payment attempt of ``key`` when the caller has read it already (core/account_state.py).
    """
    charge_ids: tuple[str, ...] = (f"none_{key}",)
    if amount.minor > 0:
        # Two-phase (core/attempts.py): the provider was called before this transaction's run.
        charge_ids = await attempts.take(tx, account_id, amount, key, attempt)
    invoice_ids = []
    for charge_id in charge_ids:
        invoice_id = new_id()
        await tx.write(
            "INSERT INTO invoices (id, account_id, kind, amount, currency, subscription_id, plan, bundle, bucket_id, "
            "provider_charge_id, period_start, period_end, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            invoice_id, account_id, kind, amount.minor, amount.currency, subscription_id, plan, bundle, bucket_id,
            charge_id, to_ts(period[0]) if period else None, to_ts(period[1]) if period else None, to_ts(at),
        )
        invoice_ids.append(invoice_id)
    return invoice_ids


def invoice_view(row: dict) -> Invoice:
    return Invoice(
        id=row["id"], kind=row["kind"], amount=Money(row["currency"], row["amount"]), plan=row["plan"],
        bundle=row["bundle"], created_at=from_ts(row["created_at"]),
        period_start=from_ts(row["period_start"]) if row["period_start"] is not None else None,
        period_end=from_ts(row["period_end"]) if row["period_end"] is not None else None,
        refunds_invoice_id=row["refunds_invoice_id"],
    )
