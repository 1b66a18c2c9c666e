"""Renewal reminder, as docs/flows.md (flow 8) tells it: Keep renewal / Cancel renewal."""

from __future__ import annotations

from datetime import timedelta

from tests.flow_helpers import World, actions, labels, text


async def test_keep_renewal_changes_nothing(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    core.clock.advance(timedelta(days=28))
    before = await w.what_the_core_holds()
    screen = await w.start("reminder")
    assert "Reminder: your Plus plan renews on February 1, 2026, 12:00 AM UTC, and you'll be charged $19.99." in text(screen)
    assert labels(screen) == ["Keep renewal", "Cancel renewal", "Talk to a moderator"]
    assert actions(screen) == ["keep", "start:cancel", "help"]
    kept = await w.press(screen, "keep")
    assert kept.reply.final and text(kept).startswith("Nothing was changed.\nYour Plus plan renews on February 1, 2026")
    assert await w.what_the_core_holds() == before


async def test_cancel_renewal_starts_the_cancel_flow(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    cancel = await w.press(await w.start("reminder"), "start:cancel")
    assert cancel.kind == "cancel" and cancel.step == "reason"


async def test_the_reminder_stays_answerable_until_the_renewal(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    core.clock.advance(timedelta(days=28))
    screen = await w.start("reminder")
    core.clock.advance(timedelta(days=2))  # read two days later, still before the renewal
    assert (await w.press(screen, "keep")).step == "kept"


async def test_a_reminder_after_cancelling_has_nothing_to_ask(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    await core.cancel(w.account_id, "other", key=key())
    screen = await w.start("reminder")
    assert screen.flow_id is None
    assert "Your plan does not renew automatically, so there is nothing to remind you of." in text(screen)
