"""What the database cannot do right now reaches the core as ``StorageError``, in the same
words on both backends (storage/errors.py): "busy" (the bot then answers "I'm very busy
right now, nothing was changed"), "read-only", "full", or a lost connection. Nothing of
the refused change is kept and nothing is charged. Constraint violations, which the core
relies on, stay the driver's own exceptions.

The shared cases run on SQLite and PostgreSQL (the ``core`` fixture); the ones only a
server has (statement timeout, too many connections, a connection lost mid-transaction,
a deadlock or a serialisation failure) run on PostgreSQL and need TEST_POSTGRES_DSN.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from core.service import SubscriptionCore
from storage.db import Database, open_database
from storage.errors import BUSY, FULL, LOST, READ_ONLY, StorageError
from storage.sqlite import SqliteDatabase
from tests.conftest import table_counts


def with_settings(url: str, **settings: str) -> str:
    """A PostgreSQL URL with server settings added (asyncpg passes unknown query keys on)."""
    parts = urlsplit(url)
    extra = "&".join(f"{k}={v}" for k, v in settings.items())
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


async def another_handle(core: SubscriptionCore, **pg_settings: str) -> Database:
    """A second handle on the core's database (a second process, say)."""
    if core.db.dialect == "sqlite":
        return await SqliteDatabase.open(core.db.path)
    return await open_database(with_settings(core.db.url, **pg_settings))


def same_world(core: SubscriptionCore, db: Database) -> SubscriptionCore:
    """A core on ``db`` sharing the first one's catalog, clock and payment provider."""
    return SubscriptionCore(db, core.catalog, core.clock, core.payments)


