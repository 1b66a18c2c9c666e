"""Owed messages through a Discord outage: how many were owed, delivered and duplicated, and
how long after Discord came back each was delivered.

Why: receipts and decisions owed by DM must survive an outage of Discord: none lost, none
sent twice, and delivered soon after Discord answers again.

The real bot (in this process, shipped delivery settings: rounds every 5 s, retries from 2 s
to 5 min, a probe every 30 s) against the local Discord double. USERS users each cancel in a
server while every message send answers 503 (the outage); the cancel's result reaches each
user (an interaction answer) and its receipt DM is owed. When the outage ends, each receipt's
delay is the time from the end of the outage to its arrival.

    python bench/bench_outbox.py [--outage 30] [--users 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bot_harness import SUPPORT, Harness
from tests.discord_double.faults import Fault


async def run(outage_s: float, users: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        async with Harness.open(Path(tmp)) as h:
            ids = [5000 + n for n in range(users)]
            for user in ids:
                h.double.add_user(user, f"user{user}")
                await h.account(user)
            await h.start_bot()
            fault = h.double.faults.add(Fault("POST", "/channels/*/messages", 503, times=10**9))
            started = time.monotonic()
            for user in ids:
                reasons = await h.command(user, "cancel", channel=SUPPORT)
                offer = await h.press(user, await h.choose(user, reasons, "too_expensive"), "Skip")
                confirm = await h.press(user, offer, "Continue to cancel")
                await h.press(user, confirm, "Cancel renewal")
            await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - started)))
            fault.times = 0
            back = time.monotonic()
            delays = []
            for user in ids:
                await h.double.next_message(dm_of=user, timeout=120)
                delays.append(time.monotonic() - back)
            await asyncio.sleep(6)  # a round more: anything sent twice would show now
            sent = sum(len(h.dms(user)) for user in ids)
            delays.sort()
            return {"owed": users, "delivered": len(delays), "messages": sent, "duplicated": sent - users,
                    "failed_sends": fault.hits, "p50_s": statistics.median(delays),
                    "p99_s": delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    print(asyncio.run(run(args.outage, args.users)))


if __name__ == "__main__":
    main()
