"""Flows end to end: clicked through, pressed twice, pressed by someone else, buttons the bot
cannot place, a plan change, and a form and buttons that survive a restart."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import pytest

from tests.bot_harness import (
    ALICE,
    BOB,
    SUPPORT,
    Harness,
    labels,
    press_from_outside,
    select_of,
)
from tests.discord_double import DoubleTimeout, Message, ShownModal


async def audit_count(h: Harness, action: str) -> int:
    async with h.app.db.read() as tx:
        row = await tx.fetchone("SELECT COUNT(*) AS n FROM audit_log WHERE action = ?", action)
    return row["n"]


def followups_to(h: Harness, user: int) -> list[Message]:
    """Ephemeral follow-ups the bot sent (notices, apologies) to ``user``'s interactions."""
    world = h.double.world
    return [
        world.messages[mid]
        for i in world.interactions.values()
        if i.user_id == user
        for mid in i.followup_ids
    ]


async def to_confirm(h: Harness, user: int) -> Message:
    """/cancel clicked through to the final confirmation: reason, no comment, offer declined."""
    reasons = await h.command(user, "cancel")
    assert reasons.ephemeral and "Auto-renew is on" in reasons.content
    comment = await h.choose(user, reasons, "too_expensive")
    assert comment.id == reasons.id and "Add a comment" in labels(comment)
    offer = await h.press(user, comment, "Skip")
    assert "switch to Basic instead" in offer.content and "Continue to cancel" in labels(offer)
    confirm = await h.press(user, offer, "Continue to cancel")
    assert confirm.content.startswith("Please confirm: cancel auto-renewal of your Plus plan.")
    assert labels(confirm)[0] == "Cancel renewal"
    return confirm


async def test_cancel_clicked_through_then_subscription_shows_it(h):
    await h.account(ALICE)
    await h.start_bot()
    confirm = await to_confirm(h, ALICE)
    assert not (await h.view(ALICE)).cancel_at_period_end  # nothing changes before the final press
    result = await h.press(ALICE, confirm, "Cancel renewal")
    assert result.id == confirm.id and result.content.startswith("Auto-renewal cancelled.")
    assert labels(result) == ["Resume auto-renew"]
    receipt = await h.double.next_message(dm_of=ALICE)
    assert receipt.content == result.content and receipt.components == []
    view = await h.view(ALICE)
    assert view.cancel_at_period_end and view.cancel_reason == "too_expensive"

    status = await h.command(ALICE, "subscription")
    assert status.ephemeral
    assert "Auto-renew is off: you keep Plus until December 1, 2026" in status.content
    assert "Resume auto-renew" in labels(status)


async def test_final_confirm_pressed_twice_cancels_once_with_one_receipt(h):
    await h.account(ALICE)
    await h.start_bot()
    confirm = await to_confirm(h, ALICE)
    first = await h.double.click(ALICE, confirm, label="Cancel renewal")
    second = await h.double.click(ALICE, confirm, label="Cancel renewal")
    answers = [await first.response(), await second.response()]
    # One press edits the flow message with the result; the other is answered on its own.
    assert sorted(a.id == confirm.id for a in answers) == [False, True]
    assert all("Auto-renewal cancelled." in a.content for a in answers)
    assert await audit_count(h, "cancel") == 1
    await h.double.next_message(dm_of=ALICE)
    with pytest.raises(DoubleTimeout):
        await h.double.next_message(dm_of=ALICE, timeout=0.3)


async def test_someone_elses_button_is_refused_and_changes_nothing(h):
    await h.account(ALICE)
    await h.account(BOB)
    await h.start_bot()
    confirm = await to_confirm(h, ALICE)
    refused = await (await press_from_outside(h.double, BOB, confirm, "Cancel renewal")).response()
    assert refused.ephemeral and refused.id != confirm.id
    assert "Auto-renewal cancelled" not in refused.content
    assert (
        h.double.world.messages[confirm.id].content == confirm.content
    )  # Alice's message untouched
    assert not (await h.view(ALICE)).cancel_at_period_end
    assert not (await h.view(BOB)).cancel_at_period_end
    # Alice can still finish her own flow.
    assert (await h.press(ALICE, confirm, "Cancel renewal")).content.startswith(
        "Auto-renewal cancelled."
    )


UNKNOWN_BUTTON = "This button no longer works. Nothing was changed; start again with /help."
OLD_BUTTONS = [
    "f:0123456789abcdef0123456789abcdef:confirm",  # truncated: no action
    "v1:cancel:confirm",  # a button from an older version of the bot
    "s:no_such_flow",  # a start button for a flow that no longer exists
    "q:cancel:xx",  # a topic in a language we do not have
]