@asynccontextmanager
async def another_connection_holds(core: SubscriptionCore, account_id: str):
    """Another connection holds the lock a change to the account needs: SQLite's write lock,
    PostgreSQL's row lock on the account."""
    if core.db.dialect == "sqlite":
        holder = sqlite3.connect(core.db.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import asyncpg

    conn = await asyncpg.connect(core.db.url)
    holding = conn.transaction()
    await holding.start()
    try:
        await conn.execute("SELECT id FROM accounts WHERE id = $1 FOR UPDATE", account_id)
        yield
    finally:
        await holding.rollback()
        await conn.close()


async def users(db: Database) -> list[str]:
    async with db.read() as tx:
        return [r["discord_id"] for r in await tx.fetchall("SELECT discord_id FROM discord_users ORDER BY discord_id")]


async def add_user(tx, discord_id: str) -> None:
    await tx.execute("INSERT INTO discord_users (discord_id, updated_at) VALUES (?, 0)", discord_id)


async def add_account(tx, account_id: str) -> None:
    await tx.execute("INSERT INTO accounts (id, email, created_at) VALUES (?, ?, 0)", account_id, f"{account_id}@x.io")


# ----- both backends ---------------------------------------------------------------------


async def test_a_change_that_waits_for_a_lock_past_the_timeout_is_busy_and_keeps_nothing(core):
    account = await core.create_account("a@example.com", key="signup")
    # SQLite: each of the 5 tries waits 50 ms for the write lock; PostgreSQL: lock_timeout.
    db = await another_handle(core, lock_timeout="200ms")
    if db.dialect == "sqlite":
        db.busy_timeout_ms = 50
    impatient = same_world(core, db)
    try:
        before = await table_counts(core.db)
        async with another_connection_holds(core, account.account_id):
            with pytest.raises(StorageError) as refused:
                await asyncio.wait_for(impatient.buy_topup(account.account_id, "credits_500", key="topup"), 30)
        assert str(refused.value) == BUSY  # the bot's "very busy, nothing was changed" answer
        assert await table_counts(core.db) == before
        assert core.payments.charges == {}
        # The lock is free again: the same press goes through, once.
        assert (await impatient.buy_topup(account.account_id, "credits_500", key="topup")).credits == 500
    finally:
        await db.close()


async def test_a_read_only_database_refuses_changes_in_plain_words_and_keeps_nothing(core):
    account = await core.create_account("a@example.com", key="signup")
    before = await table_counts(core.db)
    # SQLite: the file opened read-only; PostgreSQL: sessions that default to read-only
    # transactions (what ALTER ROLE/DATABASE … SET default_transaction_read_only, or a hot standby, gives).
    if core.db.dialect == "sqlite":
        db = await SqliteDatabase.open(core.db.path, read_only=True)
    else:
        db = await another_handle(core, default_transaction_read_only="on")
    read_only = same_world(core, db)
    try:
        for change in (lambda: read_only.buy_topup(account.account_id, "credits_500", key="ro-topup"),
                       lambda: read_only.create_account("b@example.com", key="ro-signup")):
            with pytest.raises(StorageError) as refused:
                await change()
            assert str(refused.value) == READ_ONLY
        assert await table_counts(db) == before  # reading still works
    finally:
        await db.close()
    assert await table_counts(core.db) == before
    assert core.payments.charges == {}


@pytest.mark.sqlite_only("filling PostgreSQL's disk needs a filesystem of its own; its SQLSTATE 53100 is mapped below")
async def test_a_full_database_refuses_a_change_in_plain_words_and_keeps_nothing(core):
    account = await core.create_account("a@example.com", key="signup")
    async with core.db.transaction() as tx:
        pages = (await tx.fetchone("PRAGMA page_count"))["page_count"]
        await tx.fetchone(f"PRAGMA max_page_count = {pages}")  # this connection may not grow the file
    before = await table_counts(core.db)
    with pytest.raises(StorageError) as refused:
        async with core.db.transaction() as tx:
            for n in range(200):
                await add_user(tx, f"{n:04}" + "x" * 4000)
    assert str(refused.value) == FULL
    assert await table_counts(core.db) == before
    async with core.db.transaction() as tx:
        await tx.fetchone(f"PRAGMA max_page_count = {pages * 100}")
    assert (await core.buy_topup(account.account_id, "credits_500", key="after")).credits == 500


async def test_a_constraint_violation_stays_the_drivers_own_error(core):
    """The core relies on these (idempotency keys, CHECKs): they are not "the database is busy"."""
    account = await core.create_account("a@example.com", key="signup")
    if core.db.dialect == "sqlite":
        expected: type[Exception] = sqlite3.IntegrityError
    else:
        import asyncpg

        expected = asyncpg.IntegrityConstraintViolationError
    with pytest.raises(expected):
        async with core.db.transaction() as tx:
            await add_account(tx, account.account_id)  # the same id again
    with pytest.raises(expected):
        async with core.db.transaction() as tx:
            await tx.execute("INSERT INTO credit_buckets (id, account_id, kind, amount, remaining, source, created_at) "
                             "VALUES ('b', ?, 'topup', 1, 2, 's', 0)", account.account_id)  # remaining > amount


# ----- PostgreSQL: what only a server has ----------------------------------------------------


@pytest.fixture
async def pg():
    from tests.postgres_support import fresh_schema

    schema = await fresh_schema()
    db = await open_database(schema.url)
    await db.migrate()
    yield db
    await db.close()
    await schema.drop()


async def test_postgres_a_statement_past_statement_timeout_is_busy_and_keeps_nothing(pg):
    slow = await open_database(with_settings(pg.url, statement_timeout="200ms"))
    try:
        with pytest.raises(StorageError) as refused:
            async with slow.transaction() as tx:
                await add_user(tx, "1")
                await tx.fetchone("SELECT pg_sleep(5)")
        assert str(refused.value) == BUSY
        with pytest.raises(StorageError, match="busy"):
            async with slow.read() as tx:
                await tx.fetchone("SELECT pg_sleep(5)")
    finally:
        await slow.close()
    assert await users(pg) == []


async def test_postgres_a_deadlock_in_a_plain_transaction_is_busy_for_the_one_it_ends(pg):
    """transaction() does not retry: the transaction PostgreSQL ends (40P01) gets "busy"."""
    async with pg.transaction() as tx:
        await add_account(tx, "a")
        await add_account(tx, "b")
    both_hold_one = asyncio.Barrier(2)

    async def lock(first: str, second: str) -> str:
        async with pg.transaction() as tx:
            await tx.lock_account(first)
            await both_hold_one.wait()
            await tx.lock_account(second)
            await tx.execute("UPDATE accounts SET version = version + 1 WHERE id IN (?, ?)", first, second)
        return "done"

    outcomes = await asyncio.wait_for(asyncio.gather(lock("a", "b"), lock("b", "a"), return_exceptions=True), 30)
    assert sorted(map(str, outcomes)) == sorted(["done", BUSY])
    assert [type(o) for o in outcomes if o != "done"] == [StorageError]
    async with pg.read() as tx:
        assert {r["version"] for r in await tx.fetchall("SELECT version FROM accounts")} == {1}


async def test_postgres_a_serialization_failure_left_after_the_retries_is_busy(pg):
    """Each run reads a row, another transaction changes it, the run's update fails (40001):
    run_in_transaction runs it MAX_ATTEMPTS times, then says "busy"."""
    import asyncpg

    from storage.postgres import MAX_ATTEMPTS

    async with pg.transaction() as tx:
        await add_account(tx, "a")
    other = await asyncpg.connect(pg.url)
    runs = []

    async def fn(tx):
        runs.append(1)
        await tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await tx.fetchone("SELECT version FROM accounts WHERE id = 'a'")  # the snapshot is taken here
        await other.execute("UPDATE accounts SET version = version + 1 WHERE id = 'a'")
        await tx.execute("UPDATE accounts SET version = version + 100 WHERE id = 'a'")

    try:
        with pytest.raises(StorageError) as refused:
            await pg.run_in_transaction(fn)
    finally:
        await other.close()
    assert str(refused.value) == BUSY
    assert isinstance(refused.value.__cause__, asyncpg.SerializationError)
    assert len(runs) == MAX_ATTEMPTS and pg.retries == MAX_ATTEMPTS - 1
    async with pg.read() as tx:
        assert (await tx.fetchone("SELECT version FROM accounts WHERE id = 'a'"))["version"] == MAX_ATTEMPTS


async def test_postgres_a_unique_violation_left_after_the_retries_stays_a_unique_violation(pg):
    import asyncpg

    from storage.postgres import MAX_ATTEMPTS

    async with pg.transaction() as tx:
        await add_user(tx, "1")
    runs = []

    async def fn(tx):
        runs.append(1)
        await add_user(tx, "1")

    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.run_in_transaction(fn)
    assert len(runs) == MAX_ATTEMPTS


async def test_postgres_a_connection_lost_mid_transaction_is_a_storage_error_and_keeps_nothing(pg):
    import asyncpg

    killer = await asyncpg.connect(pg.url)
    try:
        for kind in ("transaction", "read"):
            with pytest.raises(StorageError) as refused:
                async with getattr(pg, kind)() as tx:
                    if kind == "transaction":
                        await add_user(tx, "1")
                    pid = (await tx.fetchone("SELECT pg_backend_pid() AS pid"))["pid"]
                    await killer.execute("SELECT pg_terminate_backend($1)", pid)  # an admin, a failover
                    await tx.fetchone("SELECT 1")
            assert str(refused.value) == LOST
            assert "busy" not in str(refused.value)  # a COMMIT cut off may have landed: no "nothing was changed"
    finally:
        await killer.close()
    assert await users(pg) == []  # the pool opens a new connection: work goes on
    async with pg.transaction() as tx:
        await add_user(tx, "2")
    assert await users(pg) == ["2"]


async def test_postgres_too_many_connections_is_busy(pg):
    """A role allowed one connection: the pool holds it, and a second transaction at the
    same time needs another, which the server refuses (53300, as at max_connections)."""
    import asyncpg

    role, password = f"r_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    schema = (await pg_setting(pg, "search_path")).split(",")[0].strip()
    admin = await asyncpg.connect(pg.url)
    try:
        try:
            await admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1 PASSWORD '{password}'")
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("the test user may not create roles")
        await admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        await admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role}")
        parts = urlsplit(pg.url)
        url = urlunsplit(parts._replace(netloc=f"{role}:{quote(password)}@{parts.hostname}:{parts.port}"))
        limited = await open_database(url)  # its pool opens the one connection now
        try:
            holding = asyncio.Event()
            release = asyncio.Event()

            async def hold() -> None:
                async with limited.transaction() as tx:
                    await add_user(tx, "held")
                    holding.set()
                    await release.wait()

            holder = asyncio.create_task(hold())
            await holding.wait()
            try:
                with pytest.raises(StorageError) as refused:
                    async with limited.transaction() as tx:
                        await add_user(tx, "second")
            finally:
                release.set()
                await holder
            assert str(refused.value) == BUSY
            assert await users(pg) == ["held"]
        finally:
            await limited.close()
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def pg_setting(db: Database, name: str) -> str:
    async with db.read() as tx:
        return (await tx.fetchone("SELECT current_setting(?) AS v", name))["v"]


