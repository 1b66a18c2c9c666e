"""SQLite backend (aiosqlite): WAL, foreign keys on, one writer.

One connection serves the process; a lock keeps one transaction on it at a
time (a connection cannot hold two). Across processes, ``BEGIN IMMEDIATE``
takes SQLite's write lock up front, so two writers never interleave.

Only what may wait runs on aiosqlite's thread: a ``BEGIN IMMEDIATE`` that finds
another connection holding the write lock waits there, and migrations, checks
and checkpoints run there. Everything else runs on the connection directly:
a transaction that holds the write lock cannot wait for anyone (WAL: readers
never block, and the one writer is us), its statements take microseconds,
and a hand-off to the thread and back costs 30 to 90 (BENCHMARKS.md, core).

SQLite has no row locks: the write transaction holds the whole database, so the row-lock
clauses the SQL is written with (storage/db.py) are left out (``without_row_locks``), and
``write`` runs its statement at once (nothing is gained by holding it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.errors import BUSY, FULL, READ_ONLY, StorageError
from storage.migrations_runner import migration_files, split_statements

BUSY_TIMEOUT_MS = 5000
log = logging.getLogger(__name__)
T = TypeVar("T")


def _refused(exc: sqlite3.OperationalError) -> StorageError:
    """A database that cannot take the statement (read-only, full, busy, gone): one plain error.
    The transaction is rolled back by the caller, so nothing of the change is kept."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return StorageError(READ_ONLY)
    if "locked" in text or "busy" in text:
        return StorageError(BUSY)
    if "full" in text:  # SQLITE_FULL: "database or disk is full"
        return StorageError(FULL)
    return StorageError(f"the database refused the statement: {text}")


_ROW_LOCK = re.compile(r"\s+FOR\s+UPDATE(?:\s+OF\s+\w+)?(?:\s+SKIP\s+LOCKED|\s+NOWAIT)?", re.IGNORECASE)


@lru_cache(maxsize=256)
def without_row_locks(sql: str) -> str:
    """The statement without PostgreSQL's row-lock clauses (``FOR UPDATE [OF a] [SKIP LOCKED]``)."""
    return _ROW_LOCK.sub("", sql)


