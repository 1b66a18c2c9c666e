"""Core throughput: confirmed operations per second against raw one-row insert transactions.

Why: every confirmed change (cancel, resume, top-up) is a transaction with its checks,
ledger and audit rows; this shows what that costs over the cheapest write the same driver
can make, so a change that adds round trips or statements shows as a lower ratio.

Ours: ``SubscriptionCore.cancel``, ``resume`` and ``buy_topup`` on paid accounts, one
after another (each a whole confirmed change: account lock, due period-end effects,
idempotency key, ledger and invoice rows where the operation has them, audit record,
commit). Baseline: ``BEGIN; INSERT one row; COMMIT`` through the same driver
(aiosqlite / asyncpg), on the same database file or server, in the same process, with
the same connection settings. Rounds alternate baseline and ours; the figure is the
median of the per-round rates and of the per-round ratios.

SQLite always; PostgreSQL as well when BENCH_POSTGRES_DSN or TEST_POSTGRES_DSN names a
server and storage/postgres.py exists (a fresh schema is created and dropped).

    python bench/bench_core.py [--rounds 5] [--ops 600] [--quick]
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from common import (
    ROOT,
    arguments,
    emit,
    fmt,
    fmt_ratio,
    md_table,
    median,
    summary_row,
)

from core.clock import SystemClock
from core.payments import SimulatedProvider
from core.plans import load_catalog
from core.service import SubscriptionCore
from storage.db import open_database
from storage.sqlite import BUSY_TIMEOUT_MS

TARGET = 0.4
RAW_TABLE = "CREATE TABLE IF NOT EXISTS bench_raw (id TEXT PRIMARY KEY, n BIGINT NOT NULL, created_at BIGINT NOT NULL)"


class SqliteRaw:
    """aiosqlite on the same file, with storage/sqlite.py's connection settings."""

    def __init__(self, path: str) -> None:
        self.path = path

    async def open(self) -> None:
        import aiosqlite

        self.conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in (f"busy_timeout = {BUSY_TIMEOUT_MS}", "foreign_keys = ON", "journal_mode = WAL",
                       "synchronous = NORMAL"):
            await self.conn.execute(f"PRAGMA {pragma}")
        await self.conn.execute(RAW_TABLE)

    async def one(self, n: int) -> None:
        await self.conn.execute("BEGIN IMMEDIATE")
        await self.conn.execute("INSERT INTO bench_raw (id, n, created_at) VALUES (?, ?, ?)",
                                (uuid.uuid4().hex, n, int(time.time())))
        await self.conn.execute("COMMIT")

    async def close(self) -> None:
        await self.conn.close()


