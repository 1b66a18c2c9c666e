"""Before/after of one storage change, in one process: how SqliteTx reads rows.

Before: ``async with conn.execute(...) as cursor: await cursor.fetchone()`` (three
aiosqlite thread hand-offs: execute, fetch, close). After (storage/sqlite.py today):
``await conn.execute_fetchall(...)`` (one). Rounds rotate raw transactions, the core
with the old reads and the core with the current reads, on one database, so both
variants see the same load; medians of the per-round rates.

    python bench/ab_sqlite_fetch.py [--rounds 30]
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

from bench_core import SqliteRaw, prepare_accounts, run_ours, run_raw
from common import arguments, emit, fmt, fmt_ratio, md_table, median

from core.clock import SystemClock
from core.payments import SimulatedProvider
from core.plans import load_catalog
from core.service import SubscriptionCore
from storage import sqlite
from storage.db import open_database

CURRENT = (sqlite.SqliteTx.fetchone, sqlite.SqliteTx.fetchall)


async def _cursor_fetchone(self, sql, *params):
    async with self._conn.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return dict(row) if row is not None else None


async def _cursor_fetchall(self, sql, *params):
    async with self._conn.execute(sql, params) as cursor:
        return [dict(r) for r in await cursor.fetchall()]


def use(variant: str) -> None:
    one, many = (_cursor_fetchone, _cursor_fetchall) if variant == "before" else CURRENT
    sqlite.SqliteTx.fetchone, sqlite.SqliteTx.fetchall = one, many


async def run(rounds: int, ops: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        path = str(Path(tmp) / "ab.db")
        db = await open_database(f"sqlite:///{path}")
        raw = SqliteRaw(path)
        try:
            await db.migrate()
            await raw.open()
            core = SubscriptionCore(db, load_catalog(), SystemClock(), SimulatedProvider())
            accounts = await prepare_accounts(core, 50, uuid.uuid4().hex[:6])
            await run_ours(core, accounts, 30, -1)
            rates: dict[str, list[float]] = {"raw": [], "before": [], "after": []}
            order = ["raw", "before", "after"]
            for r in range(rounds):
                for name in order[r % 3:] + order[:r % 3]:
                    if name == "raw":
                        rates["raw"].append(await run_raw(raw, 3 * ops, r))
                    else:
                        use(name)
                        rates[name].append((await run_ours(core, accounts, ops, 10_000 * (name == "after") + r))[0])
            use("after")
        finally:
            use("after")
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
        ["SqliteTx reads", "confirmed ops/s", "raw 1-row tx/s", "ratio to raw"],
        [["before: cursor, fetch, close (3 hand-offs)", fmt(m["before"]), fmt(m["raw"]), fmt_ratio(q["before"])],
         ["after: `execute_fetchall` (1 hand-off)", fmt(m["after"]), fmt(m["raw"]), fmt_ratio(q["after"])]],
    )
    speedup = m["after"] / m["before"]
    emit(args, "ab_sqlite_fetch", "SQLite reads, before and after",
         f"{table}\n\nSpeed-up of confirmed operations: {speedup:.2f}× ({rounds} rotating rounds of {args.ops} "
         f"operations each).", [], result)


if __name__ == "__main__":
    main()
