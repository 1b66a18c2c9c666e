"""The refund intake flow: the pure step function with plain events, then through the engine on a real core.

The engine-level tests run the support conversation the product was built from: a renewal
charged, the user cancels an hour later, and asks for the money back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import to_ts
from core.money import Money
from core.refunds import REASONS
from core.views import Invoice
from flows import refund
from flows.effects import LoadInvoices, OpenRefundCase
from flows.engine import FlowEngine
from flows.machine import HOLD_UNTIL, Event, Facts, FlowState, Stale
from flows.replies import Reply
from tests.conftest import HOUR, make_core, shipped_catalog

NOW = datetime(2026, 2, 1, 13, 0, tzinfo=UTC)
USER = "4242"


def invoice(id_: str, kind: str, minor: int, at: datetime, *, plan: str | None = "plus", bundle: str | None = None,
            refunds: str | None = None) -> Invoice:
    return Invoice(id_, kind, Money("USD", minor), plan, bundle, at, None, None, refunds)


def facts() -> Facts:
    return Facts(shipped_catalog(), None, 2)


def fresh() -> FlowState:
    return FlowState("f" * 32, USER, "acct", refund.KIND, "start", {}, 0, NOW + timedelta(minutes=15), NOW, NOW)


def run(state: FlowState, action: str, **kw) -> tuple[FlowState, list]:
    return refund.step(state, Event(action, facts(), **kw), NOW)


def msgids(reply: Reply) -> list[str]:
    return [line.msgid for line in reply.lines]


# -- the pure step function ----------------------------------------------------------------------


def test_reason_labels_cover_the_cores_reasons_in_order():
    assert tuple(refund.REASON_LABELS) == REASONS


def test_open_loads_invoices_and_holds_the_flow_open_for_days():
    state, out = run(fresh(), "open")
    assert out == [LoadInvoices(then=refund.CHARGES)]
    assert state.data[HOLD_UNTIL] == to_ts(NOW + refund.HOLD)


def test_only_refundable_charges_are_offered_newest_first():
    invoices = [
        invoice("r1", "refund", -999, NOW - HOUR, refunds="c3"),
        invoice("c1", "renewal", 1999, NOW - 2 * HOUR),
        invoice("c2", "topup", 499, NOW - 3 * HOUR, plan=None, bundle="credits_500"),
        invoice("c3", "subscription", 999, NOW - 4 * HOUR, plan="basic"),
        invoice("c4", "upgrade", 0, NOW - 5 * HOUR),  # fully covered by proration: no money taken
    ]
    state, _ = run(fresh(), "open")
    state, [reply] = run(state, refund.CHARGES, result=invoices)
    assert state.step == "charge"
    assert [o.value for o in reply.select.options] == ["c1", "c2"]
    assert reply.select.action == "charge"
    assert [b.action for b in reply.buttons] == ["help", "close"]


def test_no_refundable_charge_ends_with_a_way_to_a_person():
    _, out = run(fresh(), refund.CHARGES, result=[invoice("r1", "refund", -999, NOW)])
    [reply] = out
    assert reply.final and [b.action for b in reply.buttons] == ["start:help"]


def test_charge_then_reason_then_send_opens_one_case_with_the_choices():
    state, _ = run(fresh(), refund.CHARGES, result=[invoice("c1", "renewal", 1999, NOW - HOUR)])
    state, [reply] = run(state, "charge", value="c1")
    assert state.step == "reason" and state.data["invoice"] == "c1"
    assert [o.value for o in reply.select.options] == list(REASONS)
    state, [reply] = run(state, "reason", value="charged_before_cancel")
    assert state.step == "details"
    assert reply.form.action == "details" and reply.form.fields[0].name == "details"
    assert [b.action for b in reply.buttons] == ["details", "send", "help", "close"]
    _, out = run(state, "details", fields={"details": "  @everyone I cancelled an hour later  "})
    assert out == [OpenRefundCase(invoice="c1", reason="charged_before_cancel",
                                  details="@everyone I cancelled an hour later", then=refund.OPENED)]
    _, out = run(state, "send")
    assert out == [OpenRefundCase(invoice="c1", reason="charged_before_cancel", details=None, then=refund.OPENED)]


def test_a_value_that_was_never_offered_is_stale():
    state, _ = run(fresh(), refund.CHARGES, result=[invoice("c1", "renewal", 1999, NOW - HOUR)])
    assert run(state, "charge", value="someone-elses")[1] == [Stale()]
    state, _ = run(state, "charge", value="c1")
    assert run(state, "reason", value="because")[1] == [Stale()]
    assert run(state, "send")[1] == [Stale()]  # not at the details step yet


def test_never_mind_changes_nothing_and_says_so():
    state, _ = run(fresh(), refund.CHARGES, result=[invoice("c1", "renewal", 1999, NOW - HOUR)])
    state, [reply] = run(state, "close")
    assert reply.final and msgids(reply) == ["Nothing was changed."]


def test_charge_descriptions_read_as_date_what_amount():
    catalog = shipped_catalog()
    renewal = refund.charge_data(invoice("c1", "renewal", 1999, NOW))
    msg = refund.describe_charge(renewal, catalog)
    assert msg.args["amount"] == Money("USD", 1999)
    assert msg.args["what"].msgid == "Renewal of {plan}"
    bundle = next(iter(catalog.bundles.values()))
    topup = refund.charge_data(invoice("c2", "topup", bundle.price.minor, NOW, plan=None, bundle=bundle.id))
    assert refund.describe_charge(topup, catalog).args["what"].args == {"n": bundle.credits}


# -- through the engine, on a real core --------------------------------------------------------------


@pytest.fixture
async def world(tmp_path):
    core = await make_core(f"sqlite:///{tmp_path / 'core.db'}")
    yield core, FlowEngine(core, core.db)
    await core.db.close()


async def renewal_then_cancel(core) -> str:
    """Plus from 2026-01-01; a top-up; renewed at the period end; cancelled an hour later. Returns the renewal's id."""
    account = await core.create_account("ann@example.com", key="signup", discord_id=USER, plan="plus")
    await core.buy_topup(account.account_id, "credits_500", key="topup")
    core.clock.set(account.period_end + timedelta(minutes=5))
    await core.sweep()
    core.clock.advance(HOUR)
    await core.cancel(account.account_id, "too_expensive", key="cancel")
    [renewal] = [i for i in await core.invoices(account.account_id) if i.kind == "renewal"]
    return renewal.id


