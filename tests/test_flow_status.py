"""/subscription: plan, status, period, next billing, what is pending, credits; and the ways on."""

from __future__ import annotations

from tests.flow_helpers import World, actions, text


async def test_an_active_plan(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.start("status")
    assert screen.flow_id is None and screen.reply.final
    assert text(screen).splitlines() == [
        "Plan: Plus ($19.99 a month).",
        "Current period: January 1, 2026, 12:00 AM UTC to February 1, 2026, 12:00 AM UTC.",
        "Auto-renew is on. Next billing: February 1, 2026, 12:00 AM UTC, $19.99.",
        "Subscription credits: 4,000, until February 1, 2026, 12:00 AM UTC",
        "Top-up credits: 500 (they never expire)",
        "Total: 4,500 credits",
    ]
    assert actions(screen) == ["start:plan", "start:cancel", "start:topup", "start:help"]


async def test_a_pending_cancellation_shows_the_end_and_offers_resume(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    await core.cancel(w.account_id, "other", key=key())
    screen = await w.start("status")
    assert ("Auto-renew is off: you keep Plus until February 1, 2026, 12:00 AM UTC, then your account moves to the "
            "Free plan.") in text(screen)
    assert actions(screen) == ["start:resume", "start:topup", "start:help"]


async def test_a_scheduled_upgrade_shows_and_cancel_renewal_is_not_offered(core, key) -> None:
    w = await World.open(core, key, plan="basic")
    await core.change_plan(w.account_id, "pro", "end", key=key())
    screen = await w.start("status")
    assert "Scheduled: a change to Pro on February 1, 2026, 12:00 AM UTC." in text(screen)
    assert "Next billing: February 1, 2026, 12:00 AM UTC, $49.99." in text(screen)
    assert actions(screen) == ["start:scheduled_change", "start:plan", "start:topup", "start:help"]


async def test_the_free_plan(core, key) -> None:
    w = await World.open(core, key, plan="free", topup=None)
    screen = await w.start("status")
    assert text(screen).splitlines()[0] == "Plan: Free, with 100 free credits a day."
    assert actions(screen)[0] == "start:plan"


async def test_not_linked(core, key) -> None:
    w = await World.open(core, key)
    assert (await w.engine.start("status", "777")).step == "not_linked"
