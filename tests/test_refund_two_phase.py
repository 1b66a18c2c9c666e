"""Approved refunds are two-phase, as charges are (core/attempts.py, core/cases.py): the refund
attempt is committed first, the provider refunds outside any transaction, then the decision and
its effects commit in one transaction. A crash or a lost answer between the phases is finished by
``recover_payments()``, once; two approvals at once refund once; a refusal changes nothing.
On both backends.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.errors import CoreError
from core.payments import SimulatedProvider
from core.refund_approvals import RefundApprovals
from storage.db import open_database
from storage.errors import StorageError
from tests.conftest import HOUR, new_account


async def rows(core, sql, *params):
    async with core.db.read() as tx:
        return await tx.fetchall(sql, *params)


def url_of(core) -> str:
    return core.db.url if core.db.dialect == "postgresql" else f"sqlite:///{core.db.path}"


async def topup_case(core, key):
    """A top-up bought by mistake and its refund case, open."""
    acc = await new_account(core, key)
    receipt = await core.buy_topup(acc.account_id, "credits_2000", key=key())
    core.clock.advance(HOUR)
    case = await core.cases.open_refund(acc.account_id, receipt.invoice_ids[0], "charged_by_mistake", None, key=key())
    return acc, case


async def subscription_case(core, key):
    acc = await new_account(core, key, plan="plus")
    [invoice] = await rows(core, "SELECT id FROM invoices WHERE account_id = ? AND kind = 'subscription'", acc.account_id)
    core.clock.advance(HOUR)
    case = await core.cases.open_refund(acc.account_id, invoice["id"], "service_problem", None, key=key())
    return acc, case


async def refund_invoices(core, account_id):
    return await rows(core, "SELECT amount, refunds_invoice_id, provider_charge_id FROM invoices "
                            "WHERE account_id = ? AND kind = 'refund'", account_id)


async def decisions(core, case_id):
    """The audit records of the case's decision: (actor, reason, key)."""
    found = await rows(core, "SELECT actor, reason, idempotency_key, details FROM audit_log WHERE action = 'decide_case'")
    return [(r["actor"], r["reason"], r["idempotency_key"]) for r in found if case_id in r["details"]]


class Watching(SimulatedProvider):
    """Looks at the database from another connection while it refunds: the attempt must be
    committed and visible there, and no transaction of the core may hold the account."""

    def __init__(self, url: str, account_id: str, case_id: str) -> None:
        super().__init__()
        self.url, self.account_id, self.case_id = url, account_id, case_id
        self.seen: list[dict] = []

    async def refund(self, charge_id, amount, key):
        other = await open_database(self.url)
        try:
            if hasattr(other, "busy_timeout_ms"):
                other.busy_timeout_ms = 50  # SQLite: a held write lock refuses at once
            async with other.read() as tx:
                attempt = await tx.fetchone("SELECT status, charge_ids FROM payment_attempts WHERE key = ?", key)
                case = await tx.fetchone("SELECT status FROM cases WHERE id = ?", self.case_id)
                refunded = await tx.fetchall("SELECT id FROM invoices WHERE kind = 'refund'")
            try:
                # Every change of the core locks the account first: this waits or fails inside one.
                async with asyncio.timeout(3), other.transaction() as tx:
                    await tx.lock_account(self.account_id)
                free = True
            except (TimeoutError, StorageError):  # PostgreSQL waits on the row lock; SQLite is busy
                free = False
        finally:
            await other.close()
        self.seen.append({"attempt": attempt and attempt["status"], "case": case["status"],
                          "refund_invoices": len(refunded), "account_free": free})
        return await super().refund(charge_id, amount, key)


async def test_the_provider_refunds_outside_any_transaction_after_the_attempt_is_committed(core, key):
    acc, case = await topup_case(core, key)
    core.payments = watching = Watching(url_of(core), acc.account_id, case.id)
    decided = await core.cases.decide(case.id, True, key="approve", actor="mod:1", reason="bought by mistake")
    assert watching.seen == [{"attempt": "pending", "case": "open", "refund_invoices": 0, "account_free": True}]
    assert decided.case.status == "approved"
    assert (decided.effects.credits_removed, decided.effects.refunded.minor) == (2000, 1799)
    [refund] = await refund_invoices(core, acc.account_id)
    assert (refund["amount"], refund["provider_charge_id"]) == (-1799, f"re_refund:{case.id}")
    [attempt] = await rows(core, "SELECT status FROM payment_attempts WHERE key = ?", f"refund:{case.id}")
    assert attempt["status"] == "completed"
    assert await decisions(core, case.id) == [("mod:1", "bought by mistake", "approve")]


class RefundsThenDrops(SimulatedProvider):
    """Refunds, then the connection drops before the answer arrives."""

    async def refund(self, charge_id, amount, key):
        await super().refund(charge_id, amount, key)
        raise ConnectionResetError("connection reset by peer")


