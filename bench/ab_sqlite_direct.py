"""Before/after of one storage change, in one process: where a transaction's statements run.

Why: the evidence behind running a transaction's statements on the connection directly.
"Before" is rebuilt from the storage layer's private members (``_lock``, ``_conn``) on
purpose: it is the old code path, which no public API offers any more.

Before: every statement of a transaction (BEGIN, each read and write, COMMIT) went
through aiosqlite, a hand-off to its thread and back for each. After (storage/sqlite.py
today): the statements run on the same connection directly, and only a BEGIN IMMEDIATE
that finds the write lock taken waits on aiosqlite's thread. "Before" is rebuilt here
on the same open database (its aiosqlite connection and lock), so both variants run the
same core on the same file; rounds rotate raw transactions, before and after, and the
figures are medians of the per-round rates.

    python bench/ab_sqlite_direct.py [--rounds 30]
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

from bench_core import SqliteRaw, prepare_accounts, run_ours, run_raw
from common import arguments, emit, fmt, fmt_ratio, md_table, median

from core.clock import SystemClock
from core.payments import SimulatedProvider
from core.plans import load_catalog
from core.service import SubscriptionCore
from storage.db import open_database
from storage.sqlite import without_row_locks


class ThreadedTx:
    """The earlier SqliteTx: one aiosqlite call (a thread hand-off) per statement."""

    def __init__(self, conn) -> None:
        self._conn = conn

    async def execute(self, sql, *params) -> int:
        return (await self._conn.execute(without_row_locks(sql), params)).rowcount

    async def write(self, sql, *params) -> None:
        await self.execute(sql, *params)

    async def fetchone(self, sql, *params):
        found = await self._conn.execute_fetchall(without_row_locks(sql), params)
        return dict(found[0]) if found else None

    async def fetchall(self, sql, *params):
        return [dict(r) for r in await self._conn.execute_fetchall(without_row_locks(sql), params)]

    async def lock_account(self, account_id) -> None:
        return None

    async def claim_account(self, account_id) -> bool:
        return True


class ThreadedDatabase:
    """The earlier SqliteDatabase's transactions, on the current one's aiosqlite connection."""

    dialect = "sqlite"

    def __init__(self, db) -> None:
        self._db = db

    @asynccontextmanager
    async def transaction(self):
        async with self._db._lock:
            await self._db._conn.execute("BEGIN IMMEDIATE")
            try:
                yield ThreadedTx(self._db._conn)
            except BaseException:
                await self._db._conn.execute("ROLLBACK")
                raise
            await self._db._conn.execute("COMMIT")

    @asynccontextmanager
    async def read(self):
        async with self._db._lock:
            await self._db._conn.execute("BEGIN")
            try:
                yield ThreadedTx(self._db._conn)
            finally:
                await self._db._conn.execute("ROLLBACK")

    async def run_in_transaction(self, fn):
        async with self.transaction() as tx:
            return await fn(tx)

    async def run_alone(self, sql, *params):
        async with self.transaction() as tx:
            return await tx.fetchall(sql, *params)


async def run(rounds: int, ops: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        path = str(Path(tmp) / "ab.db")
        db = await open_database(f"sqlite:///{path}")
        raw = SqliteRaw(path)
        try:
            await db.migrate()
            await raw.open()
            catalog, clock, provider = load_catalog(), SystemClock(), SimulatedProvider()
            cores = {"after": SubscriptionCore(db, catalog, clock, provider),
                     "before": SubscriptionCore(ThreadedDatabase(db), catalog, clock, provider)}
            accounts = await prepare_accounts(cores["after"], 50, uuid.uuid4().hex[:6])
            for name, core in cores.items():
                await run_ours(core, accounts, 30, -1 - len(name))
            rates: dict[str, list[float]] = {"raw": [], "before": [], "after": []}
            order = ["raw", "before", "after"]
            for r in range(rounds):
                for name in order[r % 3:] + order[:r % 3]:
                    if name == "raw":
                        rates["raw"].append(await run_raw(raw, 3 * ops, r))
                    else:
                        rates[name].append((await run_ours(cores[name], accounts, ops, 10_000 * (name == "after") + r))[0])
        finally:
            await raw.close()
            await db.close()
    return {
        "rates": rates,
        "median": {k: median(v) for k, v in rates.items()},
        "ratio": {k: median(o / b for o, b in zip(rates[k], rates["raw"])) for k in ("before", "after")},
    }


def main() -> None:
    args = arguments(__doc__.splitlines()[0], rounds={"type": int, "default": 30}, ops={"type": int, "default": 30})
    rounds = 9 if args.quick else args.rounds
    result = asyncio.run(run(rounds, args.ops))
    m, q = result["median"], result["ratio"]
    table = md_table(
        ["a transaction's statements", "confirmed ops/s", "raw 1-row tx/s", "ratio to raw"],
        [["before: each through aiosqlite's thread", fmt(m["before"]), fmt(m["raw"]), fmt_ratio(q["before"])],
         ["after: on the connection directly", fmt(m["after"]), fmt(m["raw"]), fmt_ratio(q["after"])]],
    )
    speedup = m["after"] / m["before"]
    emit(args, "ab_sqlite_direct", "SQLite statements, before and after",
         f"{table}\n\nSpeed-up of confirmed operations: {speedup:.2f}× ({rounds} rotating rounds of {args.ops} "
         f"operations each, cancel, resume and top-up in turn).", [], result)


if __name__ == "__main__":
    main()