# ----- the PostgreSQL map itself (no server needed) -------------------------------------------


def _asyncpg():
    return pytest.importorskip("asyncpg")


@pytest.mark.parametrize("name, expected", [
    ("LockNotAvailableError", BUSY),
    ("QueryCanceledError", BUSY),
    ("SerializationError", BUSY),
    ("DeadlockDetectedError", BUSY),
    ("TooManyConnectionsError", BUSY),
    ("ReadOnlySQLTransactionError", READ_ONLY),
    ("DiskFullError", FULL),
    ("ConnectionDoesNotExistError", LOST),
    ("ConnectionFailureError", LOST),
    ("AdminShutdownError", LOST),
    ("CannotConnectNowError", LOST),
    ("IdleInTransactionSessionTimeoutError", LOST),
    ("OutOfMemoryError", "the database refused the statement: out of memory"),
    # What the core relies on, and mistakes in our SQL: as they are.
    ("UniqueViolationError", None),
    ("CheckViolationError", None),
    ("ForeignKeyViolationError", None),
    ("NotNullViolationError", None),
    ("UndefinedTableError", None),
    ("PostgresSyntaxError", None),
    ("NumericValueOutOfRangeError", None),
])
def test_postgres_errors_map_to_storage_errors_by_sqlstate(name, expected):
    asyncpg = _asyncpg()
    from storage.postgres import refusal

    exc = getattr(asyncpg.exceptions, name)("out of memory")
    refused = refusal(exc)
    assert (str(refused) if refused else None) == expected


def test_postgres_a_write_inside_read_is_our_bug_not_a_read_only_database():
    asyncpg = _asyncpg()
    from storage.postgres import refusal

    assert refusal(asyncpg.ReadOnlySQLTransactionError("x"), reading=True) is None
    assert str(refusal(asyncpg.ReadOnlySQLTransactionError("x"))) == READ_ONLY