async def test_a_lost_answer_leaves_the_case_open_and_recovery_completes_it_once(core, key, counts):
    acc, case = await subscription_case(core, key)
    core.payments = RefundsThenDrops()
    before = await counts()
    with pytest.raises(CoreError) as lost:
        await core.cases.decide(case.id, True, key="approve", actor="mod:1", reason="outage confirmed")
    assert lost.value.code == "payment_failed"
    assert await counts() == before  # no refund invoice, no decision, no audit record yet
    assert (await core.cases.get(case.id)).status == "open"
    assert (await core.snapshot(acc.account_id)).plan == "plus"
    # While its refund may have gone through, the case cannot be denied.
    with pytest.raises(CoreError) as deny:
        await core.cases.decide(case.id, False, key="deny", actor="mod:2", reason="not eligible")
    assert deny.value.code == "case_decided" and await counts() == before

    core.payments.__class__ = SimulatedProvider
    assert await core.recover_payments() == {"completed": 1, "refunded": 0, "failed": 0}
    assert await core.recover_payments() == {"completed": 0, "refunded": 0, "failed": 0}
    decided = await core.cases.get(case.id)
    assert (decided.status, decided.decided_by, decided.decision_reason) == ("approved", "mod:1", "outage confirmed")
    assert [r["amount"] for r in await refund_invoices(core, acc.account_id)] == [-1999]
    assert list(core.payments.refunds) == [f"refund:{case.id}"]  # asked twice, refunded once
    view = await core.snapshot(acc.account_id)
    assert (view.plan, view.status) == ("free", "free")  # the refunded subscription ended
    assert await decisions(core, case.id) == [("mod:1", "outage confirmed", "approve")]
    # The moderator's second press replays the decision.
    again = await core.cases.decide(case.id, True, key="approve", actor="mod:1", reason="outage confirmed")
    assert again.case == decided and again.effects.subscription_ended
    assert len(await refund_invoices(core, acc.account_id)) == 1


class Killed(BaseException):
    """The process dies here: nothing after it runs, no handler cleans up."""


@pytest.mark.parametrize("where", ["before_the_provider", "after_the_provider"])
async def test_a_kill_between_the_phases_leaves_an_attempt_recovery_completes_once(core, key, counts, monkeypatch, where):
    acc, case = await topup_case(core, key)
    before = await counts()
    with monkeypatch.context() as m:
        if where == "before_the_provider":
            async def dies(*args, **kwargs):
                raise Killed()
            m.setattr("core.attempts.refund", dies)
        else:
            async def dies_after(self, *args, **kwargs):
                raise Killed()
            m.setattr(RefundApprovals, "_finish", dies_after)
        with pytest.raises(Killed):
            await core.cases.decide(case.id, True, key="approve", actor="mod:1", reason="bought by mistake")
    assert await counts() == before
    assert len(core.payments.refunds) == (0 if where == "before_the_provider" else 1)
    [attempt] = await rows(core, "SELECT status, started_at FROM payment_attempts WHERE key = ?", f"refund:{case.id}")
    assert attempt["status"] == "pending" and attempt["started_at"] > 0
    # The sweep leaves attempts younger than a minute to the process that may still be making them.
    assert await core.recover_payments(older_than=timedelta(minutes=1)) == {"completed": 0, "refunded": 0, "failed": 0}
    # At start, after the kill: finished, with its effects (the top-up's unspent credits removed).
    assert await core.recover_payments() == {"completed": 1, "refunded": 0, "failed": 0}
    assert await core.recover_payments() == {"completed": 0, "refunded": 0, "failed": 0}
    assert (await core.cases.get(case.id)).status == "approved"
    assert [r["amount"] for r in await refund_invoices(core, acc.account_id)] == [-1799]
    assert list(core.payments.refunds) == [f"refund:{case.id}"]
    assert (await core.snapshot(acc.account_id)).credits.topup == 0
    assert await decisions(core, case.id) == [("mod:1", "bought by mistake", "approve")]


class Slow(SimulatedProvider):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def refund(self, charge_id, amount, key):
        self.calls += 1
        await asyncio.sleep(0.2)
        return await super().refund(charge_id, amount, key)


async def test_two_moderators_and_a_double_click_at_once_refund_once(core, key):
    acc, case = await topup_case(core, key)
    core.payments = slow = Slow()
    presses = [("k-1", "mod:1"), ("k-2", "mod:2"), ("k-1", "mod:1")]
    results = await asyncio.gather(
        *(core.cases.decide(case.id, True, key=k, actor=actor, reason="goodwill") for k, actor in presses),
        return_exceptions=True)
    decided = await core.cases.get(case.id)
    winner = "k-1" if decided.decided_by == "mod:1" else "k-2"
    for (k, _), result in zip(presses, results, strict=True):
        if k == winner:
            assert result.case == decided, result
        else:
            assert isinstance(result, CoreError) and result.code == "case_decided", result
    assert slow.calls == 1 and list(slow.refunds) == [f"refund:{case.id}"]
    assert [r["amount"] for r in await refund_invoices(core, acc.account_id)] == [-1799]
    assert len(await decisions(core, case.id)) == 1
    assert await core.recover_payments() == {"completed": 0, "refunded": 0, "failed": 0}


async def test_a_provider_refusal_leaves_the_case_undecided_and_nothing_refunded(core, key, counts):
    acc, case = await topup_case(core, key)
    core.payments.mode = "fail"
    before = await counts()
    with pytest.raises(CoreError) as refused:
        await core.cases.decide(case.id, True, key="approve", actor="mod:1", reason="bought by mistake")
    assert refused.value.code == "payment_failed" and "still open" in refused.value.message
    assert await counts() == before
    assert (await core.cases.get(case.id)).status == "open"
    assert core.payments.refunds == {} and await refund_invoices(core, acc.account_id) == []
    assert (await core.snapshot(acc.account_id)).credits.topup == 2000
    [attempt] = await rows(core, "SELECT status FROM payment_attempts WHERE key = ?", f"refund:{case.id}")
    assert attempt["status"] == "failed"
    assert await core.recover_payments() == {"completed": 0, "refunded": 0, "failed": 0}
    assert await counts() == before
    # The provider is back: approving again refunds, once.
    core.payments.mode = "ok"
    decided = await core.cases.decide(case.id, True, key="again", actor="mod:2", reason="bought by mistake")
    assert (decided.case.status, decided.case.decided_by) == ("approved", "mod:2")
    assert [r["amount"] for r in await refund_invoices(core, acc.account_id)] == [-1799]
    assert list(core.payments.refunds) == [f"refund:{case.id}"]
