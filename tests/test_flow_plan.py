"""Change plan, and subscribe from Free, as docs/flows.md (flow 3) tells it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.money import Money
from tests.flow_helpers import World, actions, options, text


async def test_upgrade_now_shows_the_proration_first_and_charges_exactly_that(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    core.clock.advance(timedelta(days=10))  # 21 of January's 31 days unused
    before, counts = await w.what_the_core_holds()

    screen = await w.start("plan")
    assert "You're on Plus ($19.99 a month), renewing on February 1, 2026, 12:00 AM UTC." in text(screen)
    assert options(screen) == ["basic", "pro"]
    screen = await w.choose(screen, "pro")
    assert screen.step == "timing" and actions(screen)[:2] == ["now", "end"]
    screen = await w.press(screen, "now")

    assert screen.step == "summary"
    summary = text(screen)
    # old price × unused seconds / period seconds = 19.99 × 21/31 = 13.54
    assert "Upgrade from Plus to Pro, starting now." in summary
    assert "Pro price: $49.99" in summary
    assert "Credit for the unused part of your Plus period: $13.54" in summary
    assert "Charged now: $36.45." in summary
    assert "Your remaining 4,000 Plus subscription credits end now." in summary
    assert "You get 12,000 Pro credits at once." in summary
    assert "A new billing period starts now. Next billing: February 11, 2026, 12:00 AM UTC, $49.99." in summary
    assert await w.what_the_core_holds() == (before, counts)  # a summary changes nothing

    screen = await w.press(screen, "confirm")
    assert screen.step == "done" and screen.reply.receipt
    assert "You're now on Pro." in text(screen)
    assert "Charged $36.45 on January 11, 2026, 12:00 AM UTC, after a credit of $13.54" in text(screen)
    account = await core.snapshot(w.account_id)
    assert account.plan == "pro" and account.period_start == core.clock.now()
    assert account.credits.subscription == 12000 and account.credits.topup == 500
    [upgrade] = [i for i in await w.invoices() if i.kind == "upgrade"]
    assert upgrade.amount == Money("USD", 3645)


async def test_upgrade_at_the_end_of_the_period_charges_nothing_now(core, key) -> None:
    w = await World.open(core, key, plan="basic")
    screen = await w.press(await w.choose(await w.start("plan"), "plus"), "end")
    summary = text(screen)
    assert "Upgrade from Basic to Plus at the end of your period, on February 1, 2026, 12:00 AM UTC." in summary
    assert "Nothing is charged now. On February 1, 2026, 12:00 AM UTC you'll be charged $19.99 and get 4,000" in summary
    assert "auto-renewal can't be cancelled" in summary
    invoices = len(await w.invoices())
    screen = await w.press(screen, "confirm")
    assert "Done: you'll move from Basic to Plus on February 1, 2026, 12:00 AM UTC." in text(screen)
    assert actions(screen) == ["start:scheduled_change"]
    account = await core.snapshot(w.account_id)
    assert account.plan == "basic" and account.scheduled_change.plan == "plus"
    assert len(await w.invoices()) == invoices


async def test_a_downgrade_is_end_of_period_only_and_needs_no_timing_choice(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    screen = await w.choose(await w.start("plan"), "basic")
    assert screen.step == "summary"
    assert "Switch from Pro to Basic at the end of your period" in text(screen)
    assert "You keep Pro and its credits until then." in text(screen)
    await w.press(screen, "confirm")
    account = await core.snapshot(w.account_id)
    assert account.plan == "pro" and account.scheduled_change.kind == "downgrade"


async def test_a_new_choice_replaces_the_scheduled_change_and_the_summary_says_so(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    await core.change_plan(w.account_id, "plus", "end", key=key())
    screen = await w.start("plan")
    assert "A change to Plus is scheduled for February 1, 2026, 12:00 AM UTC; a new choice replaces it." in text(screen)
    assert options(screen) == ["basic"]  # not the current plan, not the one already scheduled
    assert "start:scheduled_change" in actions(screen)
    screen = await w.choose(screen, "basic")
    assert "This replaces your scheduled change to Plus on February 1, 2026, 12:00 AM UTC." in text(screen)
    screen = await w.press(screen, "confirm")
    assert "This replaced your earlier scheduled change to Plus." in text(screen)
    assert (await core.snapshot(w.account_id)).scheduled_change.plan == "basic"


async def test_on_free_choosing_a_plan_subscribes_with_a_summary_first(core, key) -> None:
    w = await World.open(core, key, plan="free", topup=None)
    screen = await w.start("plan")
    assert options(screen) == ["basic", "plus", "pro"]
    screen = await w.choose(screen, "basic")
    assert "Subscribe to Basic ($9.99 a month)." in text(screen)
    assert "Charged now: $9.99." in text(screen)
    assert "Your first period runs until February 1, 2026, 12:00 AM UTC, with 1,500 credits." in text(screen)
    assert (await core.snapshot(w.account_id)).plan == "free"
    screen = await w.press(screen, "confirm")
    assert "You're subscribed to Basic." in text(screen) and screen.reply.receipt
    account = await core.snapshot(w.account_id)
    assert account.plan == "basic" and account.credits.subscription == 1500
    assert [i.kind for i in await w.invoices()] == ["subscription"]


async def test_plan_change_while_a_cancellation_is_scheduled_says_resume_first(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    await core.cancel(w.account_id, "other", key=key())
    before = await w.what_the_core_holds()
    screen = await w.start("plan")
    assert screen.reply.final and screen.flow_id is None
    assert "Auto-renewal is cancelled, so your plan can't be changed. Resume auto-renew first" in text(screen)
    assert actions(screen) == ["start:resume"]
    assert await w.what_the_core_holds() == before
    resumed = await w.press(await w.press(screen, "start:resume"), "confirm")
    assert "Auto-renew is on again." in text(resumed)
    assert (await w.start("plan")).step == "choose"


async def test_when_the_account_changed_after_the_summary_new_numbers_are_shown_first(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    summary = await w.choose(await w.start("plan"), "plus")
    await core.change_plan(w.account_id, "basic", "end", key=key())  # e.g. from another device
    again = await w.press(summary, "confirm")
    assert again.step == "summary" and not again.reply.final
    assert text(again).startswith("Your account changed since the summary was shown")
    assert "This replaces your scheduled change to Basic" in text(again)
    assert (await core.snapshot(w.account_id)).scheduled_change.plan == "basic"
    done = await w.press(again, "confirm")
    assert done.step == "done" and (await core.snapshot(w.account_id)).scheduled_change.plan == "plus"


async def test_a_declined_payment_keeps_the_summary_for_another_try(core, key) -> None:
    w = await World.open(core, key, plan="basic")
    summary = await w.press(await w.choose(await w.start("plan"), "pro"), "now")
    before = await w.what_the_core_holds()
    core.payments.mode = "decline"
    again = await w.press(summary, "confirm")
    assert again.step == "summary" and "confirm" in actions(again)
    assert text(again).startswith("The payment did not go through, so nothing was charged and nothing was changed.")
    assert await w.what_the_core_holds() == before
    core.payments.mode = "ok"
    done = await w.press(again, "confirm")
    assert done.step == "done" and (await core.snapshot(w.account_id)).plan == "pro"
    assert [i.kind for i in await w.invoices()].count("upgrade") == 1


@pytest.mark.parametrize("path", [[], ["plus"], ["plus", "now"], ["basic"]])
async def test_leaving_at_any_step_changes_nothing(core, key, path) -> None:
    w = await World.open(core, key, plan="plus" if path[:1] == ["basic"] else "basic")
    before = await w.what_the_core_holds()
    screen = await w.start("plan")
    for move in path:
        screen = await (w.choose(screen, move) if screen.step == "choose" else w.press(screen, move))
    left = await w.press(screen, "close")
    assert text(left) == "Nothing was changed." and left.reply.final
    assert await w.what_the_core_holds() == before
