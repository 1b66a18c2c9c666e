"""What a confirmed cancel, resume or top-up costs the database, on an account with nothing due.

PostgreSQL: at most ``BUDGET`` (6) round trips each. They are counted on the wire: the
core's pool connects through ``WireCounter`` (tests/wire_counter.py), a TCP relay that
counts the client's messages ending a request it then waits on (Query, Sync, Flush). So
every round trip counts: BEGIN and COMMIT, a statement's prepare, the pool's work on
release. The pool holds one connection, and each operation runs once on another account
first, so its statements are prepared already (asyncpg prepares a statement once per
connection; the first use costs one round trip more). What they cost today:

    cancel, resume   BEGIN; the account locked and read with everything the command needs
                     (core/account_state.py); its writes (the subscription, the idempotency
                     key, the audit record, the account's version) as one statement
                     (storage/held_writes.py); COMMIT                                      4
    top-up           the payment attempt committed in one statement before the provider is
                     asked (core/attempts.py, ``charge_before``); then BEGIN; the read; the
                     writes (the credit bucket and its grant entry, the invoice, the attempt
                     completed, the key, the audit record, the version) as one statement;
                     COMMIT                                                                5

SQLite has no round trips: a statement is a call on a connection in this process. Its
statements are counted too (the connection's trace callback sees each one, BEGIN and
COMMIT included), against ceilings of their own that fail when an operation starts
costing more: a held write runs at once there, one statement per table (cancel and
resume 7), and the top-up's attempt has a write transaction of its own (top-up 13).
"""

from __future__ import annotations

from core.clock import SimulatedClock
from core.payments import SimulatedProvider
from core.service import SubscriptionCore
from storage.postgres import PostgresDatabase
from tests.conftest import START, Keys, make_core, new_account, shipped_catalog
from tests.wire_counter import WireCounter

BUDGET = 6  # round trips to PostgreSQL per confirmed operation
SQLITE_CEILING = {"cancel": 7, "resume": 7, "topup": 13}  # statements


async def costs(core: SubscriptionCore, counted) -> dict[str, int]:
    """What each operation cost (``counted()``: the count so far), after a first round that
    prepares the statements; the operations are checked to have done what they say."""
    key, found = Keys(), {}
    for _ in range(2):
        account = (await new_account(core, key, plan="basic")).account_id
        assert (await core.snapshot(account)).next_billing_at is not None  # nothing due: renewal in a month
        operations = {
            "cancel": lambda a=account: core.cancel(a, "too_expensive", key=key("cancel")),
            "resume": lambda a=account: core.resume(a, key=key("resume")),
            "topup": lambda a=account: core.buy_topup(a, "credits_500", key=key("topup")),
        }
        for name, operation in operations.items():
            before = counted()
            receipt = await operation()
            found[name] = counted() - before
            assert receipt.operation == name
    view = await core.snapshot(account)
    assert (view.cancel_at_period_end, view.credits.topup) == (False, 500)
    return found


async def test_a_confirmed_cancel_resume_or_topup_is_at_most_six_round_trips_to_postgresql():
    from tests.postgres_support import fresh_schema

    schema = await fresh_schema()
    wire = await WireCounter(schema.url).start()
    db = await PostgresDatabase.open(wire.url, min_size=1, max_size=1)
    try:
        await db.migrate()
        core = SubscriptionCore(db, shipped_catalog(), SimulatedClock(START), SimulatedProvider())
        found = await costs(core, lambda: wire.round_trips)
    finally:
        await db.close()
        await wire.close()
        await schema.drop()
    over = {name: n for name, n in found.items() if n > BUDGET}
    assert not over, f"round trips to PostgreSQL over the budget of {BUDGET}: {over} (all: {found})"


async def test_sqlite_statements_of_a_confirmed_operation_stay_within_their_ceilings(tmp_path):
    core = await make_core(f"sqlite:///{tmp_path / 'core.db'}")
    statements = [0]
    core.db._raw.set_trace_callback(lambda _sql: statements.__setitem__(0, statements[0] + 1))
    try:
        found = await costs(core, lambda: statements[0])
    finally:
        core.db._raw.set_trace_callback(None)
        await core.db.close()
    over = {name: n for name, n in found.items() if n > SQLITE_CEILING[name]}
    assert not over, f"SQLite statements over their ceilings {SQLITE_CEILING}: {over} (all: {found})"
