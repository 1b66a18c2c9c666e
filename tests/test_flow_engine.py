"""What every flow's final confirmation guarantees, and the engine's refusals.

Each confirmation below is reached as a user reaches it; then: a second press
changes nothing and shows the same receipt; twenty presses at once change the
account once (one charge where there is a charge); an expired flow, a
stranger's press and a stale button change nothing; and a new engine on the
same database (a restart, another process) finishes the flow.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from flows.engine import CLAIM, FlowEngine
from flows.limits import STARTS_PER_MINUTE, StartLimit
from tests.flow_helpers import STRANGER, World, actions, text


async def _cancel(w: World, core, key):
    screen = await w.press(await w.choose(await w.start("cancel"), "other"), "skip")
    return await w.press(screen, "continue")


async def _save_offer(w: World, core, key):
    screen = await w.press(await w.choose(await w.start("cancel"), "other"), "skip")
    return await w.press(screen, "take")


async def _resume(w: World, core, key):
    await core.cancel(w.account_id, "other", key=key())
    return await w.start("resume")


async def _resubscribe(w: World, core, key):
    await core.cancel(w.account_id, "other", key=key())
    core.clock.advance(timedelta(days=40))
    return await w.choose(await w.start("resume"), "plus")


async def _upgrade_now(w: World, core, key):
    core.clock.advance(timedelta(days=3))
    return await w.press(await w.choose(await w.start("plan"), "pro"), "now")


async def _downgrade(w: World, core, key):
    return await w.choose(await w.start("plan"), "basic")


async def _cancel_change(w: World, core, key):
    await core.change_plan(w.account_id, "basic", "end", key=key())
    return await w.start("scheduled_change")


async def _topup(w: World, core, key):
    return await w.choose(await w.start("topup"), "credits_500")


# name: (plan, reach the confirmation, the audit action it writes, invoices it adds)
CONFIRMS = {
    "cancel": ("plus", _cancel, "cancel", 0),
    "save_offer": ("plus", _save_offer, "change_plan", 0),
    "resume": ("plus", _resume, "resume", 0),
    "resubscribe": ("plus", _resubscribe, "change_plan", 1),
    "upgrade_now": ("plus", _upgrade_now, "change_plan", 1),
    "downgrade": ("plus", _downgrade, "change_plan", 0),
    "cancel_scheduled_change": ("pro", _cancel_change, "cancel_change", 0),
    "topup": ("plus", _topup, "topup", 1),
}


async def _at_confirm(core, key, name: str):
    plan, reach, operation, charges = CONFIRMS[name]
    w = await World.open(core, key, plan=plan)
    screen = await reach(w, core, key)
    assert "confirm" in actions(screen), (name, screen.step)
    return w, screen, operation, charges


async def _count(w: World, operation: str) -> int:
    return [row["action"] for row in await w.core.audit_trail(w.account_id, limit=200)].count(operation)


@pytest.mark.parametrize("name", CONFIRMS)
async def test_a_second_press_changes_nothing_and_shows_the_same_receipt(core, key, name) -> None:
    w, screen, operation, charges = await _at_confirm(core, key, name)
    done_before = await _count(w, operation)
    invoices = len(await w.invoices())
    first = await w.press(screen, "confirm")
    assert first.reply.final and not first.notice
    after_first = await w.what_the_core_holds()
    second = await w.press(screen, "confirm")
    assert second.notice and text(second) == text(first)
    assert first.reply.receipt and not second.reply.receipt  # one receipt by DM, not two
    assert await w.what_the_core_holds() == after_first
    assert await _count(w, operation) == done_before + 1
    assert len(await w.invoices()) == invoices + charges


@pytest.mark.parametrize("name", CONFIRMS)
async def test_twenty_presses_at_once_change_the_account_once(core, key, name) -> None:
    w, screen, operation, charges = await _at_confirm(core, key, name)
    done_before = await _count(w, operation)
    invoices = len(await w.invoices())
    screens = await asyncio.gather(*(w.engine.handle(screen.flow_id, screen.step, w.owner, "confirm") for _ in range(20)))
    assert await _count(w, operation) == done_before + 1
    assert len(await w.invoices()) == invoices + charges
    assert len({text(s) for s in screens}) == 1, {text(s) for s in screens}  # the same receipt for every press
    assert sum(not s.notice for s in screens) == 1  # one press moved the flow's message on; the rest were told
    assert sum(s.reply.receipt for s in screens) == 1
    stored = await w.engine.store.load(screen.flow_id)
    assert CLAIM not in stored.data and stored.data["_final"]


@pytest.mark.parametrize("name", CONFIRMS)
async def test_an_expired_confirmation_is_refused_and_changes_nothing(core, key, name) -> None:
    w, screen, _, _ = await _at_confirm(core, key, name)
    core.clock.advance(timedelta(minutes=15, seconds=1))
    before = await w.what_the_core_holds()
    late = await w.press(screen, "confirm")
    assert late.notice and text(late) == "This confirmation has expired. Nothing was changed."
    assert actions(late) == [f"start:{screen.kind}"]
    assert await w.what_the_core_holds() == before


@pytest.mark.parametrize("name", CONFIRMS)
async def test_another_users_press_is_refused_and_the_owner_can_still_confirm(core, key, name) -> None:
    w, screen, _, _ = await _at_confirm(core, key, name)
    before = await w.what_the_core_holds()
    foreign = await w.press(screen, "confirm", actor=STRANGER)
    assert foreign.notice and "Only the person who started this can use these buttons." in text(foreign)
    assert await w.what_the_core_holds() == before
    assert not (await w.press(screen, "confirm")).notice


@pytest.mark.parametrize("name", CONFIRMS)
async def test_a_new_engine_on_the_same_database_finishes_the_flow(core, key, name) -> None:
    w, screen, operation, _ = await _at_confirm(core, key, name)
    done_before = await _count(w, operation)
    restarted = w.restarted()
    done = await restarted.press(screen, "confirm")
    assert done.reply.final and not done.notice
    assert await _count(w, operation) == done_before + 1


# ----- the engine's own rules --------------------------------------------------------------------


async def test_a_new_engine_continues_mid_way_through_the_cancel_flow(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.choose(await w.start("cancel"), "results_quality")
    later = w.restarted()
    screen = await later.submit(screen, comment="Faces come out wrong.")
    screen = await later.press(await later.press(screen, "continue"), "confirm")
    assert screen.step == "done"
    assert (await core.snapshot(w.account_id)).cancel_reason == "results_quality"


async def test_a_stale_button_of_an_earlier_step_is_refused(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    reason = await w.start("cancel")
    comment = await w.choose(reason, "other")
    before = await w.what_the_core_holds()
    stale = await w.engine.handle(reason.flow_id, reason.step, w.owner, "reason", value="too_expensive")
    assert stale.notice and text(stale) == "This confirmation has expired. Nothing was changed."
    assert (await w.press(comment, "skip")).step == "offer"  # the flow itself goes on
    assert await w.what_the_core_holds() == before


async def test_unknown_flows_forged_actions_and_values_are_refused(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.start("cancel")
    unknown = await w.engine.handle("0" * 32, "confirm", w.owner, "confirm")
    assert unknown.notice and text(unknown) == "This confirmation has expired. Nothing was changed."
    forged = await w.engine.handle(screen.flow_id, screen.step, w.owner, "=quoted")
    assert forged.notice and "expired" in text(forged)
    bad_value = await w.engine.handle(screen.flow_id, screen.step, w.owner, "reason", value="because")
    assert bad_value.notice and (await w.choose(screen, "other")).step == "comment"


async def test_two_different_buttons_at_once_leave_the_flow_and_the_account_agreeing(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await _cancel(w, core, key)
    confirm, keep = await asyncio.gather(
        w.engine.handle(screen.flow_id, screen.step, w.owner, "confirm"),
        w.engine.handle(screen.flow_id, screen.step, w.owner, "keep"),
    )
    stored = await w.engine.store.load(screen.flow_id)
    cancelled = (await core.snapshot(w.account_id)).cancel_at_period_end
    assert stored.step == ("done" if cancelled else "kept")
    shown = confirm if cancelled else keep
    assert not shown.notice and shown.step == stored.step


async def test_a_confirmation_left_claimed_by_a_crash_is_finished_by_pressing_it_again(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await _cancel(w, core, key)
    flow = await w.engine.store.load(screen.flow_id)
    await w.engine.store.advance(flow, flow.with_data(**{CLAIM: ["confirm", "confirm"]}), core.clock.now())
    core.clock.advance(timedelta(hours=1))  # even after the flow's timeout
    other = await w.engine.handle(screen.flow_id, screen.step, w.owner, "keep")
    assert other.notice and "expired" in text(other)
    done = await w.press(screen, "confirm")
    assert done.step == "done" and (await core.snapshot(w.account_id)).cancel_at_period_end


async def test_a_busy_confirmation_refuses_other_buttons(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await _cancel(w, core, key)
    flow = await w.engine.store.load(screen.flow_id)
    await w.engine.store.advance(flow, flow.with_data(**{CLAIM: ["confirm", "confirm"]}), core.clock.now())
    other = await w.engine.handle(screen.flow_id, screen.step, w.owner, "keep")
    assert other.notice and text(other) == "Your confirmation is being processed. Please wait a moment."


async def test_the_form_button_reopens_the_form_and_current_changes_nothing(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    comment = await w.choose(await w.start("cancel"), "other")
    flow = await w.engine.store.load(comment.flow_id)
    reopened = await w.engine.handle(comment.flow_id, comment.step, w.owner, "comment")  # no fields: not a submit
    assert reopened.reply == comment.reply and not reopened.notice
    current = await w.engine.current(comment.flow_id, comment.step, w.owner)
    assert current.reply == comment.reply and current.step == "comment"
    assert (await w.engine.store.load(comment.flow_id)).version == flow.version
    foreign = await w.engine.current(comment.flow_id, comment.step, STRANGER)
    assert foreign.notice


async def test_store_compare_and_swap_lets_one_writer_win(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.start("cancel")
    read = await w.engine.store.load(screen.flow_id)
    first = await w.engine.store.advance(read, read.at("comment"), core.clock.now())
    second = await w.engine.store.advance(read, read.at("offer"), core.clock.now())
    assert first is not None and first.version == read.version + 1 and second is None
    assert (await w.engine.store.load(screen.flow_id)).step == "comment"


async def test_expired_flows_are_purged(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    old = await w.start("cancel")
    core.clock.advance(timedelta(days=8))
    fresh = await w.start("cancel")
    assert await w.engine.purge_expired() == 1
    assert await w.engine.store.load(old.flow_id) is None
    assert await w.engine.store.load(fresh.flow_id) is not None


async def test_unknown_kinds_are_a_programming_error(core) -> None:
    with pytest.raises(ValueError):
        await FlowEngine(core, core.db).start("refund_please", "1")


async def test_the_start_limit_counts_real_time_not_the_core_clock(core, key) -> None:
    real = [500.0]
    w = await World.open(core, key, plan="plus")
    w.engine = FlowEngine(core, core.db, timedelta(minutes=15), starts=StartLimit(clock=lambda: real[0]))
    for _ in range(STARTS_PER_MINUTE):
        assert (await w.start("topup")).step != "too_fast"
    assert (await w.engine.start("topup", w.owner)).step == "too_fast"
    # The core's clock moving (or, with CLOCK=simulated, standing still) changes nothing.
    core.clock.advance(timedelta(hours=2))
    assert (await w.engine.start("topup", w.owner)).step == "too_fast"
    assert (await w.engine.start("topup", STRANGER)).step != "too_fast"  # per user
    real[0] += 60
    assert (await w.start("topup")).step != "too_fast"


def test_the_start_limit_window_slides() -> None:
    now = [0.0]
    limit = StartLimit(limit=2, window=60, clock=lambda: now[0])
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    now[0] = 59.9
    assert not limit.allow("a") and limit.allow("b")
    now[0] = 60.0
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
