"""docs/core-rules.md, Cancel and resume, and the worked example there.

Time starts at 2026-01-01T00:00Z; a monthly period bought then runs to
2026-02-01T00:00Z. Time moves only through the simulated clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import CoreError
from core.money import Money
from core.service import CANCEL_REASONS
from tests.conftest import DAY, START, new_account

FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


async def subscription_row(core, sub_id):
    async with core.db.read() as tx:
        return await tx.fetchone("SELECT * FROM subscriptions WHERE id = ?", sub_id)


async def invoice_kinds(core, account_id):
    async with core.db.read() as tx:
        rows = await tx.fetchall(
            "SELECT kind, amount FROM invoices WHERE account_id = ? ORDER BY created_at, kind", account_id)
    return [(r["kind"], r["amount"]) for r in rows]


# ----- the worked example (docs/core-rules.md, Cancel and resume) -----------

async def test_worked_example_cancel_on_day_3_keeps_plus_to_period_end_then_free(core, clock, key):
    """Subscribe to Plus on day 0, buy a 500 top-up, spend 4,100, cancel on day 3:
    still Plus with its credits on day 29; Free on day 31 with the subscription
    credits gone, the 400 top-up credits intact and 100 free credits that day."""
    acc = await new_account(core, key, "example", plan="plus")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    spent = await core.spend_credits(acc.account_id, 4100, key=key())
    # 4,000 subscription credits first, then 100 of the top-up
    assert spent.details["taken"] == [["subscription", 4000], ["topup", 100]]

    clock.set(START + 3 * DAY)
    receipt = await core.cancel(acc.account_id, "too_expensive", key=key())
    assert receipt.access_until == FEB_1

    clock.set(START + 29 * DAY)
    day29 = await core.snapshot(acc.account_id)
    assert (day29.plan, day29.status, day29.cancel_at_period_end) == ("plus", "active", True)
    assert day29.credits.subscription == 0 and day29.credits.topup == 400
    assert day29.next_billing_at is None  # auto-renew is off

    clock.set(START + 31 * DAY)
    day31 = await core.snapshot(acc.account_id)
    assert (day31.plan, day31.status, day31.subscription_id) == ("free", "free", None)
    assert day31.credits.subscription == 0
    assert day31.credits.topup == 400
    assert day31.credits.free_today == 100
    assert await invoice_kinds(core, acc.account_id) == [("subscription", 1999), ("topup", 499)]


async def test_worked_example_with_unspent_credits_they_stay_until_the_period_end(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.spend_credits(acc.account_id, 1000, key=key())
    clock.set(START + 3 * DAY)
    await core.cancel(acc.account_id, "not_using", key=key())

    clock.set(FEB_1 - SECOND)
    last_second = await core.snapshot(acc.account_id)
    assert (last_second.plan, last_second.credits.subscription) == ("plus", 3000)
    assert last_second.credits.subscription_expires_at == FEB_1
    # still usable in the period's last second
    await core.spend_credits(acc.account_id, 500, key=key())

    clock.set(FEB_1)
    after = await core.snapshot(acc.account_id)
    assert (after.plan, after.credits.subscription) == ("free", 0)
    row = await subscription_row(core, acc.subscription_id)
    assert (row["status"], row["end_reason"], row["ended_at"]) == ("ended", "cancelled", int(FEB_1.timestamp()))
    # the 2,500 left were forfeited by one expire entry at the period end
    async with core.db.read() as tx:
        expired = await tx.fetchall(
            "SELECT delta, created_at FROM credit_entries WHERE account_id = ? AND kind = 'expire'", acc.account_id)
    assert expired == [{"delta": -2500, "created_at": int(FEB_1.timestamp())}]
    # no renewal was charged
    assert await invoice_kinds(core, acc.account_id) == [("subscription", 1999)]


# ----- cancel: reason and comment -------------------------------------------------------

def test_the_cancel_reasons_are_the_eight_of_the_help_pages():
    assert set(CANCEL_REASONS) == {
        "too_expensive", "not_using", "missing_features", "results_quality",
        "switching_service", "technical_problems", "taking_break", "other",
    }


@pytest.mark.parametrize("reason", CANCEL_REASONS)
async def test_cancel_records_each_reason_and_the_comment(core, key, reason):
    acc = await new_account(core, key, plan="basic")
    cancel_key = key("cancel")
    await core.cancel(acc.account_id, reason, f"  comment for {reason}  ", key=cancel_key)
    row = await subscription_row(core, acc.subscription_id)
    assert (row["cancel_reason"], row["cancel_comment"]) == (reason, f"comment for {reason}")
    assert row["cancelled_at"] == int(START.timestamp())
    view = await core.snapshot(acc.account_id)
    assert view.cancel_reason == reason and view.cancel_at_period_end
    async with core.db.read() as tx:
        audit = await tx.fetchone("SELECT * FROM audit_log WHERE idempotency_key = ?", cancel_key)
    assert (audit["action"], audit["reason"], audit["actor"]) == ("cancel", reason, "user")


async def test_cancel_comment_is_optional(core, key):
    acc = await new_account(core, key, plan="basic")
    await core.cancel(acc.account_id, "other", key=key())
    row = await subscription_row(core, acc.subscription_id)
    assert (row["cancel_reason"], row["cancel_comment"]) == ("other", None)


async def test_cancel_comment_of_1000_characters_is_accepted(core, key):
    acc = await new_account(core, key, plan="basic")
    await core.cancel(acc.account_id, "other", "x" * 1000, key=key())
    assert (await subscription_row(core, acc.subscription_id))["cancel_comment"] == "x" * 1000


async def test_cancel_comment_over_1000_characters_is_refused_and_nothing_written(core, key, counts):
    acc = await new_account(core, key, plan="basic")
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.cancel(acc.account_id, "other", "x" * 1001, key=key())
    assert err.value.code == "invalid" and "1000" in err.value.message
    assert await counts() == before
    assert not (await core.snapshot(acc.account_id)).cancel_at_period_end


async def test_cancel_with_a_reason_outside_the_list_is_refused(core, key, counts):
    acc = await new_account(core, key, plan="basic")
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.cancel(acc.account_id, "because", key=key())
    assert err.value.code == "invalid" and "because" in err.value.message
    assert await counts() == before


async def test_cancel_on_free_has_nothing_to_cancel(core, key):
    acc = await new_account(core, key)
    with pytest.raises(CoreError) as err:
        await core.cancel(acc.account_id, "other", key=key())
    assert err.value.code == "no_subscription"


async def test_cancel_twice_is_already_cancelled(core, key, counts):
    acc = await new_account(core, key, plan="basic")
    await core.cancel(acc.account_id, "other", key=key())
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.cancel(acc.account_id, "too_expensive", key=key())
    assert err.value.code == "already_cancelled"
    assert err.value.details["access_until"] == FEB_1
    assert await counts() == before


async def test_cancel_quote_shows_what_stays_until_when(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    await core.spend_credits(acc.account_id, 100, key=key())
    clock.advance(DAY)
    quote = await core.quote_cancel(acc.account_id)
    assert (quote.plan, quote.access_until) == ("plus", FEB_1)
    assert (quote.subscription_credits, quote.topup_credits, quote.drops_change) == (3900, 500, None)


# ----- resume ---------------------------------------------------------------------------

async def test_resume_before_the_period_end_keeps_auto_renew_as_before(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    clock.set(START + 10 * DAY)
    await core.cancel(acc.account_id, "taking_break", "back soon", key=key())
    clock.set(FEB_1 - SECOND)
    quote = await core.quote_resume(acc.account_id)
    assert (quote.kind, quote.plan, quote.next_billing_at, quote.charge_now) == ("resume", "plus", FEB_1, Money("USD", 0))
    receipt = await core.resume(acc.account_id, key=key())
    assert (receipt.next_billing_at, receipt.next_billing_amount) == (FEB_1, Money("USD", 1999))
    row = await subscription_row(core, acc.subscription_id)
    assert (row["cancel_at_period_end"], row["cancel_reason"], row["cancel_comment"]) == (0, None, None)

    clock.set(FEB_1)
    renewed = await core.snapshot(acc.account_id)
    assert (renewed.plan, renewed.status, renewed.subscription_id) == ("plus", "active", acc.subscription_id)
    assert (renewed.period_start, renewed.period_end) == (FEB_1, datetime(2026, 3, 1, tzinfo=UTC))
    assert renewed.credits.subscription == 4000
    assert await invoice_kinds(core, acc.account_id) == [("subscription", 1999), ("renewal", 1999)]


async def test_resume_without_a_cancellation_is_not_cancelled(core, key):
    acc = await new_account(core, key, plan="plus")
    with pytest.raises(CoreError) as err:
        await core.resume(acc.account_id, key=key())
    assert err.value.code == "not_cancelled"


async def test_resume_after_the_period_ended_is_already_ended_and_writes_nothing(core, clock, key, counts):
    acc = await new_account(core, key, plan="plus")
    await core.cancel(acc.account_id, "other", key=key())
    clock.set(FEB_1)
    await core.snapshot(acc.account_id)  # apply the period end
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.resume(acc.account_id, key=key())
    assert err.value.code == "already_ended"
    assert err.value.details["plan"] == "plus"
    assert await counts() == before


async def test_resume_right_at_the_period_end_is_already_ended_even_without_a_read(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    await core.cancel(acc.account_id, "other", key=key())
    clock.set(FEB_1)  # no read, no sweep in between
    with pytest.raises(CoreError) as err:
        await core.resume(acc.account_id, key=key())
    assert err.value.code == "already_ended"


async def test_after_the_end_resubscribing_creates_a_new_subscription_charged_now(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.cancel(acc.account_id, "other", key=key())
    clock.set(FEB_1 + 5 * DAY + 3 * timedelta(hours=1))
    now = clock.now()
    quote = await core.quote_resume(acc.account_id)
    assert (quote.kind, quote.plan, quote.charge_now) == ("resubscribe", "plus", Money("USD", 1999))

    receipt = await core.change_plan(acc.account_id, "plus", key=key())
    assert (receipt.operation, receipt.charged) == ("subscribe", Money("USD", 1999))
    view = await core.snapshot(acc.account_id)
    assert view.subscription_id not in (None, acc.subscription_id)
    assert (view.plan, view.period_start, view.period_end) == ("plus", now, datetime(2026, 3, 6, 3, tzinfo=UTC))
    assert view.credits.subscription == 4000 and not view.cancel_at_period_end
    # the old row stays ended: a cancelled subscription is never revived
    assert (await subscription_row(core, acc.subscription_id))["status"] == "ended"
    async with core.db.read() as tx:
        last = await tx.fetchone(
            "SELECT kind, amount, subscription_id, created_at FROM invoices WHERE account_id = ? "
            "ORDER BY created_at DESC LIMIT 1", acc.account_id)
    assert last == {"kind": "subscription", "amount": 1999, "subscription_id": view.subscription_id,
                    "created_at": int(now.timestamp())}
