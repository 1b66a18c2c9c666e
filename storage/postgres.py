"""PostgreSQL backend (asyncpg): the scale-out store that several bot processes share.

The same port as the SQLite backend, over a connection pool:

- SQL arrives with ``?`` placeholders; they become ``$1, $2, …`` (outside string
  literals, quoted identifiers and comments).
- Rows come back as dicts of plain Python values; PostgreSQL's ``numeric``
  results (``SUM`` of a ``BIGINT``) become ``int`` where they are whole.
- ``execute`` returns the number of rows changed, read from the command status
  (``INSERT 0 1`` → 1, ``UPDATE 3`` → 3). ``write`` holds a change until the next
  statement or the commit, and sends the held ones in as few statements as is safe
  (storage/held_writes.py): each statement is a round trip to the server.
- Connections go back to the pool as they are, without asyncpg's reset query (a round
  trip per transaction): every transaction ends (asyncpg rolls back one left open), and
  nothing here leaves session state behind (no SET, LISTEN or cursor; ``migrate``
  releases its advisory lock itself). Up to ``STATEMENT_CACHE`` statements stay
  prepared per connection, so a statement is parsed once, not once per use.
- ``transaction()`` runs at READ COMMITTED; ``lock_account`` takes the
  account's row lock (``SELECT … FOR UPDATE``), so commands on one account are
  serialised across processes; ``claim_account`` takes it only if it is free
  (``FOR UPDATE SKIP LOCKED``), which lets several sweeps share due work.
- ``read()`` is a read-only REPEATABLE READ transaction: one consistent
  snapshot, like a read transaction on SQLite, and never a serialisation error.
- ``run_in_transaction(fn)`` runs ``fn(tx)`` in a transaction and re-runs the
  whole of it, on a fresh transaction, when PostgreSQL reports a serialisation
  failure (40001), a deadlock (40P01) or a unique violation (23505, which under
  READ COMMITTED means a concurrent transaction inserted the same key first: the
  re-run sees its row and takes the replay or refusal path).
- What the database cannot do right now becomes ``StorageError`` in the words the
  SQLite backend uses (``refusal``): a lock or statement timeout, a serialisation
  failure or deadlock left after the retries, too many connections → busy; a
  read-only session → read-only; disk full → full; a lost connection → lost.
  Constraint violations (the core relies on them) and mistakes in our SQL stay the
  asyncpg exceptions they are.

Correctness across processes rests on the database alone: unique keys, CHECK
constraints, row locks and conditional updates; nothing here is shared in memory.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from storage.errors import BUSY, FULL, LOST, READ_ONLY, StorageError
from storage.held_writes import Write, groups, joined
from storage.migrations_runner import migration_files, split_statements

T = TypeVar("T")

# SQLSTATEs after which re-running the whole transaction is safe and may succeed.
RETRYABLE = {"40001": "serialization failure", "40P01": "deadlock detected", "23505": "unique violation"}
MAX_ATTEMPTS = 5
# SQLSTATE, or its class, → the StorageError message; see ``refusal``.
REFUSED = {
    "40001": BUSY,  # serialization failure (after run_in_transaction's retries)
    "40P01": BUSY,  # deadlock detected (idem)
    "55P03": BUSY,  # lock not available: lock_timeout, or NOWAIT
    "57014": BUSY,  # query canceled: statement_timeout
    "53300": BUSY,  # too many connections (max_connections, or the role's or database's limit)
    "25006": READ_ONLY,  # default_transaction_read_only, a hot standby
    "53100": FULL,  # disk full
    "08": LOST,  # connection exception (asyncpg: ConnectionDoesNotExistError too)
    "57P": LOST,  # the server shut down, crashed, or terminated this session
    "25P03": LOST,  # idle_in_transaction_session_timeout ends the session
}
CONNECT_TIMEOUT = 10
STATEMENT_CACHE = 1024  # prepared statements kept per connection (asyncpg's default: 100)
# Serialises `migrate()` across processes; one lock per schema (search_path).
MIGRATION_LOCK = "SELECT pg_advisory_lock(hashtext('storage.migrate:' || current_schema()))"
MIGRATION_UNLOCK = "SELECT pg_advisory_unlock(hashtext('storage.migrate:' || current_schema()))"


@lru_cache(maxsize=2048)  # the same few hundred statements, each scanned once
def translate(sql: str) -> str:
    """``?`` placeholders → ``$1 … $n``, leaving quoted text and comments alone."""
    out: list[str] = []
    n = 0
    i, size = 0, len(sql)
    while i < size:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < size:
                if sql[end] == ch:
                    if end + 1 < size and sql[end + 1] == ch:  # '' or "" escapes the quote
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i:end + 1])
            i = end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = size if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif ch == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = size if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def rows_changed(status: str) -> int:
    """The row count in a command status: 'INSERT 0 1' → 1, 'UPDATE 3' → 3, 'CREATE TABLE' → -1."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else -1


