"""What the bot owes is a row, not a call: the outbox in the core (both backends), and its
delivery by the real bot against the local Discord double (outages, restarts, the operator's
sweep, closed DMs, a crash between Discord's answer and marking the row)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

import locales
from core import outbox
from tests.bot_harness import ALICE, BOB, SUPPORT, Harness, labels
from tests.discord_double import DoubleTimeout
from tests.discord_double.faults import Fault

FAST = (0.2,)  # seconds between delivery attempts in these tests (the shipped schedule: bot/delivery.py)


async def rows(db) -> list[dict]:
    async with db.read() as tx:
        return await tx.fetchall("SELECT key, kind, recipient, status, attempts FROM outbox ORDER BY created_at, key")


# -- the core's outbox ------------------------------------------------------------------------


async def test_a_message_is_owed_once_per_key_and_only_if_its_change_commits(core):
    db = core.db
    now = int(time.time())
    async with db.transaction() as tx:
        assert await outbox.enqueue(tx, key="receipt:f1", kind="receipt", recipient="42", payload={"a": 1}, now=now)
        assert not await outbox.enqueue(tx, key="receipt:f1", kind="receipt", recipient="42", payload={}, now=now)
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await outbox.enqueue(tx, key="receipt:f2", kind="receipt", recipient="42", payload={}, now=now)
            raise RuntimeError("the change failed")
    assert [r["key"] for r in await rows(db)] == ["receipt:f1"]


async def test_a_claimed_row_is_nobody_elses_until_its_lease_lapses(core):
    db = core.db
    now = int(time.time())
    async with db.transaction() as tx:
        await outbox.enqueue(tx, key="k", kind="receipt", recipient="42", payload={}, now=now)
    [first] = await outbox.claim(db, now, lease_seconds=60)
    assert await outbox.claim(db, now) == []  # another process, at the same moment
    assert [o.key for o in await outbox.claim(db, now + 61)] == ["k"]  # the first one died
    await outbox.mark_retry(db, first, now + 10, "503")
    assert await outbox.claim(db, now + 5) == []
    [again] = await outbox.claim(db, now + 10)
    assert again.attempts == 1 and again.nonce == first.nonce  # the same nonce on every attempt
    await outbox.mark_sent(db, again, now + 10)
    assert await outbox.claim(db, now + 10_000) == []
    assert (await outbox.counts(db))["sent"] == 1


async def test_the_sweep_owes_each_reminder_once(core, key):
    account = await core.create_account("a@example.com", key=key(), discord_id="77", plan="plus")
    await core.users.set_reminders("77", True)
    core.clock.advance(timedelta(days=28))
    assert len((await core.sweep()).reminders) == 1
    assert (await core.sweep()).reminders == ()
    [owed] = await rows(core.db)
    assert owed["kind"] == "reminder" and owed["recipient"] == "77" and owed["status"] == "pending"
    assert account.account_id


# -- delivery by the bot ----------------------------------------------------------------------


@pytest.fixture
async def h(tmp_path):
    async with Harness.open(tmp_path) as harness:
        yield harness


async def cancelled_in_a_server(h: Harness) -> None:
    """Alice cancels through /cancel in the support channel: an ephemeral result and a receipt owed."""
    reasons = await h.command(ALICE, "cancel", channel=SUPPORT)
    comment = await h.choose(ALICE, reasons, "too_expensive")
    offer = await h.press(ALICE, comment, "Skip")
    confirm = await h.press(ALICE, offer, "Continue to cancel")
    done = await h.press(ALICE, confirm, "Cancel renewal")
    assert done.content.startswith("Auto-renewal cancelled.")


async def test_a_cancel_during_an_outage_gets_its_receipt_once_when_discord_is_back(h):
    await h.account(ALICE)
    await h.start_bot(delivery_interval=0.1, delivery_backoff=FAST)
    outage = h.double.faults.add(Fault("POST", "/channels/*/messages", 503, times=10_000))
    await cancelled_in_a_server(h)  # the result reaches Alice; only the DM waits for Discord
    await asyncio.sleep(2.5)
    assert h.dms(ALICE) == [] and outage.hits >= 2  # retried while Discord failed
    outage.times = 0  # Discord is back
    receipt = await h.double.next_message(dm_of=ALICE, timeout=10)
    assert receipt.content.startswith("Auto-renewal cancelled.")
    await asyncio.sleep(1.5)
    assert len(h.dms(ALICE)) == 1
    assert [r["status"] for r in await rows(h.app.core.db)] == ["sent"]


async def test_after_a_long_outage_everything_owed_goes_out_soon_after_discord_is_back(h):
    await h.account(ALICE)
    await h.account(BOB)
    # Retries 60 s apart, as late in a long outage; probes every half second (30 s shipped).
    await h.start_bot(delivery_interval=0.1, delivery_backoff=(60,), delivery_probe_every=0.5)
    outage = h.double.faults.add(Fault("POST", "/channels/*/messages", 503, times=10_000))
    for user in (ALICE, BOB):
        reasons = await h.command(user, "cancel", channel=SUPPORT)
        offer = await h.press(user, await h.choose(user, reasons, "too_expensive"), "Skip")
        confirm = await h.press(user, offer, "Continue to cancel")
        await h.press(user, confirm, "Cancel renewal")
    await asyncio.sleep(2)
    assert outage.hits >= 3  # the first tries, then probes
    outage.times = 0
    back = time.monotonic()
    await h.double.next_message(dm_of=ALICE, timeout=5)
    await h.double.next_message(dm_of=BOB, timeout=5)
    assert time.monotonic() - back < 3  # not 60 s: the first send that worked woke the others
    for _ in range(20):  # each row is marked right after Discord's answer
        if [r["status"] for r in await rows(h.app.core.db)] == ["sent", "sent"]:
            break
        await asyncio.sleep(0.1)
    assert [r["status"] for r in await rows(h.app.core.db)] == ["sent", "sent"]


async def test_the_operators_sweep_leads_to_one_reminder_sent_by_the_running_bot(h):
    await h.account(ALICE)
    await h.app.core.users.set_reminders(str(ALICE), True)
    # The bot's own sweep is far off: only the operator's sweep can owe the reminder.
    await h.start_bot(reminder_interval=3600, delivery_interval=0.1, delivery_backoff=FAST)
    h.app.core.clock.advance(timedelta(days=28))
    report = await h.app.core.sweep()  # what `python -m bot sweep` runs, in its own process
    assert len(report.reminders) == 1
    reminder = await h.double.next_message(dm_of=ALICE, timeout=10)
    assert reminder.content.startswith("Reminder: your Plus plan renews on December 1, 2026")
    assert labels(reminder) == ["Keep renewal", "Cancel renewal", "Talk to a moderator"]
    await h.app.core.sweep()
    await asyncio.sleep(1)
    assert len(h.dms(ALICE)) == 1


async def test_what_was_owed_while_the_bot_was_down_goes_out_when_it_starts(h):
    await h.account(ALICE)
    await h.app.core.users.set_reminders(str(ALICE), True)
    h.app.core.clock.advance(timedelta(days=28))
    await h.app.core.sweep()  # no bot running
    await h.start_bot(reminder_interval=3600, delivery_interval=0.1, delivery_backoff=FAST)
    reminder = await h.double.next_message(dm_of=ALICE, timeout=10)
    assert "December 1, 2026" in reminder.content


async def test_a_crash_between_discords_answer_and_marking_the_row_shows_one_copy(h):
    await h.account(ALICE)
    await h.start_bot(delivery_interval=0.1, delivery_backoff=FAST)
    await cancelled_in_a_server(h)
    await h.double.next_message(dm_of=ALICE, timeout=10)
    # As if the process had died right after Discord's answer: the row is still pending.
    async with h.app.core.db.transaction() as tx:
        await tx.execute("UPDATE outbox SET status = 'pending', due_at = 0, lease_until = 0")
    await h.bot.delivery.deliver_due()
    assert len(h.dms(ALICE)) == 1  # the nonce: Discord answered with the first copy
    assert [r["status"] for r in await rows(h.app.core.db)] == ["sent"]


async def test_closed_dms_are_recorded_and_not_retried(h):
    await h.account(BOB)
    h.double.set_dms_open(BOB, False)
    await h.start_bot(delivery_interval=0.1, delivery_backoff=FAST)
    reasons = await h.command(BOB, "cancel", channel=SUPPORT)
    comment = await h.choose(BOB, reasons, "too_expensive")
    offer = await h.press(BOB, comment, "Skip")
    confirm = await h.press(BOB, offer, "Continue to cancel")
    await h.press(BOB, confirm, "Cancel renewal")
    bobs_dm = f"/channels/{h.double.dm_channel(BOB).id}/messages"
    assert [r.status for r in await h.requests_made("POST", bobs_dm, 1)] == [403]
    await asyncio.sleep(1)
    assert [r.status for r in h.double.requests("POST", bobs_dm)] == [403]  # once
    [row] = await rows(h.app.core.db)
    assert row["status"] == "undeliverable" and row["attempts"] == 1
    # What moderators see in /admin stats.
    from bot.admin import Admin

    lines = [locales.render(m, "en") for m in Admin._owed(await outbox.counts(h.app.core.db))]
    lost = "Messages never delivered: 1 to closed DMs or a missing channel, 0 given up after 24 hours"
    assert lines == ["Messages waiting to be sent: 0", lost]

    # The next time Bob uses a command, he is shown what his DMs missed, privately, once.
    pending = await h.double.slash(BOB, "subscription", channel=SUPPORT)
    await pending.response()
    note = await pending.followup()
    assert note.ephemeral
    assert note.content.startswith("This message could not reach you: your DMs are closed to me. Here it is:")
    assert "Auto-renewal cancelled." in note.content
    again = await h.double.slash(BOB, "subscription", channel=SUPPORT)
    await again.response()
    with pytest.raises(DoubleTimeout):
        await again.followup(timeout=0.5)
