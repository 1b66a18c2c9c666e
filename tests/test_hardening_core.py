"""Faults under the core: the payment provider failing or going silent mid-confirm, the
database busy (another connection holds the write lock) or read-only.

No state change without a charge, no charge without a state change; a busy or read-only
database gives a clear StorageError after bounded retries and writes nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from core import attempts
from core.errors import CoreError
from core.payments import Charge, SimulatedProvider
from storage.errors import StorageError
from storage.sqlite import SqliteDatabase
from tests.conftest import make_core, table_counts
from tests.test_hardening_kill import record_figures


class ChargesThenDrops(SimulatedProvider):
    """Takes the money, then the connection drops before the answer arrives."""

    async def charge(self, account_id, amount, key):
        await super().charge(account_id, amount, key)
        raise ConnectionResetError("connection reset by peer")


class NeverAnswers(SimulatedProvider):
    async def charge(self, account_id, amount, key):
        await super().charge(account_id, amount, key)
        await asyncio.sleep(3600)


@pytest.fixture
async def core(tmp_path):
    core = await make_core(f"sqlite:///{tmp_path / 'core.db'}")
    yield core
    await core.db.close()


async def rows(core, sql, *args):
    async with core.db.read() as tx:
        return await tx.fetchall(sql, *args)


async def test_a_charge_whose_answer_is_lost_changes_nothing_then_completes_on_the_second_press(core):
    account = await core.create_account("a@example.com", key="signup")
    core.payments = ChargesThenDrops()
    before = await table_counts(core.db)
    with pytest.raises(CoreError) as failed:
        await core.buy_topup(account.account_id, "credits_500", key="press")
    assert failed.value.code == "payment_failed"
    assert await table_counts(core.db) == before  # no credits, no invoice, no audit
    assert [r["status"] for r in await rows(core, "SELECT status FROM payment_attempts")] == ["pending"]
    # The user presses again (same confirm, same key): the provider returns the charge it took.
    core.payments.__class__ = SimulatedProvider
    receipt = await core.buy_topup(account.account_id, "credits_500", key="press")
    assert receipt.credits == 500 and len(core.payments.charges) == 1
    assert len(await rows(core, "SELECT id FROM invoices WHERE kind = 'topup'")) == 1
    assert [r["status"] for r in await rows(core, "SELECT status FROM payment_attempts")] == ["completed"]


async def test_recovery_refunds_a_charge_left_without_its_change(core):
    account = await core.create_account("a@example.com", key="signup")
    core.payments = ChargesThenDrops()
    with pytest.raises(CoreError):
        await core.buy_topup(account.account_id, "credits_2000", key="lost")
    core.payments.__class__ = SimulatedProvider
    done = await core.recover_payments()
    assert done == {"completed": 0, "refunded": 1, "failed": 0}
    assert core.payments.refunds == {"recover:topup:lost": "re_recover:topup:lost"}
    assert (await core.snapshot(account.account_id)).credits.topup == 0
    assert await rows(core, "SELECT id FROM invoices WHERE kind = 'topup'") == []
    # A late second press of that confirm is refused plainly: the money went back.
    with pytest.raises(CoreError) as late:
        await core.buy_topup(account.account_id, "credits_2000", key="lost")
    assert late.value.code == "payment_failed"
    assert len(core.payments.charges) == 1


async def test_a_provider_that_never_answers_times_out_and_recovery_settles_it(core, monkeypatch):
    monkeypatch.setattr(attempts, "PROVIDER_TIMEOUT", 0.2)
    account = await core.create_account("a@example.com", key="signup")
    core.payments = NeverAnswers()
    before = await table_counts(core.db)
    started = time.monotonic()
    with pytest.raises(CoreError) as failed:
        await core.change_plan(account.account_id, "plus", "now", key="sub")
    assert failed.value.code == "payment_failed" and time.monotonic() - started < 2
    assert await table_counts(core.db) == before
    assert (await core.snapshot(account.account_id)).plan == "free"
    assert await core.recover_payments() == {"completed": 0, "refunded": 1, "failed": 0}


async def test_a_declined_charge_writes_nothing_and_a_later_press_may_pay(core):
    account = await core.create_account("a@example.com", key="signup")
    core.payments.mode = "decline"
    before = await table_counts(core.db)
    with pytest.raises(CoreError) as declined:
        await core.buy_topup(account.account_id, "credits_500", key="card")
    assert declined.value.code == "payment_declined" and await table_counts(core.db) == before
    core.payments.mode = "ok"  # the user fixed the card and presses again
    assert (await core.buy_topup(account.account_id, "credits_500", key="card")).credits == 500


async def test_recovery_completes_a_renewal_interrupted_after_its_charge(core):
    account = await core.create_account("a@example.com", key="signup", plan="basic")
    # As after a kill between the provider's charge and the commit: a pending attempt, the charge taken.
    sub = (await core.snapshot(account.account_id)).subscription_id
    period_end = (await rows(core, "SELECT period_end FROM subscriptions WHERE id = ?", sub))[0]["period_end"]
    key = f"renew:{sub}:{period_end}"
    async with core.db.transaction() as tx:
        await tx.execute("INSERT INTO payment_attempts (key, account_id, amount, currency, status, started_at, updated_at) "
                         "VALUES (?, ?, 999, 'USD', 'pending', 0, 0)", key, account.account_id)
    core.payments.charges[key] = Charge((f"ch_{key}",))
    from datetime import timedelta

    core.clock.advance(timedelta(days=32))
    assert await core.recover_payments() == {"completed": 1, "refunded": 0, "failed": 0}
    renewals = await rows(core, "SELECT provider_charge_id FROM invoices WHERE kind = 'renewal'")
    assert [r["provider_charge_id"] for r in renewals] == [f"ch_{key}"]
    assert core.payments.refunds == {}


async def test_a_busy_database_is_retried_with_backoff_then_refused_plainly(core, tmp_path):
    account = await core.create_account("a@example.com", key="signup")
    core.db.busy_timeout_ms = 50  # each try waits 50 ms for the lock
    holder = sqlite3.connect(tmp_path / "core.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    before_tries = time.monotonic()
    with pytest.raises(StorageError) as busy:
        await core.buy_topup(account.account_id, "credits_500", key="busy")
    waited = time.monotonic() - before_tries
    assert "busy" in str(busy.value) and 0.3 < waited < 5  # retried (5 tries, backoff), bounded
    holder.execute("ROLLBACK")
    holder.close()
    assert (await core.buy_topup(account.account_id, "credits_500", key="busy")).credits == 500
    record_figures(busy_wait_seconds=round(waited, 2))


async def test_a_read_only_database_refuses_changes_plainly_and_keeps_nothing(core, tmp_path):
    account = await core.create_account("a@example.com", key="signup")
    before = await table_counts(core.db)
    read_only = await SqliteDatabase.open(str(tmp_path / "core.db"), read_only=True)
    ro_core = core.__class__(read_only, core.catalog, core.clock, core.payments)
    try:
        for change in (lambda: ro_core.buy_topup(account.account_id, "credits_500", key="ro1"),
                       lambda: ro_core.cancel(account.account_id, "other", key="ro2"),
                       lambda: ro_core.create_account("b@example.com", key="ro3")):
            with pytest.raises((StorageError, CoreError)) as refused:
                await change()
            assert "database" in str(refused.value).lower() or isinstance(refused.value, CoreError)
    finally:
        await read_only.close()
    assert await table_counts(core.db) == before
    assert core.payments.charges == {}  # nothing charged for a change that could not be stored
