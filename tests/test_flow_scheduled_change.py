"""Cancel a scheduled plan change, as docs/flows.md (flow 4) tells it."""

from __future__ import annotations

from tests.flow_helpers import World, actions, text


async def test_cancelling_a_scheduled_downgrade_keeps_the_plan_as_is(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    await core.change_plan(w.account_id, "basic", "end", key=key())
    invoices = len(await w.invoices())
    screen = await w.start("scheduled_change")
    assert "A change from Pro to Basic is scheduled for February 1, 2026, 12:00 AM UTC." in text(screen)
    assert "Cancel it? You'll stay on Pro; your next billing will be February 1, 2026, 12:00 AM UTC, $49.99." in text(screen)
    screen = await w.press(screen, "confirm")
    assert screen.step == "done" and screen.reply.receipt
    assert "The scheduled change to Basic is cancelled." in text(screen)
    assert "You stay on Pro; next billing: February 1, 2026, 12:00 AM UTC, $49.99." in text(screen)
    assert actions(screen) == ["start:plan"]
    account = await core.snapshot(w.account_id)
    assert account.plan == "pro" and account.scheduled_change is None and account.next_billing_amount.minor == 4999
    assert len(await w.invoices()) == invoices


async def test_cancelling_a_scheduled_upgrade_makes_cancelling_renewal_possible_again(core, key) -> None:
    w = await World.open(core, key, plan="basic")
    await core.change_plan(w.account_id, "pro", "end", key=key())
    await w.press(await w.start("scheduled_change"), "confirm")
    assert (await w.start("cancel")).step == "reason"


async def test_nothing_scheduled_is_refused(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.start("scheduled_change")
    assert screen.flow_id is None and "No plan change is scheduled, so there is nothing to cancel." in text(screen)
    assert actions(screen) == ["start:status"]


async def test_leaving_changes_nothing(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    await core.change_plan(w.account_id, "basic", "end", key=key())
    before = await w.what_the_core_holds()
    left = await w.press(await w.start("scheduled_change"), "close")
    assert text(left) == "Nothing was changed."
    assert await w.what_the_core_holds() == before
