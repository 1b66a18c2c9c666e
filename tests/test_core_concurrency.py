"""Double clicks and races: many identical confirms charge once; many different
cancels cancel once; two core instances on two connections to one database
(as two bot processes would be) still charge once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter

import pytest

from core.errors import CoreError
from core.payments import SimulatedProvider
from core.service import SubscriptionCore
from storage.db import open_database
from tests.conftest import DAY, new_account, table_counts

N = 50


async def second_core(core: SubscriptionCore, provider: SimulatedProvider | None = None) -> SubscriptionCore:
    """Another SubscriptionCore on its own connection to the same database and clock."""
    url = f"sqlite:///{core.db.path}" if core.db.dialect == "sqlite" else core.db.url
    db = await open_database(url)
    return SubscriptionCore(db, core.catalog, core.clock, provider or SimulatedProvider(), core.settings)


def charges(*providers: SimulatedProvider) -> int:
    return sum(len(c.charge_ids) for p in providers for c in p.charges.values())


async def rows(core, sql, *params):
    async with core.db.read() as tx:
        return await tx.fetchall(sql, *params)


async def test_50_identical_confirms_charge_once_and_get_the_same_receipt(core, key):
    acc = await new_account(core, key)
    receipts = await asyncio.gather(*(core.change_plan(acc.account_id, "plus", key="confirm-subscribe") for _ in range(N)))
    assert len(receipts) == N and all(r == receipts[0] for r in receipts)
    assert receipts[0].operation == "subscribe" and len(receipts[0].invoice_ids) == 1
    assert charges(core.payments) == 1
    assert len(await rows(core, "SELECT id FROM invoices WHERE account_id = ?", acc.account_id)) == 1
    assert len(await rows(core, "SELECT id FROM subscriptions WHERE account_id = ?", acc.account_id)) == 1
    assert len(await rows(core, "SELECT id FROM audit_log WHERE idempotency_key = 'confirm-subscribe'")) == 1
    assert (await core.snapshot(acc.account_id)).credits.subscription == 4000


async def test_50_identical_upgrade_confirms_upgrade_once(core, clock, key):
    acc = await new_account(core, key, plan="basic")
    clock.advance(10 * DAY)
    receipts = await asyncio.gather(*(core.change_plan(acc.account_id, "pro", "now", key="up") for _ in range(N)))
    assert all(r == receipts[0] for r in receipts)
    upgrades = await rows(core, "SELECT amount FROM invoices WHERE account_id = ? AND kind = 'upgrade'", acc.account_id)
    assert upgrades == [{"amount": receipts[0].charged.minor}]
    grants = await rows(core, "SELECT id FROM credit_buckets WHERE account_id = ? AND kind = 'subscription'", acc.account_id)
    assert len(grants) == 2  # basic's, then pro's once


async def test_50_concurrent_cancels_with_different_keys_cancel_once(core, key):
    acc = await new_account(core, key, plan="plus")
    results = await asyncio.gather(
        *(core.cancel(acc.account_id, "too_expensive", key=f"cancel-{i}") for i in range(N)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 1
    assert len(errors) == N - 1 and all(isinstance(e, CoreError) for e in errors)
    assert Counter(e.code for e in errors) == {"already_cancelled": N - 1}
    assert all("already cancelled" in e.message for e in errors)
    assert len(await rows(core, "SELECT id FROM audit_log WHERE action = 'cancel'")) == 1


async def test_50_different_topups_at_once_lose_no_update(core, key):
    acc = await new_account(core, key)
    await asyncio.gather(*(core.buy_topup(acc.account_id, "credits_500", key=f"topup-{i}") for i in range(N)))
    assert (await core.snapshot(acc.account_id)).credits.topup == N * 500
    assert charges(core.payments) == N


async def test_two_cores_on_two_connections_racing_one_confirm_charge_once(core, key):
    acc = await new_account(core, key)
    other = await second_core(core)
    try:
        calls = []
        for i in range(N):
            side = core if i % 2 else other
            calls.append(side.change_plan(acc.account_id, "pro", key="confirm-on-two-processes"))
        receipts = await asyncio.gather(*calls)
        assert all(r == receipts[0] for r in receipts)
        assert charges(core.payments, other.payments) == 1
        assert len(await rows(core, "SELECT id FROM invoices WHERE account_id = ?", acc.account_id)) == 1
        assert len(await rows(other, "SELECT id FROM subscriptions WHERE account_id = ?", acc.account_id)) == 1
    finally:
        await other.db.close()


async def test_two_cores_racing_cancels_and_spends_keep_the_ledger_exact(core, key):
    acc = await new_account(core, key, plan="basic")
    other = await second_core(core)
    try:
        cancels = [side.cancel(acc.account_id, "other", key=f"c-{i}") for i, side in enumerate([core, other] * 10)]
        spends = [side.spend_credits(acc.account_id, 10, key=f"s-{i}") for i, side in enumerate([core, other] * 20)]
        results = await asyncio.gather(*cancels, *spends, return_exceptions=True)
        cancel_results, spend_results = results[:20], results[20:]
        assert sum(not isinstance(r, BaseException) for r in cancel_results) == 1
        assert all(isinstance(r, CoreError) and r.code == "already_cancelled"
                   for r in cancel_results if isinstance(r, BaseException))
        assert not any(isinstance(r, BaseException) for r in spend_results)
        view = await core.snapshot(acc.account_id)
        assert view.cancel_at_period_end and view.credits.subscription == 1500 - 40 * 10
        counts = await table_counts(other.db)
        assert counts["credit_entries"] == 1 + 40  # the grant and one consume per spend
    finally:
        await other.db.close()


async def test_a_change_that_waited_for_the_account_acts_on_what_the_holder_committed(core, key):
    """The account is read and locked in one statement (core/account_state.py): one that waited
    for another change's lock must act on that change, not on what was there before it."""
    acc = await new_account(core, key, plan="plus")
    cancelled = ("UPDATE subscriptions SET cancel_at_period_end = 1, cancel_reason = 'other' "
                 "WHERE account_id = ? AND status <> 'ended'")
    changed = "UPDATE accounts SET version = version + 1 WHERE id = ?"  # as every change does
    if core.db.dialect == "sqlite":
        holder = sqlite3.connect(core.db.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute(cancelled, (acc.account_id,))
        holder.execute(changed, (acc.account_id,))
        waiting = asyncio.create_task(core.cancel(acc.account_id, "too_expensive", key="late"))
        await asyncio.sleep(0.3)
        holder.execute("COMMIT")
        holder.close()
    else:
        import asyncpg

        holder = await asyncpg.connect(core.db.url)
        async with holder.transaction():
            await holder.execute("SELECT id FROM accounts WHERE id = $1 FOR UPDATE", acc.account_id)
            await holder.execute(cancelled.replace("?", "$1"), acc.account_id)
            await holder.execute(changed.replace("?", "$1"), acc.account_id)
            waiting = asyncio.create_task(core.cancel(acc.account_id, "too_expensive", key="late"))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # it waits for the lock
        await holder.close()
    with pytest.raises(CoreError) as refused:
        await waiting
    assert refused.value.code == "already_cancelled"
    assert len(await rows(core, "SELECT id FROM audit_log WHERE action = 'cancel'")) == 0