@pytest.mark.parametrize("custom_id", OLD_BUTTONS)
async def test_a_button_the_bot_cannot_place_gets_a_word_and_changes_nothing(h, custom_id):
    await h.account(ALICE)
    await h.start_bot()
    shown = await h.command(ALICE, "subscription", channel=SUPPORT)
    # An old message of the bot's that carries such a button, as Discord still shows it.
    old = await h.double.say(ALICE, "support", "an old message")
    old.author_id = h.double.bot_user.id
    old.components = [{"type": 1, "components": [
        {"type": 2, "style": 2, "label": "Old button", "custom_id": custom_id}]}]
    before = await h.view(ALICE)
    reply = await h.press(ALICE, old, "Old button")
    assert reply.ephemeral and reply.content == UNKNOWN_BUTTON
    assert await h.view(ALICE) == before
    assert shown.content  # the account's own screen is untouched


@pytest.mark.parametrize("custom_id", ["f:0123456789abcdef0123456789abcdef:s:confirm", "q:cancel:en"])
async def test_a_forged_custom_id_not_on_the_message_gets_the_same_word(h, custom_id):
    from tests.discord_double.interactions import new_interaction

    await h.account(ALICE)
    await h.start_bot()
    shown = await h.command(ALICE, "subscription", channel=SUPPORT)
    world = h.double.world
    record = new_interaction(world, kind=3, user=world.user(ALICE), channel=world.channels[shown.channel_id],
                             data={"custom_id": custom_id, "component_type": 2}, message=shown)
    reply = await (await h.double._dispatch(record)).response()
    assert reply.ephemeral and reply.content == UNKNOWN_BUTTON


async def test_plan_upgrade_now_shows_proration_then_the_new_plan(h):
    await h.account(ALICE, plan="basic")
    await h.app.advance_clock(timedelta(days=10))  # a third of the period used
    await h.start_bot()
    h.double.set_dms_open(ALICE, False)  # the receipt DM fails quietly; the result is shown anyway
    choose = await h.command(ALICE, "plan")
    assert [o["value"] for o in select_of(choose)["options"]] == ["plus", "pro"]
    timing = await h.choose(ALICE, choose, "pro")
    summary = await h.press(ALICE, timing, "Now")
    assert "Credit for the unused part of your Basic period: $6.66" in summary.content
    assert "Charged now: $43.33." in summary.content
    result = await h.press(ALICE, summary, "Pay $43.33 and upgrade")
    assert result.content.startswith("You're now on Pro.")
    assert (await h.view(ALICE)).plan == "pro"
    alices_dm = f"/channels/{h.double.dm_channel(ALICE).id}/messages"
    assert [r.status for r in await h.requests_made("POST", alices_dm, 1)] == [403]
    assert [m.content for m in followups_to(h, ALICE)] == []


async def test_a_form_and_the_buttons_survive_a_restart(h):
    """The bot as its own process, killed mid-flow, then started again: old buttons and a form
    opened before the restart work in the new process, which has sent nothing yet."""
    await h.account(ALICE)
    await h.account(BOB)
    first = await h.launch_process("bot1")
    bobs = await h.command(BOB, "cancel")
    reasons = await h.command(ALICE, "cancel")
    comment_step = await h.choose(ALICE, reasons, "not_using")
    modal = await h.press(ALICE, comment_step, "Add a comment")
    assert isinstance(modal, ShownModal) and modal.title == "Add a comment"
    first.kill()
    await first.wait()
    await h.double.wait_disconnected()

    second = await h.launch_process("bot2")
    bobs_next = await h.choose(
        BOB, bobs, "taking_break"
    )  # a button of a message the old process sent
    assert bobs_next.id == bobs.id and "Add a comment" in labels(bobs_next)
    submit = await h.double.submit_modal(ALICE, modal.custom_id, {"comment": "too pricey for me"})
    offer = await submit.response()  # the form the old process opened
    assert offer.id == reasons.id and "switch to Basic instead" in offer.content
    confirm = await h.press(ALICE, offer, "Continue to cancel")
    assert (await h.press(ALICE, confirm, "Cancel renewal")).content.startswith(
        "Auto-renewal cancelled."
    )
    view = await h.view(ALICE)
    assert view.cancel_at_period_end and view.cancel_reason == "not_using"

    second.send_signal(signal.SIGTERM)  # a clean stop: the Discord connection, then the database
    assert await asyncio.wait_for(second.wait(), 10) == 0
    await h.double.wait_disconnected()
