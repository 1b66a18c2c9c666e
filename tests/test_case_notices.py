"""Cases reach the moderators through a hook the core calls in the case's own transaction
(core/notices.py): the outbox by default, whose decision notices carry what the decision
did, so the bot renders them without looking for it."""

from __future__ import annotations

import json

from core.clock import SimulatedClock
from core.money import Money
from core.payments import SimulatedProvider
from core.service import SubscriptionCore
from core.views import DecisionEffects
from storage.db import open_database
from tests.conftest import START, new_account, shipped_catalog


async def owed(db, kind: str) -> list[dict]:
    async with db.read() as tx:
        found = await tx.fetchall("SELECT payload FROM outbox WHERE kind = ? ORDER BY created_at, id", kind)
    return [json.loads(r["payload"]) for r in found]


async def test_a_decided_refund_owes_its_log_line_and_dm_with_what_it_did(core, key):
    acc = await new_account(core, key, plan="plus", discord="77")
    [invoice] = await core.invoices(acc.account_id)
    case = await core.cases.open_refund(acc.account_id, invoice.id, "service_problem", None, key=key(), discord_id="77")
    assert await owed(core.db, "case_post") == [{"case": case.id}]
    decision = await core.cases.decide(case.id, True, key=key(), actor="moderator:1", reason="outage confirmed")
    effects = decision.effects
    assert (decision.case.status, effects.subscription_ended, effects.refunded) == ("approved", True, Money("USD", 1999))
    assert effects.refund_invoice_id and not effects.duplicate
    for kind in ("case_decision_log", "refund_decision"):
        assert await owed(core.db, kind) == [{"case": case.id, "effects": effects.as_details()}]
    assert DecisionEffects.from_details(effects.as_details()) == effects
    # Read back from the decision's record as well (a notice owed before notices carried it).
    assert await core.cases.decision_effects(decision.case) == effects


async def test_a_denial_did_nothing_and_says_so(core, key):
    acc = await new_account(core, key, plan="plus", discord="78")
    [invoice] = await core.invoices(acc.account_id)
    case = await core.cases.open_refund(acc.account_id, invoice.id, "other", None, key=key(), discord_id="78")
    decision = await core.cases.decide(case.id, False, key=key(), actor="moderator:1", reason="not eligible")
    assert (decision.case.status, decision.effects) == ("denied", DecisionEffects())
    assert await owed(core.db, "refund_decision") == [{"case": case.id, "effects": {}}]
    assert (await core.snapshot(acc.account_id)).plan == "plus"


class Recording:
    def __init__(self) -> None:
        self.seen: list[tuple] = []

    async def opened(self, tx, case_id: str) -> None:
        self.seen.append(("opened", case_id))

    async def decided(self, tx, case: dict, effects: DecisionEffects) -> None:
        self.seen.append(("decided", case["id"], effects))


async def test_a_core_given_another_hook_tells_it_instead_of_the_outbox(tmp_path, key):
    db = await open_database(f"sqlite:///{tmp_path / 'hook.db'}")
    await db.migrate()
    hook = Recording()
    core = SubscriptionCore(db, shipped_catalog(), SimulatedClock(START), SimulatedProvider(), notices=hook)
    try:
        acc = await new_account(core, key, discord="79")
        case = await core.cases.open_help("79", acc.account_id, {"topic": "help"}, key=key())
        decision = await core.cases.decide(case.id, False, key=key(), actor="moderator:2", reason="answered")
        assert decision.case.status == "closed"
        assert hook.seen == [("opened", case.id), ("decided", case.id, DecisionEffects())]
        assert await owed(db, "case_post") == [] and await owed(db, "case_decision_log") == []
    finally:
        await db.close()
