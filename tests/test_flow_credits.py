"""Credits check, as docs/flows.md (flow 7) tells it: balances, and why free credits did not arrive."""

from __future__ import annotations

from tests.flow_helpers import World, actions, text


async def test_a_free_account_sees_today_free_credits_and_top_ups(core, key) -> None:
    w = await World.open(core, key, plan="free")
    screen = await w.start("credits")
    assert text(screen).splitlines() == [
        "Free credits today: 100",
        "Top-up credits: 500 (they never expire)",
        "Total: 600 credits",
    ]
    assert actions(screen) == ["start:topup", "help", "close"]


async def test_a_paid_plan_shows_its_credits_with_their_end_date_and_why_there_are_no_free_ones(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    shown = text(await w.start("credits"))
    assert "Subscription credits: 4,000, until February 1, 2026, 12:00 AM UTC" in shown
    assert "Daily free credits are for the Free plan only. On Plus you get 4,000 credits each period instead." in shown
    assert "Free credits today" not in shown


async def test_already_used_today_says_when_new_ones_arrive(core, key) -> None:
    w = await World.open(core, key, plan="free", topup=None)
    await core.spend_credits(w.account_id, 100, key=key())
    shown = text(await w.start("credits"))
    assert "Free credits today: 0" in shown
    assert "You've already had today's 100 free credits. New ones arrive at January 2, 2026, 12:00 AM UTC." in shown


async def test_a_restricted_account_is_told_why_and_can_ask_for_a_review(core, key) -> None:
    for n in range(2):
        await core.create_account(f"sibling{n}@example.com", key=key(), device_id="phone-1")
    w = await World.open(core, key, plan="free", topup=None, device="phone-1")
    screen = await w.start("credits")
    assert "Free credits today: 0" in text(screen)
    assert ("Your account gets no daily free credits: it was created on a device that already had 2 accounts, the most "
            "allowed per device.") in text(screen)
    assert actions(screen)[0] == "review"

    done = await w.press(screen, "review")
    assert done.reply.final and done.step == "review_requested"
    assert "We've asked a moderator to review the device limit on your account." in text(done)
    again = await w.engine.handle(screen.flow_id, screen.step, w.owner, "review")
    assert again.notice and text(again) == text(done)
    [case] = await core.cases.list()
    assert case.kind == "help" and case.account_id == w.account_id and case.discord_id == w.owner
    assert case.context["topic"] == "device_review" and "phone-1" in case.context["restriction_reason"]


async def test_no_review_button_for_an_account_that_is_not_restricted(core, key) -> None:
    w = await World.open(core, key, plan="free")
    screen = await w.start("credits")
    forged = await w.engine.handle(screen.flow_id, screen.step, w.owner, "review")
    assert forged.notice and text(forged) == "This confirmation has expired. Nothing was changed."
    assert await core.cases.list() == []


async def test_an_unlinked_user_is_told_to_link_first(core, key) -> None:
    w = await World.open(core, key, plan="free")
    screen = await w.engine.start("credits", "9999")
    assert screen.flow_id is None and screen.step == "not_linked"
    assert "Your Discord account is not linked to a product account yet" in text(screen)
    assert "use /link CODE" in text(screen)
    assert actions(screen) == ["start:help"]
