"""Resume auto-renew, and resubscribe after the period ended, as docs/flows.md (flow 2) tells it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.flow_helpers import World, actions, options, text


async def cancelled(core, key, plan: str = "plus") -> World:
    w = await World.open(core, key, plan=plan)
    await core.cancel(w.account_id, "taking_break", key=key())
    return w


async def test_resume_before_the_period_ends_charges_nothing(core, key) -> None:
    w = await cancelled(core, key)
    invoices = len(await w.invoices())
    screen = await w.start("resume")
    assert "Auto-renewal of your Plus plan is off: your access ends on February 1, 2026, 12:00 AM UTC." in text(screen)
    assert "Resume it? Nothing is charged now; your next billing will be February 1, 2026, 12:00 AM UTC, $19.99." in text(screen)
    assert actions(screen) == ["confirm", "help", "close"]
    screen = await w.press(screen, "confirm")
    assert screen.step == "done" and screen.reply.final and screen.reply.receipt
    assert "Auto-renew is on again. Your next billing is February 1, 2026, 12:00 AM UTC, $19.99." in text(screen)
    assert actions(screen) == ["start:cancel"]  # the way back
    account = await core.snapshot(w.account_id)
    assert not account.cancel_at_period_end and account.next_billing_at == account.period_end
    assert len(await w.invoices()) == invoices


async def test_nothing_to_resume_when_auto_renew_is_on(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.start("resume")
    assert screen.flow_id is None and screen.reply.final
    assert ("Auto-renew is already on, so there is nothing to resume. Your next billing date is February 1, 2026, "
            "12:00 AM UTC.") in text(screen)
    assert actions(screen) == ["start:status"]


async def test_after_the_period_ended_the_user_resubscribes_charged_now(core, key) -> None:
    w = await cancelled(core, key)
    old = (await core.snapshot(w.account_id)).subscription_id
    core.clock.advance(timedelta(days=32))
    screen = await w.start("resume")
    assert "Your subscription has ended, so auto-renew can't be turned back on." in text(screen)
    assert "You can subscribe again: you're charged now and a new period starts today." in text(screen)
    assert options(screen) == ["basic", "plus", "pro"]
    plus = next(o for o in screen.reply.select.options if o.value == "plus")
    assert plus.description.msgid.startswith("Your previous plan")

    screen = await w.choose(screen, "plus")
    assert screen.step == "summary" and "Charged now: $19.99." in text(screen)
    screen = await w.press(screen, "confirm")
    assert screen.step == "subscribed" and "You're subscribed to Plus." in text(screen)
    account = await core.snapshot(w.account_id)
    assert account.plan == "plus" and account.subscription_id != old  # a new subscription, never the old one revived
    assert account.period_start == core.clock.now()
    newest = (await w.invoices())[0]
    assert newest.kind == "subscription" and newest.created_at == core.clock.now()


async def test_a_free_user_who_never_subscribed_is_offered_plans(core, key) -> None:
    w = await World.open(core, key, plan="free", topup=None)
    screen = await w.start("resume")
    assert "There is no subscription to resume: you're on the Free plan." in text(screen)
    assert all(not o.description.msgid.startswith("Your previous plan") for o in screen.reply.select.options)


async def test_the_period_ending_while_the_confirmation_is_open_is_refused_with_the_way_out(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    core.clock.set(datetime(2026, 1, 31, 23, 55, tzinfo=UTC))
    await core.cancel(w.account_id, "other", key=key())
    screen = await w.start("resume")
    core.clock.advance(timedelta(minutes=10))
    screen = await w.press(screen, "confirm")
    assert screen.reply.final
    assert "Your Plus subscription has ended, so it can't be resumed. You can subscribe again instead." in text(screen)
    assert actions(screen) == ["start:plan"]
    assert (await core.snapshot(w.account_id)).plan == "free"


@pytest.mark.parametrize(("ended", "choose"), [(False, None), (True, None), (True, "basic")])
async def test_leaving_at_any_step_changes_nothing(core, key, ended, choose) -> None:
    w = await cancelled(core, key)
    if ended:
        core.clock.advance(timedelta(days=32))
    before = await w.what_the_core_holds()
    screen = await w.start("resume")
    if choose:
        screen = await w.choose(screen, choose)
        assert screen.step == "summary"
    left = await w.press(screen, "close")
    assert text(left) == "Nothing was changed."
    assert await w.what_the_core_holds() == before
