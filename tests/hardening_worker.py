"""Scripted flows in their own process, for the kill -9 test (tests/test_hardening_kill.py).

``python -m tests.hardening_worker JOURNAL TARGET`` with the bot's settings in the
environment (DATABASE_URL, CLOCK=simulated, PAYMENT_SIMULATION_LEDGER). Builds the App as
production does (bootstrap: migrations, then payment recovery), then runs flows numbered
from where the journal stops until TARGET have been started. Flow ``n`` is decided by
``n`` alone (its account, what it does, its idempotency key ``flow<n>``). Before each flow
the journal gets ``S n``, after it ``D n`` (or ``R n CODE`` for a refusal); a kill leaves a
flow with ``S`` only. The parent kills this process at random moments.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from datetime import timedelta

from bot.bootstrap import build
from bot.settings import load_settings
from core.errors import CoreError
from core.service import CANCEL_REASONS

ACCOUNTS = 8
KINDS = ("topup", "topup", "upgrade_now", "plan_end", "cancel", "resume", "subscribe", "spend", "clock")


def plan_for(n: int) -> tuple[int, str, random.Random]:
    rnd = random.Random(n)
    return rnd.randrange(ACCOUNTS), rnd.choice(KINDS), rnd


async def one_flow(app, account_id: str, kind: str, rnd: random.Random, key: str) -> None:
    core = app.core
    if kind == "topup":
        await core.buy_topup(account_id, rnd.choice(["credits_500", "credits_2000", "credits_5000"]), key=key)
    elif kind == "upgrade_now":
        await core.change_plan(account_id, rnd.choice(["plus", "pro"]), "now", key=key)
    elif kind == "plan_end":
        await core.change_plan(account_id, rnd.choice(["basic", "plus", "pro"]), "end", key=key)
    elif kind == "cancel":
        await core.cancel(account_id, rnd.choice(CANCEL_REASONS), key=key)
    elif kind == "resume":
        await core.resume(account_id, key=key)
    elif kind == "subscribe":
        await core.change_plan(account_id, rnd.choice(["basic", "plus"]), "now", key=key)
    elif kind == "spend":
        await core.spend_credits(account_id, rnd.randrange(1, 400), key=key)
    elif kind == "clock":
        await app.advance_clock(timedelta(days=rnd.randrange(3, 20)))
        await core.sweep()


def started_so_far(journal_path: str) -> int:
    if not os.path.exists(journal_path):
        return 0
    with open(journal_path) as f:
        return sum(1 for line in f if line.startswith("S "))


async def main(journal_path: str, target: int) -> int:
    app = await build(load_settings(dict(os.environ)), recover_after=timedelta(0))
    provider = app.core.payments
    charge = provider.charge

    async def slow_charge(*args, **kwargs):
        # Widen the window between the provider's charge and the state change's commit, so
        # kills land there too (the window a real provider's latency opens).
        result = await charge(*args, **kwargs)
        await asyncio.sleep(random.uniform(0, 0.02))
        return result

    provider.charge = slow_charge
    accounts = []
    for i in range(ACCOUNTS):
        view = await app.core.create_account(f"k{i}@example.com", key=f"signup-k{i}", plan="plus" if i % 2 else "free")
        accounts.append(view.account_id)
    started = started_so_far(journal_path)
    fd = os.open(journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        for n in range(started, target):
            index, kind, rnd = plan_for(n)
            os.write(fd, f"S {n} {kind}\n".encode())
            try:
                await one_flow(app, accounts[index], kind, rnd, f"flow{n}")
                os.write(fd, f"D {n}\n".encode())
            except CoreError as refused:
                os.write(fd, f"R {n} {refused.code}\n".encode())
    finally:
        os.close(fd)
        await app.close()
    print(json.dumps({"done": target}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
