"""Several bot processes on one PostgreSQL: each test starts PROCESSES separate OS
processes, each with its own SubscriptionCore, connection pool, simulated clock and
payment provider (nothing shared in memory), lines them up on a barrier, and lets
each fire TASKS concurrent calls at once. Correctness must come from the database:
one charge per confirm, each due item applied once, nothing doubled.

Needs TEST_POSTGRES_DSN (skipped without it, failed in CI).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import traceback
from collections import Counter
from datetime import timedelta

import pytest

from core.clock import from_ts, to_ts
from core.errors import CoreError
from core.service import SubscriptionCore
from tests.conftest import DAY, START, Keys, make_core, new_account
from tests.postgres_support import fresh_schema, gather_from_processes

PROCESSES = 4
TASKS = 4  # concurrent calls inside each process
RACE_TIMEOUT = 60


# ----- the worker side (runs in each child process) ------------------------------------


def _worker(scenario: str, url: str, now_ts: int, args: dict, barrier, results) -> None:
    try:
        results.put(("ok", os.getpid(), asyncio.run(_run(scenario, url, now_ts, args, barrier))))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put(("error", os.getpid(), traceback.format_exc()))


async def _run(scenario: str, url: str, now_ts: int, args: dict, barrier) -> list:
    core = await make_core(url, start=from_ts(now_ts))  # migrate() from every process at once, too
    try:
        # Open TASKS connections before the start line, so the race is on the database.
        await asyncio.gather(*(core.cases.list() for _ in range(TASKS)))
        barrier.wait(RACE_TIMEOUT)
        calls = [SCENARIOS[scenario](core, args, f"{os.getpid()}-{i}", i) for i in range(TASKS)]
        return list(await asyncio.gather(*calls))
    finally:
        await core.db.close()


async def _outcome(call) -> dict:
    try:
        return {"ok": await call}
    except CoreError as exc:
        return {"error": exc.code}


async def same_confirm(core: SubscriptionCore, args: dict, me: str, i: int) -> dict:
    """The same confirm pressed in every process: an upgrade and a top-up, each with one key."""
    account = args["account"]
    upgrade = await core.change_plan(account, "pro", "now", key="confirm-upgrade")
    topup = await core.buy_topup(account, "credits_500", key="confirm-topup")
    return {"upgrade": upgrade.to_json(), "topup": topup.to_json()}


async def spend(core: SubscriptionCore, args: dict, me: str, i: int) -> dict:
    """Distinct spends that together ask for more than the balance."""
    results = []
    for n in range(args["per_task"]):
        outcome = await _outcome(core.spend_credits(args["account"], args["amount"], key=f"spend-{me}-{n}"))
        results.append("ok" if "ok" in outcome else outcome["error"])
    return {"spends": results}


async def free_spend(core: SubscriptionCore, args: dict, me: str, i: int) -> dict:
    """Free-plan accounts spending on the same day everywhere: one daily grant each."""
    results = []
    for account in args["accounts"]:
        outcome = await _outcome(core.spend_credits(account, args["amount"], key=f"free-{account}-{me}"))
        results.append("ok" if "ok" in outcome else outcome["error"])
    return {"spends": results}


async def sweep_and_read(core: SubscriptionCore, args: dict, me: str, i: int) -> dict:
    """Half the calls sweep; the other half read every account (a read settles what is due)."""
    if i % 2 == 0:
        report = await core.sweep()
        return {"report": report.as_dict()}
    for account in args["accounts"]:
        await core.snapshot(account)
    report = await core.sweep()
    return {"report": report.as_dict()}


async def signup(core: SubscriptionCore, args: dict, me: str, i: int) -> dict:
    """One sign-up retried everywhere with its key, and rival sign-ups for one email."""
    same = await core.create_account("same-key@example.com", key="signup-same", device_id="dev-race")
    rival = await _outcome(core.create_account("rival@example.com", key=f"signup-{me}"))
    # The same request everywhere: the same key with another request is refused (idempotency_mismatch).
    help_case = await core.cases.open_help("555", None, {"topic": "help"}, key="help-same")
    return {"same": same.account_id, "rival": rival.get("error") or rival["ok"].account_id, "help": help_case.id}


SCENARIOS = {"same_confirm": same_confirm, "spend": spend, "free_spend": free_spend,
             "sweep_and_read": sweep_and_read, "signup": signup}


# ----- the parent side ---------------------------------------------------------------------


def race(scenario: str, url: str, now, args: dict | None = None) -> list[dict]:
    """Run the scenario in PROCESSES processes at once; every call's result, flattened."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(scenario, url, to_ts(now), args or {}, barrier, results))
             for _ in range(PROCESSES)]
    out = gather_from_processes(procs, results, timeout=RACE_TIMEOUT)
    assert len(out) == PROCESSES * TASKS
    return out