async def test_the_intake_opens_a_case_recommending_approval(world):
    core, engine = world
    renewal = await renewal_then_cancel(core)
    screen = await engine.start("refund", USER)
    assert screen.step == "charge" and screen.reply.select.options[0].value == renewal
    screen = await engine.handle(screen.flow_id, "charge", USER, "charge", value=renewal)
    screen = await engine.handle(screen.flow_id, "reason", USER, "reason", value="charged_before_cancel")
    screen = await engine.handle(screen.flow_id, "details", USER, "details",
                                 fields={"details": "charged before I cancelled, no credits used"})
    assert screen.step == "sent" and screen.reply.final and not screen.notice
    [case] = await core.cases.list()
    assert (case.kind, case.invoice_id, case.reason, case.discord_id) == ("refund", renewal, "charged_before_cancel", USER)
    assert case.recommendation.approve and case.recommendation.rule == "charged_before_cancel"
    assert "1 h before the cancellation, 0 credits used since" in case.recommendation.grounds
    assert screen.reply.lines[0].args["case"] == refund.case_ref(case.id)

    # The same press again (a double click) opens nothing new and shows no second result.
    again = await engine.handle(screen.flow_id, "details", USER, "send")
    assert again.notice
    assert len(await core.cases.list()) == 1


async def test_a_second_request_for_the_same_charge_points_to_the_open_one(world):
    core, engine = world
    renewal = await renewal_then_cancel(core)

    async def request() -> object:
        screen = await engine.start("refund", USER)
        screen = await engine.handle(screen.flow_id, "charge", USER, "charge", value=renewal)
        screen = await engine.handle(screen.flow_id, "reason", USER, "reason", value="other")
        return await engine.handle(screen.flow_id, "details", USER, "send")

    first = await request()
    second = await request()
    [case] = await core.cases.list()
    assert first.step == "sent"
    assert second.reply.final and second.reply.lines[0].args["case"] == refund.case_ref(case.id)


async def test_someone_else_cannot_press_the_intake(world):
    core, engine = world
    renewal = await renewal_then_cancel(core)
    screen = await engine.start("refund", USER)
    refused = await engine.handle(screen.flow_id, "charge", "9999", "charge", value=renewal)
    assert refused.notice
    assert (await engine.current(screen.flow_id, "charge", USER)).step == "charge"


async def test_the_intake_waits_days_for_a_dm_that_is_read_late(world):
    core, engine = world
    renewal = await renewal_then_cancel(core)
    screen = await engine.start("refund", USER)
    core.clock.advance(timedelta(days=2))  # well past the 15-minute timeout
    moved = await engine.handle(screen.flow_id, "charge", USER, "charge", value=renewal)
    assert moved.step == "reason" and not moved.notice
    core.clock.advance(timedelta(days=2))
    assert (await engine.handle(moved.flow_id, "reason", USER, "reason", value="other")).notice  # expired now


async def test_an_unlinked_user_is_told_how_to_link(world):
    _, engine = world
    screen = await engine.start("refund", "777")
    assert screen.flow_id is None and "/link" in " ".join(m.msgid for m in screen.reply.lines)
