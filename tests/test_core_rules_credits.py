"""docs/core-rules.md: Top-ups; Credit buckets and spending order; Free daily credits; Sign-up and the device limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import CoreError
from core.money import Money
from core.service import CoreSettings, SubscriptionCore
from tests.conftest import DAY, HOUR, START, new_account

FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)


async def rows(core, sql, *params):
    async with core.db.read() as tx:
        return await tx.fetchall(sql, *params)


# ----- top-up -------------------------------------------------------------------------------

@pytest.mark.parametrize("bundle,credits,price", [("credits_500", 500, 499), ("credits_2000", 2000, 1799),
                                                  ("credits_5000", 5000, 3999)])
async def test_topup_is_charged_now_and_credited_at_once(core, clock, key, bundle, credits, price):
    acc = await new_account(core, key)
    clock.advance(3 * HOUR)
    receipt = await core.buy_topup(acc.account_id, bundle, key=key())
    assert (receipt.charged, receipt.credits) == (Money("USD", price), credits)
    assert receipt.balance == 100 + credits  # with today's free credits
    assert (await core.snapshot(acc.account_id)).credits.topup == credits
    invoices = await rows(core, "SELECT kind, amount, bundle, bucket_id, created_at FROM invoices WHERE account_id = ?",
                          acc.account_id)
    assert len(invoices) == 1 and len(receipt.invoice_ids) == 1
    assert (invoices[0]["kind"], invoices[0]["amount"], invoices[0]["bundle"]) == ("topup", price, bundle)
    assert invoices[0]["created_at"] == int(clock.now().timestamp())
    bucket = await rows(core, "SELECT kind, amount, remaining, expires_at FROM credit_buckets WHERE id = ?",
                        invoices[0]["bucket_id"])
    assert bucket == [{"kind": "topup", "amount": credits, "remaining": credits, "expires_at": None}]


async def test_a_declined_topup_credits_nothing(core, key, counts, provider):
    acc = await new_account(core, key)
    before = await counts()
    provider.mode = "decline"
    with pytest.raises(CoreError) as err:
        await core.buy_topup(acc.account_id, "credits_500", key=key())
    assert err.value.code == "payment_declined"
    assert await counts() == before


async def test_topup_credits_never_expire(core, clock, key):
    acc = await new_account(core, key)
    await core.buy_topup(acc.account_id, "credits_2000", key=key())
    for days in (1, 31, 365, 3 * 365):
        clock.set(START + days * DAY)
        assert (await core.snapshot(acc.account_id)).credits.topup == 2000
        await core.sweep()
    assert await rows(core, "SELECT kind FROM credit_entries WHERE account_id = ? AND kind <> 'grant'", acc.account_id) == []


async def test_topup_credits_survive_cancellation_and_the_period_end(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    await core.cancel(acc.account_id, "other", key=key())
    clock.set(FEB_1 + 40 * DAY)
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.topup) == ("free", 500)


async def test_topup_credits_survive_plan_changes_both_ways(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    clock.advance(2 * DAY)
    await core.change_plan(acc.account_id, "pro", "now", key=key())
    assert (await core.snapshot(acc.account_id)).credits.topup == 500
    await core.change_plan(acc.account_id, "basic", "end", key=key())
    clock.advance(40 * DAY)
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.topup) == ("basic", 500)


async def test_topup_credits_survive_a_refunded_subscription(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    [invoice] = await rows(core, "SELECT id FROM invoices WHERE account_id = ? AND kind = 'subscription'", acc.account_id)
    case = await core.cases.open_refund(acc.account_id, invoice["id"], "service_problem", "nothing rendered", key=key())
    await core.cases.decide(case.id, True, key=key(), actor="mod:1", reason="outage confirmed")
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription, view.credits.topup) == ("free", 0, 500)


# ----- subscription credits -----------------------------------------------------------------

async def test_subscription_credits_are_granted_each_period_and_forfeited_at_its_end(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    assert (await core.snapshot(acc.account_id)).credits.subscription == 4000
    await core.spend_credits(acc.account_id, 1000, key=key())
    clock.set(FEB_1)
    view = await core.snapshot(acc.account_id)
    assert view.credits.subscription == 4000  # a fresh allowance, no rollover of the 3,000 left
    assert view.credits.subscription_expires_at == datetime(2026, 3, 1, tzinfo=UTC)
    entries = await rows(core, "SELECT kind, delta, created_at FROM credit_entries WHERE account_id = ? "
                               "ORDER BY created_at, kind", acc.account_id)
    jan_1, feb_1 = int(START.timestamp()), int(FEB_1.timestamp())
    assert [(e["created_at"], e["kind"], e["delta"]) for e in entries] == [
        (jan_1, "consume", -1000), (jan_1, "grant", 4000), (feb_1, "expire", -3000), (feb_1, "grant", 4000)]


# ----- free plan ------------------------------------------------------------------------------

async def test_free_plan_gets_100_credits_per_utc_day_that_do_not_accumulate(core, clock, key):
    acc = await new_account(core, key)
    assert (await core.snapshot(acc.account_id)).credits.free_today == 100
    await core.spend_credits(acc.account_id, 30, key=key())
    assert (await core.snapshot(acc.account_id)).credits.free_today == 70

    clock.set(START + DAY - timedelta(seconds=1))  # 23:59:59, same UTC day
    assert (await core.snapshot(acc.account_id)).credits.free_today == 70
    clock.set(START + DAY)  # UTC midnight: a new day, 100 again, not 170
    assert (await core.snapshot(acc.account_id)).credits.free_today == 100
    clock.set(START + 9 * DAY + 13 * HOUR)  # a week unused: still 100
    view = await core.snapshot(acc.account_id)
    assert view.credits.free_today == 100 and view.credits.total == 100
    with pytest.raises(CoreError) as err:
        await core.spend_credits(acc.account_id, 101, key=key())
    assert err.value.code == "insufficient_credits"
    await core.spend_credits(acc.account_id, 100, key=key())
    view = await core.snapshot(acc.account_id)
    assert (view.credits.free_today, view.free_credits_blocked_by) == (0, "used_today")


async def test_the_day_is_the_utc_day(core, clock, key):
    acc = await new_account(core, key)
    clock.set(START + 23 * HOUR + 30 * timedelta(minutes=1))  # 23:30 UTC (already the next day further east)
    await core.spend_credits(acc.account_id, 100, key=key())
    clock.set(START + DAY + timedelta(minutes=10))  # 00:10 UTC
    assert (await core.snapshot(acc.account_id)).credits.free_today == 100


async def test_daily_free_credits_are_for_the_free_plan_only(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    view = await core.snapshot(acc.account_id)
    assert (view.credits.free_today, view.free_credits_blocked_by) == (0, "paid_plan")
    clock.advance(DAY)
    await core.spend_credits(acc.account_id, 1500, key=key())
    with pytest.raises(CoreError) as err:
        await core.spend_credits(acc.account_id, 1, key=key())
    assert err.value.code == "insufficient_credits"
    assert await rows(core, "SELECT id FROM credit_buckets WHERE account_id = ? AND kind = 'free'", acc.account_id) == []


async def test_subscribing_ends_todays_free_credits(core, clock, key):
    acc = await new_account(core, key)
    await core.spend_credits(acc.account_id, 40, key=key())
    await core.change_plan(acc.account_id, "basic", key=key())
    view = await core.snapshot(acc.account_id)
    assert (view.credits.free_today, view.credits.subscription) == (0, 1500)


# ----- spending order --------------------------------------------------------------------------

async def test_spending_takes_todays_free_credits_before_topups(core, key):
    acc = await new_account(core, key)
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    receipt = await core.spend_credits(acc.account_id, 150, key=key())
    assert receipt.details["taken"] == [["free", 100], ["topup", 50]]
    assert receipt.balance == 450


async def test_spending_takes_subscription_credits_before_topups(core, key):
    acc = await new_account(core, key, plan="basic")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    receipt = await core.spend_credits(acc.account_id, 1600, key=key())
    assert receipt.details["taken"] == [["subscription", 1500], ["topup", 100]]
    view = await core.snapshot(acc.account_id)
    assert (view.credits.subscription, view.credits.topup) == (0, 400)


async def test_older_topups_are_spent_first(core, clock, key):
    acc = await new_account(core, key)
    first = await core.buy_topup(acc.account_id, "credits_500", key=key())
    clock.advance(HOUR)
    await core.buy_topup(acc.account_id, "credits_2000", key=key())
    await core.spend_credits(acc.account_id, 300, key=key())  # 100 free, then 200 of the first
    [bucket] = await rows(core, "SELECT b.remaining FROM credit_buckets b JOIN invoices i ON i.bucket_id = b.id "
                                "WHERE i.id = ?", first.invoice_ids[0])
    assert bucket["remaining"] == 300


async def test_a_spend_is_all_or_nothing_and_never_goes_negative(core, key, counts):
    acc = await new_account(core, key, plan="basic")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    before, view_before = await counts(), await core.snapshot(acc.account_id)
    with pytest.raises(CoreError) as err:
        await core.spend_credits(acc.account_id, 2001, key=key())
    assert err.value.code == "insufficient_credits"
    assert (err.value.details["available"], err.value.details["asked"]) == (2000, 2001)
    assert await counts() == before
    assert (await core.snapshot(acc.account_id)).credits == view_before.credits

    receipt = await core.spend_credits(acc.account_id, 2000, key=key())
    assert receipt.balance == 0
    with pytest.raises(CoreError) as err:
        await core.spend_credits(acc.account_id, 1, key=key())
    assert err.value.code == "insufficient_credits"
    negative = await rows(core, "SELECT id FROM credit_buckets WHERE remaining < 0")
    assert negative == []


# ----- device limit ----------------------------------------------------------------------------

async def test_a_device_creates_two_accounts_the_third_is_restricted_with_its_reason(core, key):
    first = await new_account(core, key, device="phone-1")
    second = await new_account(core, key, device="phone-1")
    third = await new_account(core, key, device="phone-1")
    other_device = await new_account(core, key, device="phone-2")
    assert [a.restricted for a in (first, second, third, other_device)] == [False, False, True, False]
    assert "phone-1" in third.restriction_reason and "2" in third.restriction_reason
    assert (third.credits.free_today, third.free_credits_blocked_by) == (0, "restricted")
    async with core.db.read() as tx:
        audit = await tx.fetchone("SELECT reason FROM audit_log WHERE account_id = ? AND action = 'create_account'",
                                  third.account_id)
    assert audit["reason"] == third.restriction_reason
    with pytest.raises(CoreError) as err:
        await core.spend_credits(third.account_id, 1, key=key())
    assert err.value.code == "insufficient_credits"


async def test_a_restricted_account_loses_nothing_else(core, key):
    for _ in range(2):
        await new_account(core, key, device="d")
    third = await new_account(core, key, device="d")
    await core.buy_topup(third.account_id, "credits_500", key=key())
    await core.change_plan(third.account_id, "plus", key=key())
    view = await core.snapshot(third.account_id)
    assert (view.plan, view.credits.subscription, view.credits.topup, view.restricted) == ("plus", 4000, 500, True)


async def test_lifting_a_restriction_brings_the_daily_credits_back(core, clock, key):
    for _ in range(2):
        await new_account(core, key, device="d")
    third = await new_account(core, key, device="d")
    await core.review_restriction(third.account_id, False, key=key(), actor="mod:1", reason="looks like a farm")
    assert (await core.snapshot(third.account_id)).restricted
    clock.advance(2 * HOUR)
    await core.review_restriction(third.account_id, True, key=key(), actor="mod:1", reason="family members")
    view = await core.snapshot(third.account_id)
    assert (view.restricted, view.restriction_reason, view.credits.free_today) == (False, None, 100)
    await core.spend_credits(third.account_id, 100, key=key())


async def test_the_device_limit_is_a_setting(core, key):
    roomy = SubscriptionCore(core.db, core.catalog, core.clock, core.payments, CoreSettings(max_accounts_per_device=3))
    accounts = [await new_account(roomy, key, device="tablet") for _ in range(4)]
    assert [a.restricted for a in accounts] == [False, False, False, True]
    assert CoreSettings().max_accounts_per_device == 2