@pytest.fixture
async def pg_core():
    schema = await fresh_schema()
    core = await make_core(schema.url)
    core.url = schema.url
    yield core
    await core.db.close()
    await schema.drop()


async def scalar(core: SubscriptionCore, sql: str, *params):
    async with core.db.read() as tx:
        row = await tx.fetchone(sql, *params)
    return next(iter(row.values()))


async def ledger_consistent(core: SubscriptionCore) -> None:
    """Σ entries = Σ remaining for every account, and every bucket within [0, amount]."""
    async with core.db.read() as tx:
        entries = {r["account_id"]: r["v"] for r in await tx.fetchall(
            "SELECT account_id, SUM(delta) AS v FROM credit_entries GROUP BY account_id")}
        remaining = {r["account_id"]: r["v"] for r in await tx.fetchall(
            "SELECT account_id, SUM(remaining) AS v FROM credit_buckets GROUP BY account_id")}
        per_bucket = await tx.fetchall(
            "SELECT b.id, b.amount, b.remaining, COALESCE(SUM(e.delta), 0) AS total FROM credit_buckets b "
            "LEFT JOIN credit_entries e ON e.bucket_id = b.id GROUP BY b.id, b.amount, b.remaining")
    assert entries == remaining
    for bucket in per_bucket:
        assert 0 <= bucket["remaining"] <= bucket["amount"]
        assert bucket["total"] == bucket["remaining"]


async def test_the_same_confirm_in_every_process_charges_once(pg_core):
    core, key = pg_core, Keys()
    account = (await new_account(core, key, "racer", plan="basic")).account_id
    core.clock.advance(10 * DAY)

    results = await asyncio.to_thread(race, "same_confirm", core.url, core.clock.now(), {"account": account})

    assert len({r["upgrade"] for r in results}) == 1  # every press got the first receipt
    assert len({r["topup"] for r in results}) == 1
    kinds = Counter(i.kind for i in await core.invoices(account, limit=50))
    assert kinds == {"subscription": 1, "upgrade": 1, "topup": 1}
    assert await scalar(core, "SELECT COUNT(*) FROM idempotency_keys WHERE key IN ('confirm-upgrade', 'confirm-topup')") == 2
    assert await scalar(core, "SELECT COUNT(*) FROM audit_log WHERE idempotency_key IN ('confirm-upgrade', 'confirm-topup')") == 2
    view = await core.snapshot(account)
    assert view.plan == "pro"
    assert (view.credits.subscription, view.credits.topup) == (12000, 500)
    await ledger_consistent(core)


