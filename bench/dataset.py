"""Bulk-loaded SQLite databases for the sweep and memory benchmarks.

Rows are written with ``executemany`` straight into the schema of
``storage/migrations/*.sql`` (the database is created by the storage layer's own
``migrate``), consistent with what the core would have written:

- every account: ``u{i}@bench.example``, its own device, a Discord id;
- every second account is on a paid plan (basic, plus, pro in turn) with this period's
  allowance as a credit bucket (grant entry, and one consume entry of 100 credits);
- accounts with ``i % 30 == 0`` (all paid) reached their period end an hour before
  ``NOW``: about 1/30 of all accounts is due work; the other paid periods end over
  the next 2 to 31 days (so about 1/10 of them fall in a 3-day reminder window);
- Free accounts have no rows but their own: daily free credits are virtual until the
  account first spends on a day (core/ledger.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import common  # noqa: F401  (puts the project on sys.path)

from core.clock import UTC, add_months, to_ts

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PLANS = (("basic", 1500), ("plus", 4000), ("pro", 12000))
DUE_EVERY = 30
DISCORD_BASE = 900_000_000_000_000_000


def discord_id(i: int) -> str:
    return str(DISCORD_BASE + i)


def account_id(i: int) -> str:
    return f"a{i:031x}"


async def _migrate(path: Path) -> None:
    from storage.db import open_database

    db = await open_database(f"sqlite:///{path}")
    try:
        await db.migrate()
    finally:
        await db.close()


def _rows(n: int, start: int, now: datetime, paid: bool = True):
    created = to_ts(now - timedelta(days=60))
    accounts, subs, buckets, entries = [], [], [], []
    for i in range(start, n):
        aid = account_id(i)
        accounts.append((aid, f"u{i}@bench.example", f"dev{i}", discord_id(i), created))
        if i % 2 or not paid:
            continue
        plan, credits = PLANS[(i // 2) % 3]
        if i % DUE_EVERY == 0:
            anchor = now - timedelta(days=31, hours=1)  # ended at most a day ago
        else:
            # started 1 h to 28 days ago: period ends spread over the next 2 to 31 days
            anchor = now - timedelta(hours=1 + (i * 7919) % (28 * 24), seconds=i % 3600)
        end = add_months(anchor, 1)
        sid, bid = f"s{i:031x}", f"b{i:031x}"
        start_ts, end_ts = to_ts(anchor), to_ts(end)
        subs.append((sid, aid, plan, start_ts, start_ts, end_ts, end_ts, start_ts))
        buckets.append((bid, aid, credits, credits - 100, end_ts, f"sub:{sid}:{start_ts}", start_ts))
        entries.append((f"g{i:031x}", aid, bid, credits, "grant", f"sub:{sid}:{start_ts}", start_ts))
        entries.append((f"c{i:031x}", aid, bid, -100, "consume", "usage", start_ts + 3600))
    return accounts, subs, buckets, entries


def load(path: Path, n: int, now: datetime = NOW, chunk: int = 50_000, paid: bool = True) -> dict[str, int]:
    """Create a migrated database at ``path`` with ``n`` accounts; returns row counts.
    ``paid=False``: Free accounts only (nothing due, ever)."""
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    # The storage layer's own migrate, on a thread of its own (the caller may be in an event loop).
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _migrate(path)).result()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -200000")
    conn.execute("BEGIN")
    for start in range(0, n, chunk):
        accounts, subs, buckets, entries = _rows(min(n, start + chunk), start, now, paid)
        conn.executemany(
            "INSERT INTO accounts (id, email, device_id, discord_id, created_at) VALUES (?, ?, ?, ?, ?)", accounts)
        conn.executemany(
            "INSERT INTO subscriptions (id, account_id, plan, status, cycle_anchor, cycle_index, period_start, "
            "period_end, next_due_at, created_at) VALUES (?, ?, ?, 'active', ?, 0, ?, ?, ?, ?)", subs)
        conn.executemany(
            "INSERT INTO credit_buckets (id, account_id, kind, amount, remaining, expires_at, source, created_at) "
            "VALUES (?, ?, 'subscription', ?, ?, ?, ?, ?)", buckets)
        conn.executemany(
            "INSERT INTO credit_entries (id, account_id, bucket_id, delta, kind, ref, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", entries)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = table_counts(conn)
    conn.close()
    return counts


def due_count(n: int) -> int:
    return len(range(0, n, DUE_EVERY))


TABLES = ("accounts", "subscriptions", "credit_buckets", "credit_entries", "invoices", "audit_log",
          "idempotency_keys", "discord_users", "reminders_sent", "flows", "cases", "link_codes")


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def file_size_mb(path: Path) -> float:
    return sum(Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()) / 2**20