class PostgresRaw:
    """asyncpg on the same server and schema, with storage/postgres.py's isolation level."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.url)
        await self.conn.execute(RAW_TABLE)

    async def one(self, n: int) -> None:
        async with self.conn.transaction(isolation="read_committed"):
            await self.conn.execute("INSERT INTO bench_raw (id, n, created_at) VALUES ($1, $2, $3)",
                                    uuid.uuid4().hex, n, int(time.time()))

    async def close(self) -> None:
        await self.conn.close()


async def prepare_accounts(core: SubscriptionCore, count: int, tag: str) -> list[str]:
    ids = []
    for i in range(count):
        view = await core.create_account(f"{tag}{i}@bench.example", key=f"signup:{tag}:{i}", plan="plus")
        ids.append(view.account_id)
    return ids


async def run_ours(core: SubscriptionCore, accounts: list[str], ops: int, round_no: int) -> tuple[float, dict]:
    """``ops`` confirmed changes: cancel, resume, top-up in turn over the accounts."""
    per_op: dict[str, list[float]] = {"cancel": [], "resume": [], "topup": []}
    done = 0
    start = time.perf_counter()
    i = 0
    while done < ops:
        account = accounts[i % len(accounts)]
        key = f"r{round_no}:{i}"
        t0 = time.perf_counter()
        await core.cancel(account, "too_expensive", "bench", key=f"cancel:{key}")
        t1 = time.perf_counter()
        await core.resume(account, key=f"resume:{key}")
        t2 = time.perf_counter()
        await core.buy_topup(account, "credits_500", key=f"topup:{key}")
        t3 = time.perf_counter()
        per_op["cancel"].append(t1 - t0)
        per_op["resume"].append(t2 - t1)
        per_op["topup"].append(t3 - t2)
        done += 3
        i += 1
    return done / (time.perf_counter() - start), per_op


async def run_raw(raw, count: int, round_no: int) -> float:
    start = time.perf_counter()
    for n in range(count):
        await raw.one(round_no * 1_000_000 + n)
    return count / (time.perf_counter() - start)


async def measure(db, raw, rounds: int, ops: int, accounts_n: int) -> dict:
    """``rounds`` short rounds, each a block of raw transactions and a block of ``ops``
    confirmed operations (order alternating), so load from other processes falls on
    both sides of each ratio; medians over the rounds."""
    catalog = load_catalog()
    core = SubscriptionCore(db, catalog, SystemClock(), SimulatedProvider())
    await db.migrate()
    await raw.open()
    try:
        accounts = await prepare_accounts(core, accounts_n, uuid.uuid4().hex[:6])
        # Warm-up: statement caches, first pages, code paths.
        await run_ours(core, accounts, 30, -1)
        await run_raw(raw, 30, 999)
        raw_rates, our_rates, ratios = [], [], []
        per_op: dict[str, list[float]] = {}
        raw_block = ops * 3  # about as long as the block of ours, at the ratio we expect
        for r in range(rounds):
            if r % 2:
                ours, timings = await run_ours(core, accounts, ops, r)
                base = await run_raw(raw, raw_block, r)
            else:
                base = await run_raw(raw, raw_block, r)
                ours, timings = await run_ours(core, accounts, ops, r)
            raw_rates.append(base)
            our_rates.append(ours)
            ratios.append(ours / base)
            for name, values in timings.items():
                per_op.setdefault(name, []).extend(values)
    finally:
        await raw.close()
    return {
        "raw_tx_per_s": median(raw_rates), "ops_per_s": median(our_rates), "ratio": median(ratios),
        "rounds": {"raw": raw_rates, "ours": our_rates, "ratio": ratios},
        "op_ms": {name: 1000 * median(v) for name, v in per_op.items()},
    }


async def sqlite_case(rounds: int, ops: int, accounts: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-core-") as tmp:
        path = str(Path(tmp) / "core.db")
        db = await open_database(f"sqlite:///{path}")
        try:
            return await measure(db, SqliteRaw(path), rounds, ops, accounts)
        finally:
            await db.close()


async def postgres_case(dsn: str, rounds: int, ops: int, accounts: int) -> dict:
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"CREATE SCHEMA {schema}")
    parts = urlsplit(dsn)
    query = f"{parts.query}&search_path={schema}" if parts.query else f"search_path={schema}"
    url = urlunsplit(parts._replace(query=query))
    try:
        db = await open_database(url)
        try:
            return await measure(db, PostgresRaw(url), rounds, ops, accounts)
        finally:
            await db.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


def postgres_dsn() -> str | None:
    dsn = (os.environ.get("BENCH_POSTGRES_DSN") or os.environ.get("TEST_POSTGRES_DSN") or "").strip()
    return dsn if dsn and (ROOT / "storage" / "postgres.py").exists() else None


def main() -> None:
    args = arguments(__doc__.splitlines()[0],
                     rounds={"type": int, "default": 40}, ops={"type": int, "default": 30})
    rounds, ops = (8, 30) if args.quick else (args.rounds, args.ops)
    accounts = 50
    results = {"sqlite": asyncio.run(sqlite_case(rounds, ops, accounts))}
    dsn = postgres_dsn()
    if dsn:
        results["postgresql"] = asyncio.run(postgres_case(dsn, rounds, ops, accounts))

    rows, summary = [], []
    for backend, r in results.items():
        met = r["ratio"] >= TARGET
        rows.append([backend, fmt(r["ops_per_s"]), fmt(r["raw_tx_per_s"]), fmt_ratio(r["ratio"]),
                     " / ".join(f"{r['op_ms'][k]:.2f}" for k in ("cancel", "resume", "topup")),
                     f"≥ {TARGET}×", "yes" if met else "**no**"])
        summary.append(summary_row(f"core throughput, {backend}", f"{r['ops_per_s']:,.0f} ops/s",
                                   f"{r['raw_tx_per_s']:,.0f} raw tx/s", fmt_ratio(r["ratio"]), f"≥ {TARGET}×", met))
    table = md_table(["backend", "confirmed ops/s (ours)", "raw 1-row tx/s (baseline)", "ratio",
                      "median ms per cancel / resume / top-up", "target", "met"], rows)
    notes = (f"{rounds} rounds, each {ops} confirmed operations (cancel, resume, top-up in turn over {accounts} Plus "
             f"accounts) and {3 * ops} raw one-row transactions, in alternating order; medians of the rounds "
             f"(the ratio is the median of the per-round ratios). "
             + ("PostgreSQL: not measured (set BENCH_POSTGRES_DSN or TEST_POSTGRES_DSN)." if "postgresql" not in results
                else ""))
    emit(args, "core", "Core throughput", f"{table}\n\n{notes}", summary, results)


if __name__ == "__main__":
    main()
