"""The PostgreSQL backend's own parts: placeholder translation, row counts from the
command status, numeric results as ints, the retry wrapper, SKIP LOCKED claims,
migrations from several processes at once, and clear errors for a bad URL or an
unreachable server. The storage contract shared with SQLite is in
test_storage_contract.py. The database tests need TEST_POSTGRES_DSN.
"""

from __future__ import annotations

import asyncio
import socket

import asyncpg
import pytest

from storage.db import open_database
from storage.errors import StorageError
from storage.held_writes import groups, joined
from storage.migrations_runner import migration_files
from storage.postgres import PostgresDatabase, describe, rows_changed, translate
from tests.conftest import TABLES
from tests.postgres_support import fresh_schema, with_search_path

# ----- no database needed --------------------------------------------------------------


@pytest.mark.parametrize("sql, expected", [
    ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"),
    ("SELECT '?' AS q, x FROM t WHERE y = ?", "SELECT '?' AS q, x FROM t WHERE y = $1"),
    ("SELECT 'it''s ?', ? FROM t", "SELECT 'it''s ?', $1 FROM t"),
    ('SELECT "odd?name" FROM t WHERE a = ?', 'SELECT "odd?name" FROM t WHERE a = $1'),
    ("SELECT a -- why?\nFROM t WHERE b = ?", "SELECT a -- why?\nFROM t WHERE b = $1"),
    ("SELECT /* ? */ a FROM t WHERE b = ?", "SELECT /* ? */ a FROM t WHERE b = $1"),
    ("INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3)"),
    ("SELECT 1", "SELECT 1"),
])
def test_placeholders_become_numbered_outside_quotes_and_comments(sql, expected):
    assert translate(sql) == expected


@pytest.mark.parametrize("status, n", [
    ("INSERT 0 1", 1), ("INSERT 0 0", 0), ("UPDATE 3", 3), ("DELETE 0", 0), ("SELECT 2", 2),
    ("CREATE TABLE", -1), ("", -1),
])
def test_rows_changed_reads_the_command_status(status, n):
    assert rows_changed(status) == n


def test_held_writes_group_until_a_table_repeats_or_a_write_reads():
    a = ("INSERT INTO accounts (id) VALUES (?)", ("a",))
    b = ("INSERT INTO audit_log (id) VALUES (?)", ("l",))
    c = ("UPDATE accounts SET version = version + 1 WHERE id = ?", ("a",))
    d = ("INSERT INTO invoices (id) SELECT ? WHERE EXISTS (SELECT 1 FROM accounts)", ("i",))
    e = ("DELETE FROM flows WHERE id = ?", ("f",))
    assert groups([a, b, c, d, e]) == [[a, b], [c], [d], [e]]
    assert groups([a, b, e]) == [[a, b, e]]


def test_a_group_of_held_writes_is_one_statement_with_their_parameters_in_order():
    sql, params = joined([("INSERT INTO t (a) VALUES (?)", (1,)), ("UPDATE u SET b = ? WHERE c = ?", (2, 3)),
                          ("INSERT INTO v (d) VALUES (?)", (4,))])
    assert sql == ("WITH w1 AS (INSERT INTO t (a) VALUES (?)), w2 AS (UPDATE u SET b = ? WHERE c = ?) "
                   "INSERT INTO v (d) VALUES (?)")
    assert params == (1, 2, 3, 4)
    assert translate(sql).count("$") == 4
    assert joined([("DELETE FROM t WHERE a = ?", (1,))]) == ("DELETE FROM t WHERE a = ?", (1,))


def test_describe_hides_the_password():
    assert describe("postgresql://bot:s3cret@db.internal:5433/bot") == "db.internal:5433/bot"
    assert "s3cret" not in describe("postgresql://bot:s3cret@db.internal/bot")


def test_search_path_is_added_to_the_query():
    assert with_search_path("postgresql://u@h:1/d", "s") == "postgresql://u@h:1/d?search_path=s"
    assert with_search_path("postgresql://u@h:1/d?sslmode=disable", "s") == "postgresql://u@h:1/d?sslmode=disable&search_path=s"