async def test_concurrent_spends_never_overdraw(pg_core):
    core, key = pg_core, Keys()
    account = (await new_account(core, key, "spender")).account_id
    await core.adjust_credits(account, 1000, key=key(), actor="mod:1", reason="seed")
    core.clock.advance(timedelta(hours=1))
    # 16 calls × 2 spends × 45 = 1440 asked of 1000 top-up + 100 free credits
    results = await asyncio.to_thread(race, "spend", core.url, core.clock.now(),
                                      {"account": account, "amount": 45, "per_task": 2})

    outcomes = Counter(s for r in results for s in r["spends"])
    assert outcomes == {"ok": 1100 // 45, "insufficient_credits": 32 - 1100 // 45}
    view = await core.snapshot(account)
    assert view.credits.total == 1100 - 45 * (1100 // 45)
    assert await scalar(core, "SELECT COUNT(*) FROM credit_entries WHERE kind = 'consume'") >= 1100 // 45
    assert await scalar(core, "SELECT -SUM(delta) FROM credit_entries WHERE kind = 'consume'") == 45 * (1100 // 45)
    await ledger_consistent(core)


async def test_daily_free_credits_are_granted_once_per_day(pg_core):
    core, key = pg_core, Keys()
    accounts = [(await new_account(core, key, f"free{n}")).account_id for n in range(3)]
    core.clock.advance(timedelta(hours=2))
    # 16 spends of 7 per account on one day: 14 fit in the 100 free credits
    results = await asyncio.to_thread(race, "free_spend", core.url, core.clock.now(),
                                      {"accounts": accounts, "amount": 7})

    outcomes = Counter(s for r in results for s in r["spends"])
    assert outcomes == {"ok": 3 * 14, "insufficient_credits": 3 * 2}
    assert await scalar(core, "SELECT COUNT(*) FROM credit_buckets WHERE kind = 'free'") == 3
    assert await scalar(core, "SELECT SUM(amount) FROM credit_buckets WHERE kind = 'free'") == 300
    for account in accounts:
        assert (await core.snapshot(account)).credits.free_today == 2
    await ledger_consistent(core)


async def test_sweeps_everywhere_apply_each_due_item_once(pg_core):
    core, key = pg_core, Keys()
    renewing, cancelled, reminded, downgrading = [], [], [], []
    for n in range(12):
        view = await new_account(core, key, f"sub{n}", plan=("basic", "plus")[n % 2], discord=str(1000 + n))
        renewing.append(view.account_id)
        if n % 2 == 0:
            await core.users.set_reminders(str(1000 + n), True)
            reminded.append(view.subscription_id)
    for n in range(4):
        view = await new_account(core, key, f"leaver{n}", plan="basic")
        await core.cancel(view.account_id, "too_expensive", key=key())
        cancelled.append(view.account_id)
    for n in range(2):
        view = await new_account(core, key, f"down{n}", plan="plus")
        await core.change_plan(view.account_id, "basic", "end", key=key())
        downgrading.append(view.account_id)
    everyone = renewing + cancelled + downgrading

    # Inside the reminder window: every process sweeps; each reminder is claimed once.
    core.clock.set(START + 29 * DAY)
    results = await asyncio.to_thread(race, "sweep_and_read", core.url, core.clock.now(), {"accounts": []})
    claimed = [tuple(r) for result in results for r in result["report"]["reminders"]]
    assert sorted(c[1] for c in claimed) == sorted(reminded)
    assert await scalar(core, "SELECT COUNT(*) FROM reminders_sent") == len(reminded)

    # Past the period end: sweeps and reads race over every account.
    core.clock.set(START + 31 * DAY + timedelta(hours=1))
    results = await asyncio.to_thread(race, "sweep_and_read", core.url, core.clock.now(), {"accounts": everyone})
    reports = [r["report"] for r in results]
    # reads settle some accounts themselves, so the sweeps' totals are at most the work
    assert sum(r["renewed"] for r in reports) <= len(renewing) + len(downgrading)
    assert sum(r["ended"] for r in reports) <= len(cancelled)

    renewals = await scalar(core, "SELECT COUNT(*) FROM invoices WHERE kind = 'renewal'")
    assert renewals == len(renewing) + len(downgrading)
    async with core.db.read() as tx:
        per_sub = await tx.fetchall(
            "SELECT subscription_id, COUNT(*) AS n FROM invoices WHERE kind = 'renewal' GROUP BY subscription_id")
        grants = await tx.fetchall(
            "SELECT source, COUNT(*) AS n FROM credit_buckets WHERE kind = 'subscription' GROUP BY source")
    assert {r["n"] for r in per_sub} == {1}
    assert {r["n"] for r in grants} == {1}
    for account in renewing:
        view = await core.snapshot(account)
        assert view.status == "active" and view.period_start == START + 31 * DAY  # Feb 1: one month on, once
    for account in cancelled:
        assert (await core.snapshot(account)).plan == "free"
    for account in downgrading:
        view = await core.snapshot(account)
        assert (view.plan, view.credits.subscription) == ("basic", 1500)
    await ledger_consistent(core)

    # A second wave at the same moment finds nothing left to do.
    results = await asyncio.to_thread(race, "sweep_and_read", core.url, core.clock.now(), {"accounts": []})
    assert all(r["report"]["renewed"] == r["report"]["ended"] == 0 and not r["report"]["reminders"] for r in results)
    assert await scalar(core, "SELECT COUNT(*) FROM invoices WHERE kind = 'renewal'") == renewals


async def test_signups_and_help_requests_race_to_one_row(pg_core):
    core = pg_core
    results = await asyncio.to_thread(race, "signup", core.url, core.clock.now())

    assert len({r["same"] for r in results}) == 1
    assert len({r["help"] for r in results}) == 1
    rivals = Counter("refused" if r["rival"] == "already_exists" else "created" for r in results)
    assert rivals == {"created": 1, "refused": PROCESSES * TASKS - 1}
    assert await scalar(core, "SELECT COUNT(*) FROM accounts") == 2
    assert await scalar(core, "SELECT COUNT(*) FROM cases WHERE kind = 'help'") == 1
    assert await scalar(core, "SELECT COUNT(*) FROM audit_log WHERE action = 'create_account'") == 2
