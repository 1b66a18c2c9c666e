"""docs/core-rules.md: Upgrade and downgrade; Cancelling a scheduled change; Precedence.

Proration follows docs/core-rules.md, Upgrade and downgrade: ``old price × unused seconds / period seconds``
rounded to the minor unit; each expected amount below is worked out by hand in
its comment and checked against that formula in exact rational arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from core.errors import CoreError
from core.money import Money
from core.views import ScheduledChange
from tests.conftest import DAY, START, new_account

FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
PRICE = {"basic": 999, "plus": 1999, "pro": 4999}
CREDITS = {"basic": 1500, "plus": 4000, "pro": 12000}


def formula_proration(old_price: int, unused: timedelta, period: timedelta) -> int:
    """The proration formula of docs/core-rules.md in exact arithmetic, rounded half up to the minor unit."""
    exact = Fraction(old_price) * Fraction(int(unused.total_seconds()), int(period.total_seconds()))
    return int(exact + Fraction(1, 2))


def usd(minor: int) -> Money:
    return Money("USD", minor)


async def row(core, sql, *params):
    async with core.db.read() as tx:
        return await tx.fetchall(sql, *params)


async def sub_row(core, sub_id):
    return (await row(core, "SELECT * FROM subscriptions WHERE id = ?", sub_id))[0]


# ----- immediate upgrade ------------------------------------------------------------------

JAN = FEB_1 - START  # 31 days

PRORATION_CASES = [
    # (from, to, upgrade moment, proration credit, charge now)
    # mid-period: 999 × 15.5/31 = 499.5 → 500; 4999 − 500
    ("basic", "pro", START + timedelta(days=15, hours=12), 500, 4499),
    # day 10: 999 × 21/31 = 676.74… → 677; 4999 − 677
    ("basic", "pro", START + 10 * DAY, 677, 4322),
    # day 7: 1999 × 24/31 = 1547.61… → 1548; 4999 − 1548
    ("plus", "pro", START + 7 * DAY, 1548, 3451),
    # day 20: 999 × 11/31 = 354.48… → 354; 1999 − 354
    ("basic", "plus", START + 20 * DAY, 354, 1645),
    # the period's last second: 999 × 1/2678400 → 0; the full new price
    ("basic", "pro", FEB_1 - SECOND, 0, 4999),
    # the same second as the subscription began: all of it unused → 999
    ("basic", "pro", START, 999, 4000),
]


@pytest.mark.parametrize("old,new,moment,credit,charge", PRORATION_CASES)
async def test_immediate_upgrade_charges_new_price_minus_exact_proration(core, clock, key, old, new, moment, credit, charge):
    assert formula_proration(PRICE[old], FEB_1 - moment, JAN) == credit  # the hand-worked figure follows that formula
    assert charge == PRICE[new] - credit
    acc = await new_account(core, key, plan=old)
    clock.set(moment)
    quote = await core.quote_plan_change(acc.account_id, new, "now")
    assert (quote.kind, quote.proration_credit, quote.charge_now) == ("upgrade_now", usd(credit), usd(charge))
    receipt = await core.change_plan(acc.account_id, new, "now", key=key())
    assert (receipt.charged, receipt.proration_credit) == (usd(charge), usd(credit))
    upgrade_invoices = await row(core, "SELECT amount FROM invoices WHERE account_id = ? AND kind = 'upgrade'", acc.account_id)
    assert upgrade_invoices == [{"amount": charge}]


async def test_proration_uses_the_actual_length_of_the_current_period(core, clock, key):
    """February is 28 days: on Feb 8, 21 of 28 days are unused → 999 × 3/4 = 749.25 → 749."""
    acc = await new_account(core, key, plan="basic")
    clock.set(FEB_1 + 7 * DAY)  # renewed on Feb 1 for Feb 1 – Mar 1
    quote = await core.quote_plan_change(acc.account_id, "pro", "now")
    assert formula_proration(999, MAR_1 - clock.now(), MAR_1 - FEB_1) == 749
    assert (quote.proration_credit, quote.charge_now) == (usd(749), usd(4999 - 749))


async def test_immediate_upgrade_starts_a_new_cycle_now_with_the_new_allowance_and_one_invoice(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    await core.spend_credits(acc.account_id, 200, key=key())
    clock.set(START + 10 * DAY + timedelta(hours=5))
    now = clock.now()
    invoices_before = len(await row(core, "SELECT id FROM invoices WHERE account_id = ?", acc.account_id))

    quote = await core.quote_plan_change(acc.account_id, "pro", "now")
    assert (quote.starts_at, quote.period_end) == (now, datetime(2026, 2, 11, 5, tzinfo=UTC))
    assert (quote.credits_granted, quote.credits_forfeited) == (12000, 1300)
    receipt = await core.change_plan(acc.account_id, "pro", "now", key=key())
    assert receipt.details["forfeited"] == 1300
    assert len(receipt.invoice_ids) == 1

    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.subscription_id) == ("pro", acc.subscription_id)
    assert (view.period_start, view.period_end) == (now, datetime(2026, 2, 11, 5, tzinfo=UTC))
    assert view.credits.subscription == 12000  # the new allowance, nothing carried over
    assert view.credits.subscription_expires_at == view.period_end
    assert view.credits.topup == 500  # top-ups survive the plan change
    assert (view.next_billing_at, view.next_billing_amount) == (view.period_end, usd(4999))

    invoices = await row(core, "SELECT * FROM invoices WHERE account_id = ? ORDER BY created_at", acc.account_id)
    assert len(invoices) == invoices_before + 1
    new = [i for i in invoices if i["kind"] == "upgrade"]
    assert [(i["id"], i["amount"], i["plan"], i["period_start"], i["period_end"]) for i in new] == [
        (receipt.invoice_ids[0], receipt.charged.minor, "pro", int(now.timestamp()), int(view.period_end.timestamp()))]
    # the basic allowance's remaining 1,300 ended by one expire entry at the upgrade
    expired = await row(core, "SELECT e.delta, e.created_at FROM credit_entries e JOIN credit_buckets b ON b.id = e.bucket_id "
                              "WHERE e.account_id = ? AND e.kind = 'expire' AND b.amount = 1500", acc.account_id)
    assert expired == [{"delta": -1300, "created_at": int(now.timestamp())}]

    # the next renewal is at the new cycle's end, at the new price
    clock.set(datetime(2026, 2, 11, 5, tzinfo=UTC))
    renewed = await core.snapshot(acc.account_id)
    assert renewed.period_start == datetime(2026, 2, 11, 5, tzinfo=UTC)
    assert renewed.credits.subscription == 12000
    last = await row(core, "SELECT amount, plan FROM invoices WHERE account_id = ? AND kind = 'renewal'", acc.account_id)
    assert last == [{"amount": 4999, "plan": "pro"}]


async def test_immediate_upgrade_right_at_a_renewal_boundary(core, clock, key):
    """The upgrade lands in the same second as the renewal it triggers."""
    acc = await new_account(core, key, plan="basic")
    clock.set(FEB_1)
    receipt = await core.change_plan(acc.account_id, "plus", "now", key=key())
    # the renewal has just paid all of Feb 1 – Mar 1: the whole 999 is credited
    assert (receipt.proration_credit, receipt.charged) == (usd(999), usd(1000))
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription, view.period_end) == ("plus", 4000, MAR_1)


async def test_a_declined_upgrade_changes_nothing(core, clock, key, counts, provider):
    acc = await new_account(core, key, plan="basic")
    clock.set(START + 5 * DAY)
    before = await counts()
    provider.mode = "decline"
    with pytest.raises(CoreError) as err:
        await core.change_plan(acc.account_id, "pro", "now", key=key())
    assert err.value.code == "payment_declined"
    assert await counts() == before
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription, view.period_start) == ("basic", 1500, START)


async def test_change_to_the_current_plan_is_same_plan(core, key):
    acc = await new_account(core, key, plan="plus")
    for timing in ("now", "end"):
        with pytest.raises(CoreError) as err:
            await core.change_plan(acc.account_id, "plus", timing, key=key())
        assert err.value.code == "same_plan"


# ----- end-of-period upgrade --------------------------------------------------------------

async def test_end_of_period_upgrade_charges_nothing_now_and_starts_next_cycle(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    clock.set(START + 9 * DAY)
    quote = await core.quote_plan_change(acc.account_id, "plus", "end")
    assert (quote.kind, quote.charge_now, quote.starts_at) == ("upgrade_end", usd(0), FEB_1)
    receipt = await core.change_plan(acc.account_id, "plus", "end", key=key())
    assert receipt.charged is None and receipt.invoice_ids == ()

    clock.set(FEB_1 - SECOND)
    before = await core.snapshot(acc.account_id)
    assert (before.plan, before.credits.subscription) == ("basic", 1500)
    assert before.scheduled_change == ScheduledChange("plus", "upgrade", FEB_1)
    assert (before.next_billing_at, before.next_billing_amount) == (FEB_1, usd(1999))
    assert [i["kind"] for i in await row(core, "SELECT kind FROM invoices WHERE account_id = ?", acc.account_id)] == ["subscription"]

    clock.set(FEB_1)
    after = await core.snapshot(acc.account_id)
    assert (after.plan, after.credits.subscription, after.scheduled_change) == ("plus", 4000, None)
    assert (after.period_start, after.period_end) == (FEB_1, MAR_1)
    renewal = await row(core, "SELECT amount, plan, period_start FROM invoices WHERE account_id = ? AND kind = 'renewal'",
                        acc.account_id)
    assert renewal == [{"amount": 1999, "plan": "plus", "period_start": int(FEB_1.timestamp())}]


async def test_cancellation_is_refused_while_an_end_of_period_upgrade_is_scheduled(core, clock, key, counts):
    acc = await new_account(core, key, plan="basic")
    await core.change_plan(acc.account_id, "pro", "end", key=key())
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.quote_cancel(acc.account_id)
    assert err.value.code == "change_pending"
    with pytest.raises(CoreError) as err:
        await core.cancel(acc.account_id, "too_expensive", key=key())
    assert err.value.code == "change_pending" and err.value.details["plan"] == "pro"
    assert await counts() == before

    # once the new cycle has begun, cancellation is available again
    clock.set(FEB_1)
    receipt = await core.cancel(acc.account_id, "too_expensive", key=key())
    assert (receipt.plan, receipt.access_until) == ("pro", MAR_1)


async def test_cancelling_the_scheduled_change_keeps_the_current_plan_exactly(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    clock.set(START + 4 * DAY)
    untouched = await sub_row(core, acc.subscription_id)
    await core.change_plan(acc.account_id, "plus", "end", key=key())
    assert (await sub_row(core, acc.subscription_id))["scheduled_plan"] == "plus"
    receipt = await core.cancel_scheduled_change(acc.account_id, key=key())
    assert receipt.details["dropped"] == "plus"
    assert await sub_row(core, acc.subscription_id) == untouched

    # cancellation is allowed again, and the period renews on the old plan
    await core.quote_cancel(acc.account_id)
    clock.set(FEB_1)
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription) == ("basic", 1500)
    renewal = await row(core, "SELECT amount, plan FROM invoices WHERE account_id = ? AND kind = 'renewal'", acc.account_id)
    assert renewal == [{"amount": 999, "plan": "basic"}]


async def test_cancel_scheduled_change_without_one_is_no_change_pending(core, key):
    acc = await new_account(core, key, plan="basic")
    with pytest.raises(CoreError) as err:
        await core.cancel_scheduled_change(acc.account_id, key=key())
    assert err.value.code == "no_change_pending"


# ----- downgrade ----------------------------------------------------------------------------

async def test_downgrade_now_is_refused_as_immediate_downgrade(core, key, counts):
    acc = await new_account(core, key, plan="pro")
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.quote_plan_change(acc.account_id, "basic", "now")
    assert err.value.code == "immediate_downgrade"
    with pytest.raises(CoreError) as err:
        await core.change_plan(acc.account_id, "basic", "now", key=key())
    assert err.value.code == "immediate_downgrade"
    assert await counts() == before


async def test_downgrade_takes_effect_at_the_period_end_keeping_the_plan_until_then(core, clock, key):
    acc = await new_account(core, key, plan="pro")
    await core.spend_credits(acc.account_id, 2000, key=key())
    clock.set(START + 12 * DAY)
    receipt = await core.change_plan(acc.account_id, "basic", "end", key=key())
    assert (receipt.operation, receipt.charged, receipt.access_until) == ("downgrade", None, FEB_1)

    clock.set(FEB_1 - SECOND)
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription) == ("pro", 10000)
    assert view.scheduled_change == ScheduledChange("basic", "downgrade", FEB_1)

    clock.set(FEB_1)
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription, view.period_end) == ("basic", 1500, MAR_1)
    renewal = await row(core, "SELECT amount, plan FROM invoices WHERE account_id = ? AND kind = 'renewal'", acc.account_id)
    assert renewal == [{"amount": 999, "plan": "basic"}]


async def test_an_immediate_downgrade_is_a_moderator_action(core, clock, key):
    acc = await new_account(core, key, plan="pro")
    clock.set(START + 3 * DAY)
    await core.admin_change_plan(acc.account_id, "basic", key=key(), actor="mod:1", reason="customer asked by mail")
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription, view.period_end) == ("basic", 1500, FEB_1)
    assert [i["kind"] for i in await row(core, "SELECT kind FROM invoices WHERE account_id = ?", acc.account_id)] == ["subscription"]


# ----- precedence -----------------------------------------------------------------------------

async def test_a_new_plan_change_replaces_a_scheduled_one_and_says_so(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    await core.change_plan(acc.account_id, "plus", "end", key=key())
    quote = await core.quote_plan_change(acc.account_id, "pro", "end")
    assert quote.replaces == ScheduledChange("plus", "upgrade", FEB_1)
    receipt = await core.change_plan(acc.account_id, "pro", "end", key=key())
    assert receipt.details["replaced"] == "plus"
    assert (await core.snapshot(acc.account_id)).scheduled_change == ScheduledChange("pro", "upgrade", FEB_1)
    clock.set(FEB_1)
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription) == ("pro", 12000)


async def test_an_immediate_upgrade_replaces_a_scheduled_downgrade(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.change_plan(acc.account_id, "basic", "end", key=key())
    clock.set(START + 2 * DAY)
    quote = await core.quote_plan_change(acc.account_id, "pro", "now")
    assert quote.replaces == ScheduledChange("basic", "downgrade", FEB_1)
    receipt = await core.change_plan(acc.account_id, "pro", "now", key=key())
    assert receipt.details["replaced"] == "basic"
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.scheduled_change) == ("pro", None)


async def test_scheduling_the_change_already_scheduled_is_same_plan(core, key):
    acc = await new_account(core, key, plan="pro")
    await core.change_plan(acc.account_id, "plus", "end", key=key())
    with pytest.raises(CoreError) as err:
        await core.change_plan(acc.account_id, "plus", "end", key=key())
    assert err.value.code == "same_plan"


async def test_cancelling_drops_a_scheduled_downgrade_and_says_so(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.change_plan(acc.account_id, "basic", "end", key=key())
    quote = await core.quote_cancel(acc.account_id)
    assert quote.drops_change == ScheduledChange("basic", "downgrade", FEB_1)
    receipt = await core.cancel(acc.account_id, "too_expensive", key=key())
    assert receipt.details["dropped_change"] == "basic"
    view = await core.snapshot(acc.account_id)
    assert (view.scheduled_change, view.cancel_at_period_end) == (None, True)
    clock.set(FEB_1)
    view = await core.snapshot(acc.account_id)
    assert view.plan == "free"  # not basic: the downgrade went with the cancellation
    assert [i["kind"] for i in await row(core, "SELECT kind FROM invoices WHERE account_id = ?", acc.account_id)] == ["subscription"]


@pytest.mark.parametrize("plan,timing", [("pro", "now"), ("pro", "end"), ("basic", "end")])
async def test_a_plan_change_while_a_cancellation_is_scheduled_says_resume_first(core, key, counts, plan, timing):
    acc = await new_account(core, key, plan="plus")
    await core.cancel(acc.account_id, "other", key=key())
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.quote_plan_change(acc.account_id, plan, timing)
    assert err.value.code == "resume_first"
    with pytest.raises(CoreError) as err:
        await core.change_plan(acc.account_id, plan, timing, key=key())
    assert err.value.code == "resume_first" and err.value.details["access_until"] == FEB_1
    assert await counts() == before
    # after resuming, the same change goes through
    await core.resume(acc.account_id, key=key())
    await core.change_plan(acc.account_id, plan, timing, key=key())


async def test_a_quote_shown_before_a_renewal_is_expired_after_it(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    clock.set(FEB_1 - timedelta(minutes=5))
    quote = await core.quote_plan_change(acc.account_id, "pro", "now")
    assert quote.proration_credit == usd(0)  # 999 × 300/2678400 = 0.11 → 0
    clock.set(FEB_1 + timedelta(minutes=1))  # the renewal fell in between
    with pytest.raises(CoreError) as err:
        await core.change_plan(acc.account_id, "pro", "now", key=key(), quote=quote)
    assert err.value.code == "quote_expired"
