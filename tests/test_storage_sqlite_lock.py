"""SQLite: what waits for another process's write lock, and what does not.

A transaction's statements run on the connection from the event loop (storage/sqlite.py),
so nothing there may wait for a lock: reads never need one (WAL), and a BEGIN IMMEDIATE
that finds the write lock taken waits on aiosqlite's thread while the loop goes on.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

from tests.conftest import make_core, table_counts


async def _core_with_holder(tmp_path):
    core = await make_core(f"sqlite:///{tmp_path / 'core.db'}")
    holder = sqlite3.connect(tmp_path / "core.db", isolation_level=None)
    return core, holder


async def test_an_account_is_shown_while_another_process_holds_the_write_lock(tmp_path):
    core, holder = await _core_with_holder(tmp_path)
    try:
        account = await core.create_account("a@example.com", key="signup", plan="plus", discord_id="42")
        core.db.busy_timeout_ms = 10_000  # a write would wait this long; a read must not wait at all
        holder.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        started = loop.time()
        view = await core.account_for_discord("42")
        again = await core.snapshot(account.account_id)
        assert view.plan == again.plan == "plus" and view.status == "active"
        assert loop.time() - started < 5  # answered without waiting for the holder
        holder.execute("ROLLBACK")
    finally:
        holder.close()
        await core.db.close()


async def test_due_renewal_work_is_applied_by_a_snapshot_not_skipped_by_the_read_path(tmp_path):
    core, holder = await _core_with_holder(tmp_path)
    holder.close()
    try:
        account = await core.create_account("a@example.com", key="signup", plan="plus")
        core.clock.advance(timedelta(days=32))  # the period ended: a renewal is due
        view = await core.snapshot(account.account_id)
        assert view.status == "active" and view.period_start is not None
        assert view.period_start > account.period_start  # renewed by the snapshot itself
        assert (await table_counts(core.db))["invoices"] == 2
    finally:
        await core.db.close()


async def test_waiting_for_another_writer_keeps_the_event_loop_running(tmp_path):
    core, holder = await _core_with_holder(tmp_path)
    try:
        account = await core.create_account("a@example.com", key="signup")
        core.db.busy_timeout_ms = 3_000
        holder.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(0.3, holder.execute, "ROLLBACK")  # the other process finishes
        receipt = await core.buy_topup(account.account_id, "credits_500", key="after-the-wait")
        ticking.cancel()
        assert receipt.credits == 500  # went through once the lock was free
        assert ticks >= 10  # the loop kept running while the top-up waited (a blocked loop: 0)
    finally:
        holder.close()
        await core.db.close()


async def test_the_write_ahead_log_is_checkpointed_as_commits_go_by(tmp_path):
    from storage.db import open_database

    db = await open_database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        body = "x" * 3000  # about a page per commit
        for i in range(2000):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO notes (body) VALUES (?)", body)
            if i % 200 == 0:
                await asyncio.sleep(0.01)  # room for the checkpoint's thread, as between presses
        await asyncio.sleep(0.2)
        wal = (tmp_path / "wal.db-wal").stat().st_size
        # 2,000 commits wrote about 25 MB of pages; without checkpoints the log holds them all,
        # with them it is reused from the start (about 5 MB here).
        assert wal < 12 * 1024 * 1024, wal
    finally:
        await db.close()
