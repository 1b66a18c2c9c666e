"""Cancel renewal, as docs/flows.md (flow 1) tells it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.service import CANCEL_REASONS
from flows.texts import quoted
from tests.flow_helpers import World, actions, audit_actions, labels, options, text


async def to_offer(w: World):
    screen = await w.start("cancel")
    screen = await w.choose(screen, "too_expensive")
    return await w.press(screen, "skip")


async def test_happy_path_decline_the_offer_then_confirm_twice(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    before, before_counts = await w.what_the_core_holds()

    screen = await w.start("cancel")
    assert "You're on the Plus plan ($19.99 a month)." in text(screen)
    assert "Auto-renew is on: your next billing is February 1, 2026, 12:00 AM UTC, $19.99." in text(screen)
    assert options(screen) == list(CANCEL_REASONS)
    assert actions(screen) == ["help", "close"]

    screen = await w.choose(screen, "not_using")
    assert screen.step == "comment" and screen.reply.form is not None
    assert screen.reply.form.fields[0].max_length == 1000 and not screen.reply.form.fields[0].required
    screen = await w.press(screen, "skip")

    assert screen.step == "offer"
    assert "switch to Basic instead, for $9.99 a month with 1,500 credits each period" in text(screen)
    # The offer is shown with the way on to cancel beside it.
    assert actions(screen) == ["take", "keep", "continue", "help"]
    assert labels(screen)[:3] == ["Switch to Basic", "Keep my plan", "Continue to cancel"]
    screen = await w.press(screen, "continue")

    assert screen.step == "confirm"
    shown = text(screen)
    assert "You keep Plus until February 1, 2026, 12:00 AM UTC; nothing more will be charged." in shown
    assert "Your 4,000 subscription credits end then." in shown
    assert "Your 500 top-up credits stay: top-up credits never expire." in shown
    assert "Your reason: Not using it enough." in shown
    assert labels(screen)[0] == "Cancel renewal"
    # Every screen so far was talk: nothing changed yet.
    assert await w.what_the_core_holds() == (before, before_counts)

    screen = await w.press(screen, "confirm")
    assert screen.step == "done" and screen.reply.final and screen.reply.receipt
    assert ("Auto-renewal cancelled. You keep access to Plus until February 1, 2026, 12:00 AM UTC; your subscription "
            "credits end then; your top-up credits stay.") in text(screen)
    assert "Cancelled on January 1, 2026, 12:00 AM UTC." in text(screen)
    assert actions(screen) == ["start:resume"]

    account = await core.snapshot(w.account_id)
    assert account.cancel_at_period_end and account.cancel_reason == "not_using"
    assert account.plan == "plus" and account.credits.topup == 500 and account.next_billing_at is None
    assert len(await w.invoices()) == before_counts["invoices"]  # cancelling charges nothing
    assert (await audit_actions(core, w.account_id)).count("cancel") == 1


async def test_a_comment_is_recorded_with_the_reason(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.choose(await w.start("cancel"), "missing_features")
    screen = await w.submit(screen, comment="  I need a batch mode.  ")
    screen = await w.press(await w.press(screen, "continue"), "confirm")
    assert screen.step == "done"
    [cancel] = [row for row in await core.audit_trail(w.account_id) if row["action"] == "cancel"]
    assert cancel["details"]["request"] == {"reason": "missing_features", "comment": "I need a batch mode."}


async def test_the_confirmation_shows_the_comment_quoted_and_trimmed(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.choose(await w.start("cancel"), "missing_features")
    confirm = await w.press(await w.submit(screen, comment="  I need\n a batch   mode.  "), "continue")
    assert confirm.step == "confirm"
    assert "Your reason: Missing features.\nYour comment: “I need a batch mode.”" in text(confirm)
    # A long comment is shown cut at a word, with an ellipsis; the whole of it is what is recorded.
    w = await World.open(core, key, plan="plus", owner="1003")
    long = "The exports keep failing on large projects " * 20
    screen = await w.choose(await w.start("cancel"), "technical_problems")
    confirm = await w.press(await w.submit(screen, comment=long), "continue")
    [shown] = [line for line in text(confirm).split("\n") if line.startswith("Your comment:")]
    assert shown.endswith("…”") and len(shown) < 240 and " projects The exports" in shown
    assert not shown[:-2].endswith(" ")
    # Skipped: no comment line at all.
    w = await World.open(core, key, plan="plus", owner="1004")
    screen = await w.choose(await w.start("cancel"), "other")
    confirm = await w.press(await w.press(screen, "skip"), "continue")
    assert "Your comment" not in text(confirm)


def test_quoted_text_is_one_line_cut_at_a_word() -> None:
    assert quoted("  a\n\tb  ") == "a b"
    assert quoted("word " * 100, limit=20) == "word word word word…"
    assert quoted("x" * 300, limit=20) == "x" * 19 + "…"


async def test_a_blank_comment_counts_as_skipped_and_a_long_one_is_asked_again(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.choose(await w.start("cancel"), "other")
    again = await w.submit(screen, comment="x" * 1001)
    assert again.step == "comment" and "1,001 characters long; the limit is 1,000" in text(again)
    screen = await w.submit(again, comment="   ")
    assert screen.step == "offer"
    screen = await w.press(await w.press(screen, "continue"), "confirm")
    [cancel] = [row for row in await core.audit_trail(w.account_id) if row["action"] == "cancel"]
    assert cancel["details"]["request"]["comment"] is None


async def test_taking_the_offer_schedules_the_downgrade_and_keeps_renewal_on(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.press(await to_offer(w), "take")
    assert screen.step == "offer_summary"
    assert "Switch from Plus to Basic at the end of your period, on February 1, 2026, 12:00 AM UTC." in text(screen)
    assert "Nothing is charged now." in text(screen)
    assert "continue" in actions(screen)  # still free to go on and cancel

    screen = await w.press(screen, "confirm")
    assert screen.step == "switched" and screen.reply.receipt
    assert "Done: you'll move from Plus to Basic on February 1, 2026, 12:00 AM UTC." in text(screen)
    assert actions(screen) == ["start:scheduled_change"]
    account = await core.snapshot(w.account_id)
    assert not account.cancel_at_period_end
    assert account.scheduled_change.plan == "basic" and account.scheduled_change.kind == "downgrade"


async def test_continue_to_cancel_from_the_offer_summary(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    screen = await w.press(await to_offer(w), "take")
    assert "Switch from Pro to Plus" in text(screen)
    screen = await w.press(await w.press(screen, "continue"), "confirm")
    account = await core.snapshot(w.account_id)
    assert screen.step == "done" and account.cancel_at_period_end and account.scheduled_change is None


async def test_keep_my_plan_changes_nothing_and_says_so(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    before = await w.what_the_core_holds()
    screen = await w.press(await to_offer(w), "keep")
    assert screen.reply.final
    assert text(screen).startswith("Nothing was changed.\nYour Plus plan stays on auto-renew.")
    assert await w.what_the_core_holds() == before


async def test_no_offer_on_the_cheapest_plan(core, key) -> None:
    w = await World.open(core, key, plan="basic")
    screen = await w.press(await w.choose(await w.start("cancel"), "taking_break"), "skip")
    assert screen.step == "confirm"


async def test_cancelling_drops_a_scheduled_downgrade_and_says_so(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    await core.change_plan(w.account_id, "plus", "end", key=key())
    screen = await w.press(await w.choose(await w.start("cancel"), "too_expensive"), "skip")
    assert screen.step == "confirm"  # a change is already scheduled: no second offer
    assert "Your scheduled change to Plus on February 1, 2026, 12:00 AM UTC will be dropped." in text(screen)
    screen = await w.press(screen, "confirm")
    assert "Your scheduled change to Plus was dropped." in text(screen)
    account = await core.snapshot(w.account_id)
    assert account.cancel_at_period_end and account.scheduled_change is None


# ----- refusals, each with the way out -------------------------------------------------------


async def test_on_free_there_is_nothing_to_cancel(core, key) -> None:
    w = await World.open(core, key, plan="free", topup=None)
    screen = await w.start("cancel")
    assert screen.flow_id is None and screen.reply.final
    assert "You're on the Free plan, so there is no paid subscription to cancel or change." in text(screen)
    assert actions(screen) == ["start:plan"]


async def test_already_cancelled_offers_resume(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    await core.cancel(w.account_id, "other", key=key())
    screen = await w.start("cancel")
    assert "Auto-renewal is already cancelled. You keep access until February 1, 2026, 12:00 AM UTC." in text(screen)
    assert actions(screen) == ["start:resume"]


async def test_refused_while_an_end_of_period_upgrade_is_scheduled_with_the_way_out(core, key) -> None:
    w = await World.open(core, key, plan="basic")
    await core.change_plan(w.account_id, "pro", "end", key=key())
    before = await w.what_the_core_holds()
    screen = await w.start("cancel")
    assert ("An upgrade to Pro is scheduled for February 1, 2026, 12:00 AM UTC, so auto-renewal can't be cancelled "
            "before that new period begins.") in text(screen)
    assert actions(screen) == ["start:scheduled_change"]
    assert await w.what_the_core_holds() == before

    # The way out works: cancel the scheduled change, then cancelling is possible.
    screen = await w.press(await w.press(screen, "start:scheduled_change"), "confirm")
    assert screen.step == "done"
    screen = await w.press(await w.choose(await w.start("cancel"), "other"), "skip")
    assert (await w.press(screen, "confirm")).step == "done"


# ----- abandoning changes nothing ------------------------------------------------------------


async def _reach(w: World, step: str):
    screen = await w.start("cancel")
    path = {"reason": [], "comment": ["reason"], "offer": ["reason", "skip"],
            "offer_summary": ["reason", "skip", "take"], "confirm": ["reason", "skip", "continue"]}[step]
    for move in path:
        screen = await (w.choose(screen, "too_expensive") if move == "reason" else w.press(screen, move))
    assert screen.step == step
    return screen


@pytest.mark.parametrize("step", ["reason", "comment", "offer", "offer_summary", "confirm"])
async def test_leaving_at_any_step_changes_nothing(core, key, step) -> None:
    w = await World.open(core, key, plan="plus")
    before = await w.what_the_core_holds()
    screen = await _reach(w, step)
    way_out = "close" if "close" in actions(screen) else "keep"
    left = await w.press(screen, way_out)
    assert left.reply.final and text(left).startswith("Nothing was changed.")
    assert await w.what_the_core_holds() == before


@pytest.mark.parametrize("step", ["reason", "comment", "offer", "confirm"])
async def test_walking_away_changes_nothing_and_the_buttons_expire(core, key, step) -> None:
    w = await World.open(core, key, plan="plus")
    before = await w.what_the_core_holds()
    screen = await _reach(w, step)
    core.clock.advance(timedelta(minutes=16))
    late = await w.engine.handle(screen.flow_id, screen.step, w.owner, screen.reply.buttons[0].action, value="other")
    assert late.notice and text(late) == "This confirmation has expired. Nothing was changed."
    assert actions(late) == ["start:cancel"]
    assert await w.what_the_core_holds() == before
