"""The storage port: a database that runs SQL inside transactions.

SQL is written once, in the subset SQLite and PostgreSQL share, with ``?``
placeholders; a backend translates placeholders if it must. Every state change
runs inside ``transaction()``, which commits on success and rolls back on any
exception, so a crash mid-change leaves nothing behind. What the database cannot do
right now (busy, read-only, full, connection lost) arrives as ``StorageError`` with the
same words on every backend (storage/errors.py); a constraint violation arrives as the
driver's own exception.

Row locks are written as PostgreSQL spells them, at the end of a SELECT or of a sub-select
(``FOR UPDATE``, optionally ``OF`` an alias and ``SKIP LOCKED``): SQLite has no row locks,
its write transaction holds the whole database, so its backend leaves these clauses out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from storage.errors import StorageError

T = TypeVar("T")


class Tx(Protocol):
    async def execute(self, sql: str, *params: Any) -> int:
        """Run a statement; returns the number of rows changed."""

    async def write(self, sql: str, *params: Any) -> None:
        """A change whose row count the caller does not need. A backend may hold it and send
        it with the writes that follow, before the next read, ``execute`` or the commit
        (PostgreSQL: storage/held_writes.py); it is always applied in order, and an error in
        it arrives at that point. So a caller that must see it fail at once uses ``execute``."""

    async def fetchone(self, sql: str, *params: Any) -> dict[str, Any] | None: ...

    async def fetchall(self, sql: str, *params: Any) -> list[dict[str, Any]]: ...

    async def lock_account(self, account_id: str) -> None:
        """Serialise changes to one account (row lock where the database has them)."""

    async def claim_account(self, account_id: str) -> bool:
        """Lock the account if no other transaction holds it; False (at once) if one does.

        For work any process may do, such as the due-work sweep: PostgreSQL's
        ``FOR UPDATE SKIP LOCKED``. SQLite holds its one write lock already: True.
        """


class Database(Protocol):
    dialect: str

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    def read(self) -> AbstractAsyncContextManager[Tx]:
        """A read-only view; cheaper than a write transaction where the backend allows."""

    async def run_alone(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """One statement committed on its own (PostgreSQL: one round trip, no BEGIN or COMMIT);
        its rows (``RETURNING``), or [] for a statement that returns none."""

    async def run_in_transaction(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """``fn(tx)`` inside ``transaction()``, its result returned.

        Where the backend can report a transient conflict between concurrent
        transactions (PostgreSQL: serialisation failure, deadlock, a unique key
        inserted concurrently), the whole of ``fn`` runs again on a fresh
        transaction, a few times at most. So ``fn`` must be safe to re-run: it may
        only change the database, and anything external it calls must take an
        idempotency key (as the payment port does).
        """

    async def migrate(self) -> list[str]: ...

    async def close(self) -> None: ...


def rows(records: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in records]


async def open_database(url: str) -> Database:
    """Open the backend named by a DATABASE_URL. A backend is imported when it is chosen (asyncpg
    is needed for PostgreSQL only); the backends import the port's errors, never this module."""
    if url.startswith("sqlite:///"):
        from storage.sqlite import SqliteDatabase

        # sqlite:///data/bot.db is relative; sqlite:////srv/bot.db is absolute.
        return await SqliteDatabase.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from storage.postgres import PostgresDatabase

        return await PostgresDatabase.open(url)
    raise StorageError("DATABASE_URL must start with sqlite:/// or postgresql://")
