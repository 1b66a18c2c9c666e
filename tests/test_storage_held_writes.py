"""The storage port's additions for few round trips (storage/db.py), on each backend: held
writes (``Tx.write``: PostgreSQL sends several as one statement, storage/held_writes.py),
one statement committed alone (``run_alone``), and row locks written once for both.
"""

from __future__ import annotations

import sqlite3

import pytest

NOW = 1_767_225_600  # 2026-01-01T00:00Z


def rejected(db):
    """The exception a backend raises when a constraint refuses a row."""
    if db.dialect == "sqlite":
        return pytest.raises(sqlite3.IntegrityError)
    import asyncpg

    return pytest.raises(asyncpg.IntegrityConstraintViolationError)


async def add_account(tx, account_id: str) -> None:
    await tx.execute("INSERT INTO accounts (id, email, created_at) VALUES (?, ?, ?)",
                     account_id, f"{account_id}@example.com", NOW)


async def count(db, table: str) -> int:
    async with db.read() as tx:
        return (await tx.fetchone(f"SELECT COUNT(*) AS n FROM {table}"))["n"]


async def test_held_writes_are_applied_in_order_before_the_next_read_and_the_commit(core):
    db = core.db
    async with db.transaction() as tx:
        await tx.write("INSERT INTO accounts (id, email, created_at) VALUES (?, ?, ?)", "a", "a@example.com", NOW)
        await tx.write("INSERT INTO discord_users (discord_id, updated_at) VALUES (?, ?)", "1", NOW)
        # The same table again, and the same row twice: each sees the one before.
        await tx.write("UPDATE accounts SET version = version + 1 WHERE id = ?", "a")
        await tx.write("UPDATE accounts SET version = version * 10 WHERE id = ?", "a")
        assert (await tx.fetchone("SELECT version FROM accounts WHERE id = ?", "a"))["version"] == 10
        await tx.write("INSERT INTO link_codes (code, account_id, expires_at) VALUES (?, ?, ?)", "C", "a", NOW)
        await tx.write("INSERT INTO credit_buckets (id, account_id, kind, amount, remaining, expires_at, source, "
                       "created_at) VALUES (?, ?, 'topup', 5, 5, NULL, 's', ?)", "b", "a", NOW)
        await tx.write("INSERT INTO credit_entries (id, account_id, bucket_id, delta, kind, created_at) "
                       "VALUES (?, ?, ?, 5, 'grant', ?)", "e", "a", "b", NOW)  # refers to a row held with it
    async with db.read() as tx:
        assert (await tx.fetchone("SELECT account_id FROM link_codes WHERE code = ?", "C"))["account_id"] == "a"
        assert (await tx.fetchone("SELECT bucket_id FROM credit_entries WHERE id = ?", "e"))["bucket_id"] == "b"
        assert await tx.fetchall("SELECT discord_id FROM discord_users") == [{"discord_id": "1"}]


async def test_a_held_write_the_database_refuses_rolls_its_transaction_back(core):
    db = core.db
    with rejected(db):
        async with db.transaction() as tx:
            await add_account(tx, "a")
            await tx.write("INSERT INTO discord_users (discord_id, updated_at) VALUES (?, ?)", "1", NOW)
            await tx.write("INSERT INTO accounts (id, email, created_at) VALUES (?, ?, ?)", "a", "again@x.io", NOW)
    assert (await count(db, "accounts"), await count(db, "discord_users")) == (0, 0)


async def test_one_statement_alone_commits_and_returns_its_rows(core):
    db = core.db
    async with db.transaction() as tx:
        await add_account(tx, "a")
    returned = await db.run_alone("UPDATE accounts SET version = version + 1 WHERE id = ? RETURNING version", "a")
    assert returned == [{"version": 1}]
    assert await db.run_alone("UPDATE accounts SET version = 5 WHERE id = ?", "nope") == []
    async with db.read() as tx:
        assert (await tx.fetchone("SELECT version FROM accounts WHERE id = ?", "a"))["version"] == 1


async def test_row_locks_are_written_once_for_both_backends(core):
    async with core.db.transaction() as tx:
        await add_account(tx, "a")
        row = await tx.fetchone("SELECT a.id, (SELECT COUNT(*) FROM credit_buckets c WHERE c.account_id = a.id) AS n "
                                "FROM accounts a WHERE a.id = ? FOR UPDATE OF a", "a")
        assert row == {"id": "a", "n": 0}
        assert await tx.fetchall("SELECT id FROM accounts WHERE id = ? FOR UPDATE SKIP LOCKED", "a") == [{"id": "a"}]
