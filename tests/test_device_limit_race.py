"""The device limit under races: sign-ups from one device at the same instant, in
several processes on PostgreSQL and in concurrent tasks on either backend, let
exactly ``max_accounts_per_device`` accounts through unrestricted; the rest are
created restricted. The count lives in a ``devices`` row that each sign-up bumps
in its own transaction (migration 003), so the database, not the process, decides.
Also: migration 003 backfills the counts of a database that already has accounts.

The multi-process test needs TEST_POSTGRES_DSN (skipped without it, failed in CI).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import traceback
from collections import Counter, defaultdict

import pytest

import storage.postgres
import storage.sqlite
from core.clock import from_ts, to_ts
from core.errors import CoreError
from core.service import CoreSettings, SubscriptionCore
from storage.db import open_database
from storage.migrations_runner import migration_files
from tests.conftest import make_core
from tests.postgres_support import fresh_schema, gather_from_processes

LIMIT = CoreSettings().max_accounts_per_device
PROCESSES = 8
ROUNDS = 20
TASKS = 8  # concurrent sign-ups per device in the one-process test
RACE_TIMEOUT = 60


# ----- several processes on PostgreSQL ------------------------------------------------------


def _worker(url: str, now_ts: int, barrier, results) -> None:
    try:
        results.put(("ok", os.getpid(), asyncio.run(_sign_up_each_round(url, now_ts, barrier))))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put(("error", os.getpid(), traceback.format_exc()))


async def _sign_up_each_round(url: str, now_ts: int, barrier) -> list[tuple[str, bool]]:
    core = await make_core(url, start=from_ts(now_ts))
    me = os.getpid()
    try:
        await core.cases.list()  # open the connection before the start line
        out = []
        for r in range(ROUNDS):
            barrier.wait(RACE_TIMEOUT)  # every process signs up from device r at once
            view = await core.create_account(f"r{r}-{me}@example.com", key=f"signup-{r}-{me}", device_id=f"dev-{r}")
            out.append((f"dev-{r}", view.restricted))
        return out
    finally:
        await core.db.close()


def race_rounds(url: str, now) -> list[tuple[str, bool]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, to_ts(now), barrier, results)) for _ in range(PROCESSES)]
    return gather_from_processes(procs, results, timeout=RACE_TIMEOUT * 2)


def extra_let_through(outcomes: list[tuple[str, bool]]) -> dict[str, int]:
    """Per device: unrestricted accounts beyond the limit (0 when the limit held)."""
    free = Counter(device for device, restricted in outcomes if not restricted)
    return {device: max(0, n - LIMIT) for device, n in free.items()}


async def assert_limit_held(core: SubscriptionCore, per_device: int) -> None:
    """In the database: per device, LIMIT unrestricted accounts and the rest restricted,
    the devices row counting every account, and one audit record per account."""
    async with core.db.read() as tx:
        accounts = await tx.fetchall("SELECT device_id, restricted, restriction_reason FROM accounts")
        devices = await tx.fetchall("SELECT device_id, accounts_created FROM devices")
        audits = (await tx.fetchone("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'create_account'"))["n"]
    by_device = defaultdict(Counter)
    for row in accounts:
        by_device[row["device_id"]][bool(row["restricted"])] += 1
        assert bool(row["restricted"]) == (row["restriction_reason"] is not None)
    assert all(c == {False: LIMIT, True: per_device - LIMIT} for c in by_device.values()), dict(by_device)
    assert {r["device_id"]: r["accounts_created"] for r in devices} == {d: per_device for d in by_device}
    assert audits == len(accounts)


async def test_sign_ups_from_one_device_in_many_processes_let_only_the_limit_through():
    schema = await fresh_schema()
    core = await make_core(schema.url)
    try:
        outcomes = await asyncio.to_thread(race_rounds, schema.url, core.clock.now())

        extra = extra_let_through(outcomes)
        print(f"\ndevice limit race: {ROUNDS} rounds x {PROCESSES} processes, "
              f"{sum(extra.values())} extra accounts let through on {sum(1 for n in extra.values() if n)} devices")
        assert len(outcomes) == ROUNDS * PROCESSES
        assert sum(extra.values()) == 0, extra
        await assert_limit_held(core, PROCESSES)
        # A restricted account gets no daily free credits; an unrestricted one does.
        async with core.db.read() as tx:
            ids = await tx.fetchall("SELECT id, restricted FROM accounts WHERE device_id = 'dev-0'")
        for row in ids:
            view = await core.snapshot(row["id"])
            assert view.credits.free_today == (0 if row["restricted"] else 100)
    finally:
        await core.db.close()
        await schema.drop()


# ----- concurrent tasks, on both backends --------------------------------------------------


async def test_concurrent_sign_ups_on_two_connections_let_only_the_limit_through(core):
    # A second connection to the same database, as a second process would have.
    url = f"sqlite:///{core.db.path}" if core.db.dialect == "sqlite" else core.db.url
    other = SubscriptionCore(await open_database(url), core.catalog, core.clock, core.payments, core.settings)
    try:
        outcomes = []
        for r in range(ROUNDS):
            views = await asyncio.gather(*(
                (core, other)[i % 2].create_account(f"r{r}-{i}@example.com", key=f"signup-{r}-{i}", device_id=f"dev-{r}")
                for i in range(TASKS)))
            outcomes += [(f"dev-{r}", v.restricted) for v in views]
    finally:
        await other.db.close()
    assert sum(extra_let_through(outcomes).values()) == 0
    await assert_limit_held(core, TASKS)


async def test_a_refused_sign_up_does_not_count_against_the_device(core, key):
    await core.create_account("taken@example.com", key="first", device_id="phone")
    with pytest.raises(CoreError) as err:
        await core.create_account("taken@example.com", key="second", device_id="phone")
    assert err.value.code == "already_exists"
    assert not (await core.create_account("new@example.com", key="third", device_id="phone")).restricted
    replay = await core.create_account("new@example.com", key="third", device_id="phone")  # a replay counts nothing
    assert not replay.restricted
    async with core.db.read() as tx:
        row = await tx.fetchone("SELECT accounts_created FROM devices WHERE device_id = 'phone'")
    assert row["accounts_created"] == 2


# ----- migration 003 on a database that already has accounts ----------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def old_database_url(request, tmp_path):
    """A database migrated only up to 002, the schema before the devices table."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        schema = await fresh_schema()
        url = schema.url
    before = [m for m in migration_files() if m[0] < 3]
    module = storage.sqlite if request.param == "sqlite" else storage.postgres
    patch = pytest.MonkeyPatch()
    patch.setattr(module, "migration_files", lambda: before)
    db = await open_database(url)
    try:
        await db.migrate()
        async with db.transaction() as tx:
            for n, device in enumerate(["phone", "phone", "phone", "tablet", None]):
                await tx.execute("INSERT INTO accounts (id, email, device_id, restricted, restriction_reason, created_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", f"old{n}", f"old{n}@example.com", device,
                                 int(n == 2), "device limit" if n == 2 else None, 1_767_225_600)
    finally:
        await db.close()
        patch.undo()
    yield url
    if schema:
        await schema.drop()


async def test_migration_003_counts_the_accounts_devices_already_created(old_database_url):
    core = await make_core(old_database_url)  # applies 003 only
    try:
        async with core.db.read() as tx:
            devices = await tx.fetchall("SELECT device_id, accounts_created FROM devices ORDER BY device_id")
        assert [(r["device_id"], r["accounts_created"]) for r in devices] == [("phone", 3), ("tablet", 1)]
        phone = await core.create_account("new-phone@example.com", key="k1", device_id="phone")
        tablet = [await core.create_account(f"tab{n}@example.com", key=f"k{n + 2}", device_id="tablet") for n in range(2)]
        assert phone.restricted and "already created 3 accounts" in phone.restriction_reason
        assert [v.restricted for v in tablet] == [False, True]
    finally:
        await core.db.close()