def _value(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return {k: _value(v) for k, v in record.items()}


def sqlstate(exc: BaseException) -> str | None:
    return getattr(exc, "sqlstate", None) if isinstance(exc, asyncpg.PostgresError) else None


def refusal(exc: BaseException, *, reading: bool = False) -> StorageError | None:
    """The StorageError for an error the database raised because it cannot do the work now,
    or None for one the caller must get as it is (a constraint violation, our own mistake)."""
    code = sqlstate(exc)
    if code is None:
        return None  # not the server's answer
    if reading and code == "25006":
        return None  # a write inside read() is our bug, not a read-only database
    message = REFUSED.get(code) or REFUSED.get(code[:3]) or REFUSED.get(code[:2])
    if message is None and code.startswith("53"):  # out of memory, some other limit
        message = f"the database refused the statement: {exc}"
    return StorageError(message) if message else None


@asynccontextmanager
async def _refusals(*, reading: bool = False) -> AsyncIterator[None]:
    """Raise what ``refusal`` maps as StorageError (chained to the asyncpg error)."""
    try:
        yield
    except Exception as exc:
        refused = refusal(exc, reading=reading)
        if refused is None:
            raise
        raise refused from exc


class PostgresTx:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._held: list[Write] = []

    async def execute(self, sql: str, *params: Any) -> int:
        await self.flush()
        return rows_changed(await self._conn.execute(translate(sql), *params))

    async def write(self, sql: str, *params: Any) -> None:
        self._held.append((sql, params))

    async def flush(self) -> None:
        """Send the held writes (storage/held_writes.py), in order."""
        while self._held:
            group = groups(self._held)[0]
            del self._held[:len(group)]
            sql, params = joined(group)
            await self._conn.execute(translate(sql), *params)

    async def fetchone(self, sql: str, *params: Any) -> dict[str, Any] | None:
        await self.flush()
        record = await self._conn.fetchrow(translate(sql), *params)
        return _row(record) if record is not None else None

    async def fetchall(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        await self.flush()
        return [_row(r) for r in await self._conn.fetch(translate(sql), *params)]

    async def lock_account(self, account_id: str) -> None:
        await self.flush()
        await self._conn.execute("SELECT id FROM accounts WHERE id = $1 FOR UPDATE", account_id)

    async def claim_account(self, account_id: str) -> bool:
        """Lock the account unless another transaction holds it (then False, at once)."""
        await self.flush()
        row = await self._conn.fetchrow("SELECT id FROM accounts WHERE id = $1 FOR UPDATE SKIP LOCKED", account_id)
        return row is not None


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = url
        self.retries = 0  # transactions re-run after a retryable error (for tests and logs)

    @classmethod
    async def open(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        where = describe(url)
        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, timeout=CONNECT_TIMEOUT,
                                             reset=_as_it_is, statement_cache_size=STATEMENT_CACHE)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise StorageError(f"cannot connect to PostgreSQL at {where}: {exc or type(exc).__name__}") from exc
        return cls(pool, url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTx]:
        async with _refusals(), self._transaction() as tx:
            yield tx

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PostgresTx]:
        async with _refusals(reading=True), self._transaction("repeatable_read", readonly=True) as tx:
            yield tx

    @asynccontextmanager
    async def _transaction(self, isolation: str = "read_committed", *, readonly: bool = False
                           ) -> AsyncIterator[PostgresTx]:
        """A transaction whose errors are asyncpg's, as they are (run_in_transaction retries on them)."""
        async with self._connection() as conn, conn.transaction(isolation=isolation, readonly=readonly):
            tx = PostgresTx(conn)
            yield tx
            await tx.flush()  # what the transaction still holds, before its COMMIT

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await self._pool.acquire()  # may open a new connection: the server may refuse it
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            if sqlstate(exc) == "53300":
                raise StorageError(BUSY) from exc
            where = describe(self.url)
            raise StorageError(f"cannot connect to PostgreSQL at {where}: {exc or type(exc).__name__}") from exc
        try:
            yield conn
        except (asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
            # A connection the server ended while idle (terminated, restarted, a failover) is
            # only seen as "connection is closed", or a state error, on its next use or ROLLBACK.
            if not _closed(conn):
                raise  # our misuse of a live connection: a bug, as it is
            raise StorageError(LOST) from exc
        finally:
            await self._pool.release(conn)

    async def run_alone(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """One statement, committed on its own (autocommit): one round trip."""
        async with _refusals(), self._connection() as conn:
            return [_row(r) for r in await conn.fetch(translate(sql), *params)]

    async def run_in_transaction(self, fn: Callable[[PostgresTx], Awaitable[T]]) -> T:
        """``fn(tx)`` in one transaction, re-run whole on 40001, 40P01 or 23505 (a few times)."""
        delay = 0.01
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._transaction() as tx:
                    return await fn(tx)
            except Exception as exc:
                # A transaction fn opened itself may have mapped its conflict already: look under it.
                cause = exc.__cause__ if isinstance(exc, StorageError) else exc
                if sqlstate(cause) in RETRYABLE and attempt < MAX_ATTEMPTS:
                    self.retries += 1
                    await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                    delay *= 2
                    continue
                refused = refusal(exc)  # 40001/40P01 left after the retries → busy; 23505 stays raw
                if refused is None:
                    raise
                raise refused from exc
        raise AssertionError("unreachable")

    async def migrate(self) -> list[str]:
        """Apply each versioned file not yet in schema_migrations, one transaction each.

        An advisory lock makes processes that start together take turns, so each
        file runs once.
        """
        applied: list[str] = []
        async with _refusals(), self._connection() as conn:
            await conn.execute(MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                )
                done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for version, name, script in migration_files():
                    if version in done:
                        continue
                    async with conn.transaction():
                        for statement in split_statements(script):
                            await conn.execute(statement)
                        await conn.execute(
                            "INSERT INTO schema_migrations VALUES ($1, $2, $3)", version, name, int(time.time()))
                    applied.append(name)
            finally:
                await conn.execute(MIGRATION_UNLOCK)
        return applied

    async def close(self) -> None:
        await self._pool.close()


async def _as_it_is(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing to undo (see the module's docstring)."""


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # "released back to the pool": the pool saw it close and let go
        return True


def describe(url: str) -> str:
    """host:port/database of a URL, without the password (for messages)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the DATABASE_URL given"
    return f"{host}{port}{parts.path or '/'}"
