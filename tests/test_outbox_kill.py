"""kill -9 of the real bot process (``python -m tests.bot_process``, as production starts it)
at random moments while users go through /cancel and the bot delivers what it owes (receipt
DMs, and reminders an operator's sweep owed), restarted each time. Afterwards every owed
message was delivered exactly once, and the core's invariants hold."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

import pytest

from bot.delivery import DEFAULT_INTERVAL, LEASE, PROBE_EVERY
from tests.bot_harness import Harness
from tests.discord_double import DoubleTimeout
from tests.test_hardening_fuzz import invariants

USERS = 10
RECEIPT = "Auto-renewal cancelled."


@pytest.fixture
async def h(tmp_path):
    async with Harness.open(tmp_path) as harness:
        yield harness


async def step(press, *args):
    """A press that may meet a dead process: after a restart the same button works again."""
    problems = []
    for _ in range(3):
        try:
            return await press(*args)
        except DoubleTimeout as exc:  # no answer: the process was killed under it
            problems.append(repr(exc)[:300])
            await asyncio.sleep(0.2)
    raise AssertionError(f"a press kept failing across restarts: {problems}")


async def test_kill_9_during_flows_and_deliveries_loses_and_repeats_nothing(h):
    rng = random.Random(20261205)
    users = [6000 + n for n in range(USERS)]
    for user in users:
        h.double.add_user(user, f"user{user}")
        await h.account(user)
    for user in users[-4:]:  # these also owe a reminder, from an operator's sweep before they cancel
        await h.app.core.users.set_reminders(str(user), True)

    # November 29: renewals on December 1 are due for a reminder (simulated time, kept in the
    # database, so the bot processes share it).
    await h.app.advance_clock(timedelta(days=28))
    process = await h.launch_process("bot0")
    kills = 0

    async def restart() -> None:
        nonlocal process, kills
        process.kill()  # SIGKILL: no goodbye, whatever was in flight
        await process.wait()
        kills += 1
        await h.double.wait_disconnected()
        process = await h.launch_process(f"bot{kills}")

    for n, user in enumerate(users):
        reasons = await step(h.command, user, "cancel")  # in a server channel: the receipt goes by DM
        if rng.random() < 0.3:
            await restart()  # mid-flow
        comment = await step(h.choose, user, reasons, "too_expensive")
        offer = await step(h.press, user, comment, "Skip")
        confirm = await step(h.press, user, offer, "Continue to cancel")
        done = await step(h.press, user, confirm, "Cancel renewal")
        assert done.content.startswith(RECEIPT) or "Nothing was changed" not in done.content
        if n == 3:
            await h.app.core.sweep()  # the operator's sweep, in its own process
        if rng.random() < 0.5:
            await asyncio.sleep(rng.uniform(0, 0.3))  # the receipt's delivery is under way
            await restart()

    # Whatever was in flight at a kill is still owed: the last process delivers it; a row a
    # killed process had claimed once its lease lapses, at the loop's next round.
    # A row whose send failed at a kill waits for its retry, at most a probe's interval later.
    deadline = time.monotonic() + LEASE + PROBE_EVERY + 2 * DEFAULT_INTERVAL
    while True:
        async with h.app.core.db.read() as tx:
            left = (await tx.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'"))["n"]
        if not left or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert left == 0
    assert kills >= 3
    print(f"kills survived: {kills}")

    for user in users:
        dms = [m.content for m in h.dms(user)]
        assert sum(c.startswith(RECEIPT) for c in dms) == 1, (user, dms)
    reminders = [sum(c.startswith("Reminder:") for c in (m.content for m in h.dms(u))) for u in users]
    assert reminders == [0] * (USERS - 4) + [1] * 4, reminders
    async with h.app.core.db.read() as tx:
        statuses = await tx.fetchall("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
    assert {r["status"]: r["n"] for r in statuses} == {"sent": USERS + sum(reminders)}
    await invariants(h.app.core)
