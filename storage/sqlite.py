"""SQLite backend (aiosqlite): WAL, foreign keys on, one writer.

One connection serves the process; a lock keeps one transaction on it at a
time (a connection cannot hold two). Across processes, ``BEGIN IMMEDIATE``
takes SQLite's write lock up front, so two writers never interleave.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.db import StorageError
from storage.migrations_runner import migration_files, split_statements

BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")


def _refused(exc: sqlite3.OperationalError) -> StorageError:
    """A database that cannot take the statement (read-only, full, busy, gone): one plain error.
    The transaction is rolled back by the caller, so nothing of the change is kept."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return StorageError("the database is read-only; nothing was changed")
    if "locked" in text or "busy" in text:
        return StorageError("the database is busy; try again in a moment")
    return StorageError(f"the database refused the statement: {text}")


class SqliteTx:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *params: Any) -> int:
        try:
            cursor = await self._conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise _refused(exc) from exc
        return cursor.rowcount

    # aiosqlite runs each call in its own thread and hands the result back to the event
    # loop; that hand-off, not SQLite, is most of a statement's cost. A cursor costs three
    # (execute, fetch, close), ``execute_fetchall`` one. Our fetchone queries look up one
    # row by key, so reading all their rows costs nothing more (BENCHMARKS.md, core).
    async def fetchone(self, sql: str, *params: Any) -> dict[str, Any] | None:
        found = await self._conn.execute_fetchall(sql, params)
        return dict(found[0]) if found else None

    async def fetchall(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._conn.execute_fetchall(sql, params)]

    async def lock_account(self, account_id: str) -> None:
        # BEGIN IMMEDIATE already holds the database's single write lock.
        return None

    async def claim_account(self, account_id: str) -> bool:
        # The write lock is the database's: no other transaction can hold the account.
        return True


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        if path != ":memory:":
            _create_private(Path(path))
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the SQLite database at {path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
        return cls(conn, path)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTx]:
        async with self._lock:
            await self._begin("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            try:
                await self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                await self._conn.execute("ROLLBACK")
                raise StorageError(f"the database refused the change: {exc}") from exc

    async def run_in_transaction(self, fn: Callable[[SqliteTx], Awaitable[T]]) -> T:
        """``fn(tx)`` in one transaction. Writers never interleave here (BEGIN
        IMMEDIATE), so there is no serialisation failure to retry."""
        async with self.transaction() as tx:
            return await fn(tx)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteTx]:
        async with self._lock:
            await self._begin("BEGIN")
            try:
                yield SqliteTx(self._conn)
            finally:
                await self._conn.execute("ROLLBACK")

    async def _begin(self, statement: str) -> None:
        # busy_timeout covers most contention; a few short retries cover the rest.
        delay = 0.05
        for attempt in range(5):
            try:
                await self._conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StorageError(f"the database cannot start a transaction: {exc}") from exc
                if attempt == 4:
                    raise StorageError("the database is busy; try again in a moment") from exc
                await asyncio.sleep(delay)
                delay *= 2

    async def migrate(self) -> list[str]:
        async with self._lock:
            await self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            )
            async with self._conn.execute("SELECT version FROM schema_migrations") as cur:
                done = {row[0] for row in await cur.fetchall()}
            applied = []
            for version, name, script in migration_files():
                if version in done:
                    continue
                await self._begin("BEGIN IMMEDIATE")
                try:
                    # Another process may have applied it since we looked: check under the write lock.
                    async with self._conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)) as cur:
                        if await cur.fetchone():
                            await self._conn.execute("ROLLBACK")
                            continue
                    for statement in split_statements(script):
                        await self._conn.execute(statement)
                    await self._conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        (version, name, int(time.time())),
                    )
                    await self._conn.execute("COMMIT")
                except BaseException:
                    await self._conn.execute("ROLLBACK")
                    raise
                applied.append(name)
            return applied

    async def integrity_check(self) -> str:
        async with self._lock, self._conn.execute("PRAGMA integrity_check") as cur:
            row = await cur.fetchone()
        return row[0]

    async def close(self) -> None:
        await self._conn.close()


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (it holds account data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
