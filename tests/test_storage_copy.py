"""`python -m storage.copy SQLITE_URL POSTGRES_URL`: a populated SQLite database
moves to PostgreSQL whole, verified, in one transaction; a non-empty target is
refused. Needs TEST_POSTGRES_DSN (skipped without it, failed in CI).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage import copy as storage_copy
from storage.db import open_database
from tests.conftest import DAY, TABLES, Keys, make_core, new_account, table_counts
from tests.postgres_support import fresh_schema

ROOT = Path(__file__).resolve().parent.parent


async def populate(url: str):
    """Accounts, subscriptions, top-ups, spends, a granted refund case, a help case,
    reminders, a renewal, a link code; returns (views by name, the time reached)."""
    core = await make_core(url)
    key = Keys()
    try:
        alice = await new_account(core, key, "alice", plan="basic", discord="111", device="dev-1")
        bob = await new_account(core, key, "bob", device="dev-1")
        carol = await new_account(core, key, "carol", plan="plus", discord="333")
        await core.buy_topup(alice.account_id, "credits_500", key=key())
        await core.spend_credits(alice.account_id, 700, key=key())
        await core.spend_credits(bob.account_id, 40, key=key())
        await core.users.set_reminders("111", True)
        await core.users.set_language("333", "de")
        charge = (await core.invoices(carol.account_id))[0]
        case = await core.cases.open_refund(carol.account_id, charge.id, "charged_by_mistake", "did not mean to",
                                            key=key(), discord_id="333")
        await core.cases.decide(case.id, True, key=key(), actor="mod:9", reason="first month, goodwill")
        await core.cases.open_help("444", None, {"topic": "billing"}, key=key())
        await core.issue_link_code(bob.account_id, key=key())
        core.clock.advance(29 * DAY)
        await core.sweep()  # alice's renewal reminder
        core.clock.advance(3 * DAY)
        await core.sweep()  # alice renews
        await core.spend_credits(bob.account_id, 10, key=key())
        views = {name: await core.snapshot(v.account_id) for name, v in
                 (("alice", alice), ("bob", bob), ("carol", carol))}
        return views, core.clock.now()
    finally:
        await core.db.close()


@pytest.fixture
def pg():
    schema = asyncio.run(fresh_schema())
    yield schema
    asyncio.run(schema.drop())


@pytest.fixture
def source(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    views, now = asyncio.run(populate(url))
    return url, views, now


def counts(url: str) -> dict[str, int]:
    async def run():
        db = await open_database(url)
        try:
            return await table_counts(db)
        finally:
            await db.close()

    return asyncio.run(run())


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storage.copy", *args], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=120)


def test_copy_moves_everything_and_verifies(source, pg):
    url, views, now = source
    before = counts(url)
    # the population really covers the tables that matter
    for table in ("accounts", "subscriptions", "credit_buckets", "credit_entries", "invoices", "cases",
                  "idempotency_keys", "audit_log", "discord_users", "reminders_sent", "link_codes"):
        assert before[table] > 0, table

    done = run_cli(url, pg.url)
    assert done.returncode == 0, done.stderr
    assert "verified: the target matches the source" in done.stdout
    assert f"{'invoices':<20} {before['invoices']:>10} {before['invoices']:>10}" in done.stdout
    assert "credit entries" in done.stdout and "MISMATCH" not in done.stdout
    assert counts(pg.url) == before

    async def same_state():
        core = await make_core(pg.url, start=now)
        try:
            for name, view in views.items():
                assert await core.snapshot(view.account_id) == view, name
            # the refund is still linked to the charge it refunded
            carol = views["carol"].account_id
            kinds = sorted(i.kind for i in await core.invoices(carol))
            assert kinds == ["refund", "subscription"]
            # and the copy is a working database: the core goes on from where SQLite stopped
            core.clock.advance(DAY)
            receipt = await core.spend_credits(views["alice"].account_id, 5, key="after-copy")
            assert receipt.balance == views["alice"].credits.total - 5
        finally:
            await core.db.close()

    asyncio.run(same_state())


def test_copy_refuses_a_non_empty_target(source, pg):
    url, _, _ = source
    assert run_cli(url, pg.url).returncode == 0
    after_first = counts(pg.url)
    again = run_cli(url, pg.url)
    assert again.returncode == 2
    assert "not empty" in again.stderr and "Traceback" not in again.stderr
    assert counts(pg.url) == after_first


def test_copy_rolls_back_whole_when_a_row_is_refused(source, pg):
    url, _, _ = source
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # a dangling reference SQLite let in with foreign keys off
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("INSERT INTO credit_entries (id, account_id, bucket_id, delta, kind, ref, created_at) "
                     "VALUES ('dangling', (SELECT id FROM accounts LIMIT 1), 'no-such-bucket', 1, 'adjust', NULL, 0)")
    done = run_cli(url, pg.url)
    assert done.returncode == 2
    assert "rolled back" in done.stderr and "Traceback" not in done.stderr
    assert set(counts(pg.url).values()) == {0}


def test_verify_reports_a_difference(source, pg):
    url, _, _ = source
    assert run_cli(url, pg.url).returncode == 0

    async def tamper_and_verify():
        src, dst = await open_database(url), await open_database(pg.url)
        try:
            async with dst.transaction() as tx:
                bucket = await tx.fetchone("SELECT id FROM credit_buckets WHERE remaining > 0 LIMIT 1")
                await tx.execute("UPDATE credit_buckets SET remaining = remaining - 1 WHERE id = ?", bucket["id"])
                await tx.execute("DELETE FROM audit_log WHERE id = (SELECT MIN(id) FROM audit_log)")
            lines: list[str] = []
            report = await storage_copy.verify(src, dst, list(TABLES), lines.append)
        finally:
            await src.close()
            await dst.close()
        return report, lines

    report, lines = asyncio.run(tamper_and_verify())
    assert not report.ok
    assert report.counts["audit_log"][0] == report.counts["audit_log"][1] + 1
    assert report.ledger["bucket remaining"][0] == report.ledger["bucket remaining"][1] + 1
    assert report.ledger["credit entries"][0] == report.ledger["credit entries"][1]
    assert any("MISMATCH" in line for line in lines)


def test_bad_arguments_exit_2(tmp_path, pg):
    missing = run_cli(f"sqlite:///{tmp_path / 'nope.db'}", pg.url)
    assert missing.returncode == 2 and "no SQLite database" in missing.stderr
    assert not (tmp_path / "nope.db").exists()
    wrong = run_cli("postgresql://x@127.0.0.1/a", pg.url)
    assert wrong.returncode == 2 and "sqlite" in wrong.stderr
    usage = run_cli("sqlite:///x.db")
    assert usage.returncode == 2


def test_rows_of_a_self_referencing_table_follow_their_parents():
    table = storage_copy.Table("invoices", ["id", "refunds_invoice_id"], {"id": "TEXT", "refunds_invoice_id": "TEXT"},
                               self_refs={"refunds_invoice_id": "id"})
    rows = [{"id": "r2", "refunds_invoice_id": "r1"}, {"id": "r1", "refunds_invoice_id": "c"},
            {"id": "c", "refunds_invoice_id": None}]
    assert [r["id"] for r in storage_copy._reference_order(table, rows)] == ["c", "r1", "r2"]
    with pytest.raises(storage_copy.CopyError):
        storage_copy._reference_order(table, [{"id": "x", "refunds_invoice_id": "missing"}])


def test_tables_are_copied_parents_first(tmp_path):
    async def order():
        db = await open_database(f"sqlite:///{tmp_path / 'o.db'}")
        try:
            await db.migrate()
            async with db.read() as tx:
                return [t.name for t in storage_copy._dependency_order(await storage_copy._sqlite_tables(tx))]
        finally:
            await db.close()

    names = asyncio.run(order())
    assert set(TABLES) <= set(names) and "schema_migrations" not in names
    for child, parent in (("credit_entries", "credit_buckets"), ("credit_buckets", "accounts"), ("invoices", "subscriptions"),
                          ("cases", "invoices"), ("reminders_sent", "subscriptions"), ("flows", "accounts")):
        assert names.index(parent) < names.index(child), (parent, child)


def test_the_simulated_clock_table_is_copied(tmp_path, pg):
    url = f"sqlite:///{tmp_path / 'clock.db'}"

    async def seed():
        core = await make_core(url)
        try:
            async with core.db.transaction() as tx:
                await tx.execute("INSERT INTO sim_clock (id, now) VALUES (1, ?)", 1_800_000_000)
        finally:
            await core.db.close()

    asyncio.run(seed())
    assert run_cli(url, pg.url).returncode == 0

    async def read_clock():
        db = await open_database(pg.url)
        try:
            async with db.read() as tx:
                return await tx.fetchall("SELECT id, now FROM sim_clock")
        finally:
            await db.close()

    assert asyncio.run(read_clock()) == [{"id": 1, "now": 1_800_000_000}]
