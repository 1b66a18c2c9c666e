"""The flows' I/O boundary: each Effect value turned into one core call.

This is the only module of flows/ that calls the core. A refusal comes back
as the CoreError (nothing was written); any other exception is a bug or an
outage and propagates.
"""

from __future__ import annotations

from typing import Any

from core.errors import CoreError
from core.save_offers import record_save_offer
from core.views import AccountView
from flows import effects as fx
from flows.codec import quote_from_data
from flows.machine import FlowState
from flows.ports import Core
from storage.db import Database


def idempotency_key(flow: FlowState, effect: fx.Effect) -> str:
    """The flow and the step it confirms at: a second press of the same button sends the same key."""
    suffix = getattr(effect, "key_suffix", "")
    return f"flow:{flow.id}:{flow.step}" + (f":{suffix}" if suffix else "")


async def run_effect(core: Core, db: Database, flow: FlowState, effect: fx.Effect,
                     seen: AccountView | None = None) -> tuple[Any, CoreError | None]:
    """``db``: the engine's, for what the flows record beside the core (a save offer shown).
    ``seen``: the flow's account as read for this press, when nothing changed it since: a
    quote is made from it instead of reading the account again."""
    account = flow.account_id
    key = idempotency_key(flow, effect) if effect.needs_key else ""
    actor = f"discord:{flow.owner}"
    try:
        match effect:
            case fx.QuoteCancel():
                return await core.quote_cancel(account, seen), None
            case fx.QuoteResume():
                return await core.quote_resume(account, seen=seen), None
            case fx.QuotePlanChange(plan=plan, timing=timing):
                return await core.quote_plan_change(account, plan, timing), None
            case fx.LoadInvoices():
                return await core.invoices(account, limit=25), None
            case fx.ConfirmCancel(reason=reason, comment=comment):
                return await core.cancel(account, reason, comment, key=key, actor=actor), None
            case fx.ConfirmResume():
                return await core.resume(account, key=key, actor=actor), None
            case fx.ConfirmPlanChange(plan=plan, timing=timing, quote=quote):
                return await core.change_plan(account, plan, timing, key=key, quote=quote_from_data(quote), actor=actor), None
            case fx.ConfirmCancelScheduledChange():
                return await core.cancel_scheduled_change(account, key=key, actor=actor), None
            case fx.ConfirmTopup(bundle=bundle):
                return await core.buy_topup(account, bundle, key=key, actor=actor), None
            case fx.OpenRefundCase(invoice=invoice, reason=reason, details=details):
                return await core.cases.open_refund(account, invoice, reason, details, key=key, discord_id=flow.owner), None
            case fx.OpenModeratorCase(topic=topic, context=context):
                return await core.cases.open_help(flow.owner, account, {"topic": topic, **context}, key=key), None
            case fx.NoteSaveOffer(plan=plan, taken=taken):
                return await record_save_offer(db, flow.id, account, plan, core.clock.now(), taken=taken), None
    except CoreError as err:
        return None, err
    raise TypeError(f"no runner for effect {effect!r}")