def _as_dict(cursor: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    # Rows straight into dicts: about a third cheaper than sqlite3.Row and dict() after.
    return dict(zip([column[0] for column in cursor.description], row))


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class SqliteTx:
    """The statements of a transaction this process holds, run on the connection directly."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _run(self, sql: str, params: tuple) -> sqlite3.Cursor:
        if "FOR UPDATE" in sql:
            sql = without_row_locks(sql)
        try:
            return self._conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise _refused(exc) from exc

    async def execute(self, sql: str, *params: Any) -> int:
        return self._run(sql, params).rowcount

    async def write(self, sql: str, *params: Any) -> None:
        self._run(sql, params)

    async def fetchone(self, sql: str, *params: Any) -> dict[str, Any] | None:
        cursor = self._run(sql, params)
        cursor.row_factory = _as_dict
        try:
            return cursor.fetchone()
        finally:
            cursor.close()  # a statement left open would keep COMMIT from finishing

    async def fetchall(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        cursor = self._run(sql, params)
        cursor.row_factory = _as_dict
        return cursor.fetchall()

    async def lock_account(self, account_id: str) -> None:
        # BEGIN IMMEDIATE already holds the database's single write lock.
        return None

    async def claim_account(self, account_id: str) -> bool:
        # The write lock is the database's: no other transaction can hold the account.
        return True


class SqliteDatabase:
    dialect = "sqlite"
    # Every this many commits, a checkpoint copies the WAL into the database file. It runs on
    # a second connection of its own, in its thread: SQLite's automatic checkpoint would write
    # and sync the file inside a COMMIT on the event loop, and one on this connection would
    # hold every transaction back meanwhile (BENCHMARKS.md, interaction path). A PASSIVE
    # checkpoint waits for no reader or writer.
    CHECKPOINT_EVERY = 256

    def __init__(self, conn: aiosqlite.Connection, raw: sqlite3.Connection, path: str) -> None:
        self._conn = conn  # aiosqlite: for what may wait
        self._raw = raw  # the same connection, for statements under a lock we hold
        self._lock = asyncio.Lock()
        self._commits = 0
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpointing: asyncio.Task | None = None
        self.path = path
        self.busy_timeout_ms = BUSY_TIMEOUT_MS  # how long a BEGIN IMMEDIATE waits for another writer
        self.retries = 0  # BEGINs tried again after another writer held the lock (as PostgresDatabase.retries)

    @classmethod
    async def open(cls, path: str, *, read_only: bool = False) -> SqliteDatabase:
        if path != ":memory:" and not read_only:
            _create_private(Path(path))
        target, uri = (f"file:{path}?mode=ro", True) if read_only else (path, False)
        opened: list[sqlite3.Connection] = []

        def connect() -> sqlite3.Connection:
            # Used from the event loop too, never at the same time as from aiosqlite's thread (the lock).
            opened.append(sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False))
            return opened[0]

        try:
            conn = await aiosqlite.Connection(connect, iter_chunk_size=64)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the SQLite database at {path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        await conn.execute_fetchall("PRAGMA busy_timeout = 0")  # nothing on the event loop may wait (see _begin)
        await conn.execute_fetchall("PRAGMA foreign_keys = ON")
        if path != ":memory:" and not read_only:
            await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
            await conn.execute_fetchall("PRAGMA wal_autocheckpoint = 0")
        db = cls(conn, opened[0], path)
        if path != ":memory:" and not read_only:
            db._checkpointer = await aiosqlite.connect(path, isolation_level=None)
        return db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTx]:
        async with self._lock:
            await self._begin("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self._raw)
            except BaseException:
                self._rollback()
                raise
            try:
                self._raw.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StorageError(f"the database refused the change: {exc}") from exc
            self._commits += 1
            if self._commits % self.CHECKPOINT_EVERY == 0:
                self._start_checkpoint()

    async def run_alone(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """One statement in a write transaction of its own (the busy handling of ``_begin``)."""
        async with self.transaction() as tx:
            return await tx.fetchall(sql, *params)

    async def run_in_transaction(self, fn: Callable[[SqliteTx], Awaitable[T]]) -> T:
        """``fn(tx)`` in one transaction. Writers never interleave here (BEGIN
        IMMEDIATE), so there is no serialisation failure to retry."""
        async with self.transaction() as tx:
            return await fn(tx)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteTx]:
        # A read takes no lock that a writer holds (WAL), so it never waits: all of it runs directly.
        async with self._lock:
            self._raw.execute("BEGIN")
            try:
                yield SqliteTx(self._raw)
            finally:
                self._raw.execute("ROLLBACK")

    def _rollback(self) -> None:
        # Some errors (SQLITE_FULL, an I/O error) roll the transaction back already; a second
        # ROLLBACK would fail and hide the error that says why.
        if self._raw.in_transaction:
            self._raw.execute("ROLLBACK")

    async def _begin(self, statement: str) -> None:
        """Take the write lock: at once on the connection if it is free; else wait for it on
        aiosqlite's thread (SQLite's busy handler, ``busy_timeout_ms``), then a few short retries."""
        try:
            self._raw.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise StorageError(f"the database cannot start a transaction: {exc}") from exc
        delay, wait_ms = 0.05, int(self.busy_timeout_ms)  # an int: safe to spell into the PRAGMA
        for attempt in range(5):
            self.retries += 1
            await self._conn.execute_fetchall(f"PRAGMA busy_timeout = {wait_ms}")
            try:
                await self._conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise StorageError(f"the database cannot start a transaction: {exc}") from exc
                if attempt == 4:
                    raise StorageError(BUSY) from exc
                await asyncio.sleep(delay)
                delay *= 2
            finally:
                await self._conn.execute_fetchall("PRAGMA busy_timeout = 0")

    async def migrate(self) -> list[str]:
        # Migrations run on aiosqlite's thread, where waiting for another process's lock is fine.
        async with self._lock:
            await self._conn.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                return await self._migrate()
            finally:
                await self._conn.execute_fetchall("PRAGMA busy_timeout = 0")

    async def _migrate(self) -> list[str]:
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

    def _start_checkpoint(self) -> None:
        if self._checkpointer is None or (self._checkpointing and not self._checkpointing.done()):
            return  # in memory, or the last one still running
        self._checkpointing = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the next one catches up; the WAL keeps every commit meanwhile
            log.warning("WAL checkpoint failed: %s", exc)

    async def close(self) -> None:
        if self._checkpointing is not None:
            await self._checkpointing
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self._conn.close()


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (it holds account data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