async def test_an_unreachable_server_is_a_storage_error_that_names_it():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StorageError, match=f"127.0.0.1:{port}/nobot"):
        await open_database(f"postgresql://bot:pw@127.0.0.1:{port}/nobot")


async def test_a_database_url_of_another_kind_is_refused():
    with pytest.raises(StorageError, match="DATABASE_URL"):
        await open_database("mysql://x@localhost/bot")


# ----- on a PostgreSQL schema of its own --------------------------------------------------


@pytest.fixture
async def pg():
    schema = await fresh_schema()
    db = await open_database(schema.url)
    assert isinstance(db, PostgresDatabase) and db.dialect == "postgresql"
    await db.migrate()
    yield db
    await db.close()
    await schema.drop()


async def test_the_schema_is_the_one_sqlite_gets(pg):
    """Every table and column SQLite's migrations create, PostgreSQL's have too."""
    lite = await open_database("sqlite:///:memory:")
    try:
        await lite.migrate()
        async with lite.read() as tx:
            expected = {}
            for t in await tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'"):
                expected[t["name"]] = {c["name"] for c in await tx.fetchall(f"PRAGMA table_info({t['name']})")}
    finally:
        await lite.close()
    async with pg.read() as tx:
        found: dict[str, set[str]] = {}
        for c in await tx.fetchall(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"):
            found.setdefault(c["table_name"], set()).add(c["column_name"])
        versions = await tx.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
    assert found == expected
    assert set(TABLES) < set(found)
    assert [(r["version"], r["name"]) for r in versions] == [(v, n) for v, n, _ in migration_files()]
    assert await pg.migrate() == []


async def test_rows_are_dicts_of_plain_ints(pg):
    async with pg.transaction() as tx:
        for n in range(3):
            await tx.execute("INSERT INTO accounts (id, email, created_at) VALUES (?, ?, ?)", f"a{n}", f"{n}@x.io", 10 + n)
        row = await tx.fetchone(
            "SELECT COUNT(*) AS n, SUM(created_at) AS total, MAX(created_at) AS latest, AVG(created_at) AS mean "
            "FROM accounts")
    assert row == {"n": 3, "total": 33, "latest": 12, "mean": 11}
    assert all(type(v) is int for v in row.values())


async def test_execute_counts_changed_rows(pg):
    async with pg.transaction() as tx:
        assert await tx.execute("INSERT INTO discord_users (discord_id, updated_at) VALUES (?, ?)", "1", 0) == 1
        assert await tx.execute(
            "INSERT INTO discord_users (discord_id, updated_at) VALUES (?, ?) ON CONFLICT DO NOTHING", "1", 0) == 0
        assert await tx.execute("UPDATE discord_users SET reminders = 1 WHERE discord_id = ?", "1") == 1
        assert await tx.execute("UPDATE discord_users SET reminders = 1 WHERE discord_id = ?", "2") == 0
        assert await tx.execute("DELETE FROM discord_users") == 1


async def test_read_is_read_only(pg):
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with pg.read() as tx:
            await tx.execute("INSERT INTO discord_users (discord_id, updated_at) VALUES (?, ?)", "1", 0)


async def test_a_failed_transaction_leaves_nothing(pg):
    with pytest.raises(RuntimeError):
        async with pg.transaction() as tx:
            await tx.execute("INSERT INTO discord_users (discord_id, updated_at) VALUES (?, ?)", "1", 0)
            raise RuntimeError("crash mid-change")
    async with pg.read() as tx:
        assert await tx.fetchall("SELECT * FROM discord_users") == []


async def _seed_accounts(db, *ids: str) -> None:
    async with db.transaction() as tx:
        for account_id in ids:
            await tx.execute("INSERT INTO accounts (id, email, created_at) VALUES (?, ?, 0)", account_id, f"{account_id}@x.io")


async def test_a_deadlock_is_retried_whole(pg):
    """Two transactions lock two accounts in opposite orders: PostgreSQL kills one
    (40P01), the wrapper runs it again from the start, and both changes land once."""
    await _seed_accounts(pg, "a", "b")
    both_hold_one = asyncio.Barrier(2)
    runs = {"ab": 0, "ba": 0}

    def body(first: str, second: str):
        async def fn(tx):
            runs[first + second] += 1
            await tx.lock_account(first)
            if runs[first + second] == 1:
                await both_hold_one.wait()
            await tx.lock_account(second)
            await tx.execute("UPDATE accounts SET version = version + 1 WHERE id IN (?, ?)", first, second)
            return first + second
        return fn

    done = await asyncio.wait_for(
        asyncio.gather(pg.run_in_transaction(body("a", "b")), pg.run_in_transaction(body("b", "a"))), 30)
    assert sorted(done) == ["ab", "ba"]
    assert sorted(runs.values()) == [1, 2]  # exactly one of them ran twice
    assert pg.retries == 1
    async with pg.read() as tx:
        assert {r["version"] for r in await tx.fetchall("SELECT version FROM accounts")} == {2}


async def test_a_concurrent_insert_of_the_same_key_is_retried_into_a_replay(pg):
    """READ COMMITTED: both see no key, one inserts first, the other's unique
    violation (23505) re-runs its body, which now finds the row."""
    both_checked = asyncio.Barrier(2)
    runs = []

    async def fn(tx):
        runs.append(1)
        prior = await tx.fetchone("SELECT result FROM idempotency_keys WHERE key = ?", "k")
        if prior:
            return "replayed " + prior["result"]
        if len(runs) <= 2:
            await both_checked.wait()
        await tx.execute("INSERT INTO idempotency_keys (key, operation, request_hash, result, created_at) "
                         "VALUES ('k', 'op', 'h', ?, 0)", f"run{len(runs)}")
        return "inserted"

    outcomes = await asyncio.wait_for(asyncio.gather(pg.run_in_transaction(fn), pg.run_in_transaction(fn)), 30)
    assert sorted(o.split()[0] for o in outcomes) == ["inserted", "replayed"]
    assert len(runs) == 3


async def test_other_errors_are_not_retried(pg):
    runs = []

    async def fn(tx):
        runs.append(1)
        await tx.execute("INSERT INTO credit_buckets (id, account_id, kind, amount, remaining, source, created_at) "
                         "VALUES ('b', 'no-such-account', 'topup', 1, 0, 's', 0)")

    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pg.run_in_transaction(fn)
    assert runs == [1]


async def test_claim_account_skips_an_account_another_transaction_holds(pg):
    await _seed_accounts(pg, "a", "b")
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder():
        async with pg.transaction() as tx:
            await tx.lock_account("a")
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    try:
        async with pg.transaction() as tx:
            assert await asyncio.wait_for(tx.claim_account("a"), 5) is False  # at once, no waiting
            assert await tx.claim_account("b") is True
    finally:
        release.set()
        await task
    async with pg.transaction() as tx:
        assert await tx.claim_account("a") is True


async def test_processes_starting_together_migrate_once():
    schema = await fresh_schema()
    try:
        dbs = [await open_database(schema.url) for _ in range(4)]
        try:
            applied = await asyncio.gather(*(db.migrate() for db in dbs))
        finally:
            for db in dbs:
                await db.close()
        assert sorted(len(a) for a in applied) == [0, 0, 0, len(migration_files())]
    finally:
        await schema.drop()


async def test_a_core_on_postgres_serialises_concurrent_confirms_in_one_process(pg):
    """The same double-click, many times over, on one pool: one charge."""
    from core.clock import SimulatedClock
    from core.payments import SimulatedProvider
    from core.service import SubscriptionCore
    from tests.conftest import START, shipped_catalog

    core = SubscriptionCore(pg, shipped_catalog(), SimulatedClock(START), SimulatedProvider())
    account = (await core.create_account("one@x.io", key="signup")).account_id
    receipts = await asyncio.gather(*(core.buy_topup(account, "credits_2000", key="click") for _ in range(8)))
    assert len({r.to_json() for r in receipts}) == 1
    async with pg.read() as tx:
        assert (await tx.fetchone("SELECT COUNT(*) AS n FROM invoices WHERE kind = 'topup'"))["n"] == 1
    assert (await core.snapshot(account)).credits.topup == 2000
