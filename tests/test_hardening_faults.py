"""Faults around the bot: Discord answering 500 or 429 on callbacks and follow-ups, the mod
channel deleted or unreadable, closed DMs, the database busy. The flow state stays
consistent, the user can go on, the case is kept, and every word to the user is plain.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

import bot.respond
from tests.bot_harness import ALICE, Harness, labels, mentions_off_everywhere, select_of
from tests.conftest import table_counts
from tests.discord_double import Message
from tests.refund_harness import MODERATOR, MODS, moderated
from tests.test_hardening_kill import record_figures

FAULTS: list[str] = []


@pytest.fixture
async def h(tmp_path):
    async with moderated(tmp_path) as harness:
        yield harness
        assert mentions_off_everywhere(harness.double) == []


def fail(h: Harness, method: str, path: str, **kw):
    FAULTS.append(f"{method} {path} {kw.get('status', 500)}")
    return h.double.fail(method, path, **kw)


async def test_a_failed_callback_leaves_the_flow_consistent_and_pressing_again_goes_on(h):
    await h.account(ALICE)
    await h.start_bot()
    reasons = await h.command(ALICE, "cancel")
    comment = await h.choose(ALICE, reasons, "too_expensive")
    # A 500 on the answer to "Skip": discord.py retries it; the user sees the next step anyway.
    fail(h, "POST", "/interactions/*/callback", status=500, times=1)
    offer = await h.press(ALICE, comment, "Skip")
    assert offer.id == comment.id and "Continue to cancel" in labels(offer)
    # Discord loses the answer to "Continue to cancel" and the apology too (404 Unknown interaction).
    fail(h, "POST", "/interactions/*/callback", status=404, code=10062, message="Unknown interaction", times=2)
    lost = await h.double.click(ALICE, offer, label="Continue to cancel")
    with pytest.raises(AssertionError):
        await lost.response(timeout=0.5)
    assert h.double.world.messages[offer.id].content == offer.content  # the user still sees the offer
    # The same button again: the flow shows where it is (the confirmation) and changes nothing.
    confirm = await h.press(ALICE, offer, "Continue to cancel")
    assert labels(confirm)[0] == "Cancel renewal"
    assert not (await h.view(ALICE)).cancel_at_period_end  # nothing changed before the final press
    # 429 on the final confirm's answer: discord.py waits and retries.
    fail(h, "POST", "/interactions/*/callback", status=429, retry_after=0.2, times=1)
    # And the answer to the next press is lost once, its apology gets through.
    done = await h.press(ALICE, confirm, "Cancel renewal")
    assert "Auto-renewal cancelled." in done.content
    fail(h, "POST", "/interactions/*/callback", status=404, code=10062, message="Unknown interaction", times=1)
    apology = await (await h.double.click(ALICE, done, label="Resume auto-renew")).response()
    assert apology.ephemeral and "Something went wrong" in apology.content
    assert (await h.view(ALICE)).cancel_at_period_end  # the lost answer changed nothing more
    receipts = [m for m in h.dms(ALICE) if "Auto-renewal cancelled." in m.content]
    assert len(receipts) == 1
    async with h.app.db.read() as tx:
        assert (await tx.fetchone("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cancel'"))["n"] == 1


async def test_failed_follow_ups_after_a_deferral_are_survived(h, monkeypatch):
    monkeypatch.setattr(bot.respond, "DEFER_AFTER", 0.0)  # every answer goes out as a follow-up
    await h.account(ALICE)
    await h.start_bot()
    fail(h, "POST", "/webhooks/*", status=404, code=10015, message="Unknown Webhook", times=1)
    first = await h.double.slash(ALICE, "topup")
    assert await first.acknowledged() == 5
    apology = await first.response()  # the first follow-up failed; the apology is the next one
    assert "Something went wrong" in apology.content
    retried = await (await h.double.slash(ALICE, "topup")).response()  # the user runs it again
    assert select_of(retried)
    fail(h, "PATCH", "/webhooks/*", status=429, retry_after=0.1, times=1)
    pressed = await h.double.select(ALICE, retried, select_of(retried)["custom_id"], ["credits_500"])
    assert isinstance(await pressed.response(), Message)


async def test_deleted_or_unreadable_mod_channel_keeps_the_case_and_says_so(h):
    await h.account(ALICE)
    await h.start_bot()
    for status, code, message in ((404, 10003, "Unknown Channel"), (403, 50001, "Missing Access")):
        fail(h, "POST", f"/channels/{MODS}/messages", status=status, code=code, message=message, times=100)
        fail(h, "GET", f"/channels/{MODS}", status=status, code=code, message=message, times=100)
    await h.command(ALICE, "refund")
    dm = await h.double.next_message(dm_of=ALICE)
    reasons = await h.choose(ALICE, dm, select_of(dm)["options"][0]["value"])
    sent = await h.press(ALICE, await h.choose(ALICE, reasons, "duplicate"), "Send without details")
    assert "moderators" in sent.content and "Something went wrong" not in sent.content
    [case] = await h.app.core.cases.list("open")  # kept: /admin cases lists it
    listed = await h.command(MODERATOR, "admin cases")
    assert f"#{case.id[:8]}" in listed.content
    granted = await h.command(MODERATOR, "admin credits",
                              {"action": "grant", "user": ALICE, "amount": 5, "reason": "sorry"})
    assert "granted 5 credits" in granted.content
    # The line is owed to the mod-log; Discord refuses it (deleted or closed to the bot): it is
    # recorded as never delivered, counted in /admin stats, and the action is in the audit trail.
    for _ in range(50):
        async with h.app.db.read() as tx:
            lost = await tx.fetchall("SELECT kind FROM outbox WHERE status = 'undeliverable' ORDER BY kind")
        if len(lost) >= 2:
            break
        await asyncio.sleep(0.1)
    assert {r["kind"] for r in lost} >= {"case_post", "mod_line"}
    stats = await h.command(MODERATOR, "admin stats")
    assert "Messages never delivered:" in stats.content


async def test_closed_dms_are_said_where_the_user_asked_and_nothing_is_lost(h):
    await h.account(ALICE)
    await h.start_bot()
    h.double.set_dms_open(ALICE, False)
    asked = await h.command(ALICE, "refund")
    assert "DMs are closed" in asked.content and labels(asked) == ["Retry"]
    h.double.set_dms_open(ALICE, True)
    retried = await h.press(ALICE, asked, "Retry")
    assert "check your DMs" in retried.content
    assert select_of(await h.double.next_message(dm_of=ALICE))  # the same intake, now in the DM


async def test_a_locked_database_is_answered_in_time_and_busy_within_seconds(h, tmp_path):
    # The shipped settings: no shorter lock wait than the bot's own.
    await h.account(ALICE)
    await h.start_bot()
    reasons = await h.command(ALICE, "cancel")
    comment = await h.choose(ALICE, reasons, "other")
    holder = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock, for good
    try:
        started = time.monotonic()
        pending = await h.double.click(ALICE, comment, label="Skip")
        await pending.acknowledged(timeout=3)  # Discord's window: deferred, not failed
        busy = await pending.response(timeout=15)
        took = time.monotonic() - started
        assert busy.ephemeral and "very busy" in busy.content
        assert took < 8, took  # not the ~26 s a command-line sweep would wait
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    record_figures(locked_press_answered_busy_after_s=round(took, 1))


async def test_a_busy_database_gets_a_busy_answer_and_the_flow_goes_on_after(h, tmp_path):
    await h.account(ALICE)
    await h.start_bot()
    reasons = await h.command(ALICE, "cancel")
    comment = await h.choose(ALICE, reasons, "other")
    h.app.db.busy_timeout_ms = 50
    before = await table_counts(h.app.db)
    holder = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    FAULTS.append("database write lock held by another connection")
    try:
        busy = await (await h.double.click(ALICE, comment, label="Skip")).response(timeout=10)
        assert busy.ephemeral and "very busy" in busy.content
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await table_counts(h.app.db) == before
    offer = await h.press(ALICE, comment, "Skip")  # the same button, now that the lock is gone
    assert "Continue to cancel" in labels(offer)
    record_figures(faults_injected=len(FAULTS) + 1, fault_kinds=sorted(set(FAULTS)))
