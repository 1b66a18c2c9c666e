"""docs/core-rules.md: Renewal and the grace period; Period ends applied on read; Refunds and their recommendation; Invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import CoreError
from core.money import Money
from tests.conftest import DAY, HOUR, START, new_account

FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


async def rows(core, sql, *params):
    async with core.db.read() as tx:
        return await tx.fetchall(sql, *params)


async def invoices_of(core, account_id):
    return await rows(core, "SELECT * FROM invoices WHERE account_id = ? ORDER BY created_at, kind, id", account_id)


# ----- renewal -------------------------------------------------------------------------------

async def test_renewal_at_the_period_end_charges_and_starts_a_new_period_with_fresh_credits(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.spend_credits(acc.account_id, 3999, key=key())
    clock.set(FEB_1)
    report = await core.sweep()
    assert (report.renewed, report.ended, report.past_due) == (1, 0, 0)
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.status, view.subscription_id) == ("plus", "active", acc.subscription_id)
    assert (view.period_start, view.period_end, view.credits.subscription) == (FEB_1, MAR_1, 4000)
    assert (view.next_billing_at, view.next_billing_amount.minor) == (MAR_1, 1999)
    invoices = await invoices_of(core, acc.account_id)
    assert [(i["kind"], i["amount"], i["created_at"], i["period_start"], i["period_end"]) for i in invoices] == [
        ("subscription", 1999, ts(START), ts(START), ts(FEB_1)),
        ("renewal", 1999, ts(FEB_1), ts(FEB_1), ts(MAR_1)),
    ]
    # a second sweep at the same moment finds nothing due
    assert (await core.sweep()).renewed == 0


async def test_each_period_renews_once_at_its_own_boundary_even_after_a_long_gap(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    clock.set(APR_1 + 10 * DAY)  # no read and no sweep for three boundaries
    view = await core.snapshot(acc.account_id)
    assert (view.period_start, view.period_end) == (APR_1, datetime(2026, 5, 1, tzinfo=UTC))
    renewals = [(i["created_at"], i["period_start"]) for i in await invoices_of(core, acc.account_id) if i["kind"] == "renewal"]
    assert renewals == [(ts(FEB_1), ts(FEB_1)), (ts(MAR_1), ts(MAR_1)), (ts(APR_1), ts(APR_1))]
    assert view.credits.subscription == 1500


@pytest.mark.parametrize("mode", ["decline", "fail"])
async def test_a_refused_renewal_is_past_due_and_a_retry_in_the_grace_period_restores_it(core, clock, key, provider, mode):
    acc = await new_account(core, key, plan="basic")
    provider.mode = mode
    clock.set(FEB_1)
    report = await core.sweep()
    assert report.past_due == 1
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.status, view.grace_until) == ("basic", "past_due", FEB_1 + 3 * DAY)
    assert view.next_billing_at == FEB_1 + DAY  # the first retry
    assert view.credits.subscription == 0  # the old period's credits ended with it

    clock.set(FEB_1 + DAY)
    report = await core.sweep()
    assert (report.retried, report.renewed) == (1, 0)
    assert (await core.snapshot(acc.account_id)).status == "past_due"

    provider.mode = "ok"
    clock.set(FEB_1 + 2 * DAY + HOUR)
    report = await core.sweep()
    assert (report.retried, report.renewed) == (1, 1)
    view = await core.snapshot(acc.account_id)
    assert (view.status, view.grace_until, view.credits.subscription) == ("active", None, 1500)
    assert (view.period_start, view.period_end) == (FEB_1, MAR_1)  # the cycle keeps its anchor
    renewal = [i for i in await invoices_of(core, acc.account_id) if i["kind"] == "renewal"]
    assert [(i["amount"], i["created_at"]) for i in renewal] == [(999, ts(FEB_1 + 2 * DAY))]


async def test_when_every_retry_fails_the_subscription_ends_after_the_3_day_grace(core, clock, key, provider):
    acc = await new_account(core, key, plan="plus")
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    provider.mode = "decline"
    clock.set(FEB_1 + 3 * DAY - timedelta(seconds=1))
    view = await core.snapshot(acc.account_id)
    assert (view.status, view.plan) == ("past_due", "plus")
    clock.set(FEB_1 + 3 * DAY)
    view = await core.snapshot(acc.account_id)
    assert (view.status, view.plan, view.credits.topup) == ("free", "free", 500)
    [sub] = await rows(core, "SELECT status, end_reason, ended_at, retry_count FROM subscriptions WHERE id = ?",
                       acc.subscription_id)
    assert (sub["status"], sub["end_reason"], sub["ended_at"]) == ("ended", "payment_failed", ts(FEB_1 + 3 * DAY))
    assert [i["kind"] for i in await invoices_of(core, acc.account_id)] == ["subscription", "topup"]


async def test_cancelling_while_past_due_stops_the_retries(core, clock, key, provider):
    """Cancel stops future billing: a past-due subscription is not charged by a later retry."""
    acc = await new_account(core, key, plan="basic")
    provider.mode = "decline"
    clock.set(FEB_1 + HOUR)
    quote = await core.quote_cancel(acc.account_id)
    assert quote.access_until == clock.now()  # the paid period is already over
    receipt = await core.cancel(acc.account_id, "too_expensive", key=key())
    assert receipt.access_until == clock.now()
    provider.mode = "ok"
    clock.set(FEB_1 + 2 * DAY)
    await core.sweep()
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.status) == ("free", "free")
    assert [i["kind"] for i in await invoices_of(core, acc.account_id)] == ["subscription"]


async def test_the_grace_period_is_a_setting(core, clock, key, provider):
    from core.service import CoreSettings, SubscriptionCore

    long_grace = SubscriptionCore(core.db, core.catalog, clock, provider, CoreSettings(grace=timedelta(days=5)))
    acc = await new_account(long_grace, key, plan="basic")
    provider.mode = "decline"
    clock.set(FEB_1 + 4 * DAY)
    assert (await long_grace.snapshot(acc.account_id)).status == "past_due"
    clock.set(FEB_1 + 5 * DAY)
    assert (await long_grace.snapshot(acc.account_id)).status == "free"


async def test_every_change_the_clock_makes_has_an_audit_record(core, clock, key, provider):
    renewing = await new_account(core, key, plan="basic")
    cancelled = await new_account(core, key, plan="plus")
    failing = await new_account(core, key, plan="pro")
    await core.cancel(cancelled.account_id, "other", key=key())
    clock.set(FEB_1)
    await core.snapshot(renewing.account_id)
    await core.snapshot(cancelled.account_id)
    provider.mode = "decline"
    await core.snapshot(failing.account_id)
    clock.set(FEB_1 + 3 * DAY)
    await core.sweep()

    async def trail(account_id):
        found = await rows(core, "SELECT actor, action, reason, idempotency_key, created_at FROM audit_log "
                                 "WHERE account_id = ? AND actor = 'system' ORDER BY created_at, action", account_id)
        return [(r["action"], r["reason"], r["created_at"]) for r in found], found

    renewal, found = await trail(renewing.account_id)
    assert renewal == [("renewal", None, ts(FEB_1))] and found[0]["idempotency_key"]
    assert (await trail(cancelled.account_id))[0] == [("subscription_end", "cancelled", ts(FEB_1))]
    assert (await trail(failing.account_id))[0] == [
        ("past_due", "the renewal payment was refused", ts(FEB_1)),
        ("subscription_end", "payment_failed", ts(FEB_1 + 3 * DAY))]


# ----- period-end effects on read --------------------------------------------------------------

async def test_period_end_applies_on_read_without_a_sweep_so_a_late_sweep_extends_nothing(core, clock, key):
    acc = await new_account(core, key, plan="pro")
    await core.cancel(acc.account_id, "other", key=key())
    clock.set(FEB_1 + 6 * DAY)
    # no sweep: the first thing to touch the account is a spend of subscription credits
    with pytest.raises(CoreError) as err:
        await core.spend_credits(acc.account_id, 200, key=key())
    assert err.value.code == "insufficient_credits" and err.value.details["available"] == 100  # today's free ones
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.credits.subscription) == ("free", 0)
    [sub] = await rows(core, "SELECT ended_at FROM subscriptions WHERE id = ?", acc.subscription_id)
    assert sub["ended_at"] == ts(FEB_1)  # ended at the boundary, not when it was noticed
    report = await core.sweep()
    assert (report.ended, report.renewed) == (0, 0)


async def test_a_read_applies_the_renewal_due(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    clock.set(FEB_1 + HOUR)
    view = await core.snapshot(acc.account_id)
    assert (view.period_start, view.credits.subscription) == (FEB_1, 1500)
    assert (await core.sweep()).renewed == 0


# ----- refunds -------------------------------------------------------------------------------------

async def renewal_invoice(core, account_id):
    [inv] = [i for i in await invoices_of(core, account_id) if i["kind"] == "renewal"]
    return inv


@pytest.mark.parametrize("gap", [timedelta(hours=1), timedelta(hours=1, minutes=30), timedelta(hours=2)])
async def test_a_renewal_charged_hours_before_cancelling_with_no_credits_used_is_recommended(core, clock, key, gap):
    acc = await new_account(core, key, plan="plus")
    clock.set(FEB_1)
    await core.sweep()
    clock.set(FEB_1 + gap)
    await core.cancel(acc.account_id, "not_using", key=key())
    invoice = await renewal_invoice(core, acc.account_id)
    case = await core.cases.open_refund(acc.account_id, invoice["id"], "charged_before_cancel", None, key=key())
    rec = case.recommendation
    assert (rec.approve, rec.rule) == (True, "charged_before_cancel")
    assert "error rule" in rec.grounds and "0 credits used" in rec.grounds
    assert (rec.facts["credits_used_since"], rec.facts["cancelled_after_seconds"]) == (0, int(gap.total_seconds()))


async def test_the_same_renewal_with_credits_used_since_is_not_eligible(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    clock.set(FEB_1)
    await core.spend_credits(acc.account_id, 5, key=key())  # after the renewal charge
    clock.set(FEB_1 + HOUR)
    await core.cancel(acc.account_id, "not_using", key=key())
    invoice = await renewal_invoice(core, acc.account_id)
    case = await core.cases.open_refund(acc.account_id, invoice["id"], "charged_before_cancel", None, key=key())
    assert (case.recommendation.approve, case.recommendation.rule) == (False, "not_eligible")
    assert case.recommendation.facts["credits_used_since"] == 5


async def test_an_ordinary_charge_is_not_eligible(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    clock.set(START + 10 * DAY)
    [invoice] = await invoices_of(core, acc.account_id)
    case = await core.cases.open_refund(acc.account_id, invoice["id"], "other", "changed my mind", key=key())
    assert (case.status, case.recommendation.approve, case.recommendation.rule) == ("open", False, "not_eligible")
    assert "non-refundable" in case.recommendation.grounds


async def test_a_duplicate_charge_is_recommended_and_its_refund_keeps_the_subscription(core, clock, key, provider):
    provider.mode = "charge_twice"
    acc = await new_account(core, key, plan="plus")
    provider.mode = "ok"
    first, duplicate = await invoices_of(core, acc.account_id)
    assert (first["amount"], duplicate["amount"]) == (1999, 1999)
    clock.advance(2 * HOUR)
    case = await core.cases.open_refund(acc.account_id, duplicate["id"], "duplicate", None, key=key())
    assert (case.recommendation.approve, case.recommendation.rule) == (True, "duplicate_charge")
    assert case.recommendation.facts["duplicate_of"] == first["id"]
    decided = await core.cases.decide(case.id, True, key=key(), actor="mod:1", reason="double charge")
    assert decided.case.status == "approved"
    assert (decided.effects.duplicate, decided.effects.subscription_ended, decided.effects.refunded) == (
        True, False, Money("USD", 1999))
    # the user paid twice for one period: returning one payment leaves the period paid
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.status, view.credits.subscription) == ("plus", "active", 4000)
    # and the remaining charge is no longer a duplicate of anything
    again = await core.cases.open_refund(acc.account_id, first["id"], "duplicate", None, key=key())
    assert (again.recommendation.approve, again.recommendation.rule) == (False, "not_eligible")


async def test_two_purchases_of_the_same_bundle_are_not_a_duplicate_charge(core, clock, key):
    acc = await new_account(core, key)
    await core.buy_topup(acc.account_id, "credits_500", key=key())
    clock.advance(timedelta(minutes=5))
    second = await core.buy_topup(acc.account_id, "credits_500", key=key())
    case = await core.cases.open_refund(acc.account_id, second.invoice_ids[0], "other", None, key=key())
    assert (case.recommendation.approve, case.recommendation.rule) == (False, "not_eligible")


async def test_a_granted_subscription_refund_ends_it_at_once_keeping_topups(core, clock, key):
    acc = await new_account(core, key, plan="plus")
    await core.buy_topup(acc.account_id, "credits_2000", key=key())
    await core.spend_credits(acc.account_id, 100, key=key())
    clock.set(START + 5 * DAY)
    [sub_invoice] = [i for i in await invoices_of(core, acc.account_id) if i["kind"] == "subscription"]
    case = await core.cases.open_refund(acc.account_id, sub_invoice["id"], "service_problem", "nothing rendered", key=key())
    assert case.recommendation.rule == "service_failure"
    decided = await core.cases.decide(case.id, True, key=key(), actor="mod:1", reason="outage on Jan 3 confirmed")
    assert (decided.effects.subscription_ended, decided.effects.refunded) == (True, Money("USD", 1999))

    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.status, view.credits.subscription, view.credits.topup) == ("free", "free", 0, 2000)
    [sub] = await rows(core, "SELECT status, end_reason, ended_at FROM subscriptions WHERE id = ?", acc.subscription_id)
    assert (sub["status"], sub["end_reason"], sub["ended_at"]) == ("ended", "refunded", ts(clock.now()))
    refund = [i for i in await invoices_of(core, acc.account_id) if i["kind"] == "refund"]
    assert [(i["amount"], i["refunds_invoice_id"], i["created_at"]) for i in refund] == [
        (-1999, sub_invoice["id"], ts(clock.now()))]
    # never revived: resuming is refused, a new subscription is a new row
    with pytest.raises(CoreError) as err:
        await core.resume(acc.account_id, key=key())
    assert err.value.code == "already_ended"
    clock.set(FEB_1 + 3 * DAY)
    assert (await core.snapshot(acc.account_id)).credits.topup == 2000
    assert [i["kind"] for i in await invoices_of(core, acc.account_id)].count("renewal") == 0


async def test_a_topup_refund_removes_the_unspent_credits_of_that_purchase_only(core, clock, key):
    acc = await new_account(core, key)
    first = await core.buy_topup(acc.account_id, "credits_500", key=key())
    clock.advance(HOUR)
    await core.buy_topup(acc.account_id, "credits_2000", key=key())
    await core.spend_credits(acc.account_id, 300, key=key())  # 100 free, then 200 of the first top-up
    case = await core.cases.open_refund(acc.account_id, first.invoice_ids[0], "charged_by_mistake", None, key=key())
    decided = await core.cases.decide(case.id, True, key=key(), actor="mod:1", reason="goodwill")
    assert decided.case.status == "approved"
    assert (decided.effects.credits_removed, decided.effects.refunded) == (300, Money("USD", 499))
    view = await core.snapshot(acc.account_id)
    assert view.credits.topup == 2000
    voids = await rows(core, "SELECT delta FROM credit_entries WHERE account_id = ? AND kind = 'void'", acc.account_id)
    assert voids == [{"delta": -300}]
    refund = [i for i in await invoices_of(core, acc.account_id) if i["kind"] == "refund"]
    assert [(i["amount"], i["refunds_invoice_id"]) for i in refund] == [(-499, first.invoice_ids[0])]


async def test_an_unspent_topup_bought_by_mistake_is_recommended(core, clock, key):
    acc = await new_account(core, key)
    receipt = await core.buy_topup(acc.account_id, "credits_5000", key=key())
    clock.advance(3 * HOUR)
    case = await core.cases.open_refund(acc.account_id, receipt.invoice_ids[0], "charged_by_mistake", None, key=key())
    assert (case.recommendation.approve, case.recommendation.rule) == (True, "charged_by_mistake")


async def test_one_open_case_per_charge(core, clock, key, counts):
    acc = await new_account(core, key, plan="basic")
    [invoice] = await invoices_of(core, acc.account_id)
    first = await core.cases.open_refund(acc.account_id, invoice["id"], "other", None, key=key())
    before = await counts()
    with pytest.raises(CoreError) as err:
        await core.cases.open_refund(acc.account_id, invoice["id"], "service_problem", "again", key=key())
    assert err.value.code == "case_open" and err.value.details["case"] == first.id
    assert await counts() == before
    # once decided, the charge may be asked about again
    await core.cases.decide(first.id, False, key=key(), actor="mod:1", reason="not eligible")
    second = await core.cases.open_refund(acc.account_id, invoice["id"], "service_problem", "it failed", key=key())
    await core.cases.decide(second.id, True, key=key(), actor="mod:1", reason="outage confirmed")
    # a refunded charge is not refunded twice
    with pytest.raises(CoreError) as err:
        await core.cases.open_refund(acc.account_id, invoice["id"], "other", None, key=key())
    assert err.value.code == "not_refundable"
    with pytest.raises(CoreError) as err:
        await core.cases.decide(second.id, True, key=key(), actor="mod:2", reason="again")
    assert err.value.code == "case_decided"


async def test_every_charge_and_every_refund_has_an_invoice(core, clock, key, provider):
    a = await new_account(core, key, plan="basic")
    b = await new_account(core, key)
    await core.buy_topup(b.account_id, "credits_500", key=key())
    await core.change_plan(b.account_id, "plus", key=key())
    clock.advance(5 * DAY)
    await core.change_plan(a.account_id, "pro", "now", key=key())
    provider.mode = "charge_twice"
    await core.buy_topup(a.account_id, "credits_2000", key=key())
    provider.mode = "ok"
    clock.set(FEB_1 + 10 * DAY)
    await core.sweep()
    [b_sub] = [i for i in await invoices_of(core, b.account_id) if i["kind"] == "subscription"]
    case = await core.cases.open_refund(b.account_id, b_sub["id"], "service_problem", None, key=key())
    await core.cases.decide(case.id, True, key=key(), actor="mod:1", reason="outage")

    invoices = await rows(core, "SELECT kind, amount, provider_charge_id FROM invoices")
    charged = sorted(cid for charge in provider.charges.values() for cid in charge.charge_ids)
    assert charged and sorted(i["provider_charge_id"] for i in invoices if i["kind"] != "refund") == charged
    assert sorted(i["provider_charge_id"] for i in invoices if i["kind"] == "refund") == sorted(provider.refunds.values())
    assert all(i["amount"] > 0 for i in invoices if i["kind"] != "refund")
    assert [i["amount"] for i in invoices if i["kind"] == "refund"] == [-1999]
    # 2 subscriptions, 1 upgrade, 1 + 2 top-ups, 1 renewal for each account, 1 refund
    assert len(invoices) == 2 + 1 + 3 + 2 + 1
