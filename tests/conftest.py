"""Shared fixtures for the core and storage tests.

``core`` is a SubscriptionCore on a fresh SQLite file (and, as a second
parameter, on a fresh PostgreSQL schema when TEST_POSTGRES_DSN is set), with a SimulatedClock
that starts at 2026-01-01T00:00Z and a SimulatedProvider in mode ``ok``. Time
moves only through ``clock.advance``/``clock.set``, as with Stripe's test
clocks. ``key()`` hands out fresh idempotency keys; ``table_counts(db)`` counts
the rows of every table, so a test can say "nothing was written".

The plain functions here (``make_core``, ``table_counts``, ``Keys``,
``new_account``) are importable for tests that cannot use fixtures, such as
hypothesis state machines: ``from tests.conftest import make_core``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import SimulatedClock
from core.payments import SimulatedProvider
from core.plans import Catalog, load_catalog
from core.service import CoreSettings, SubscriptionCore
from storage.db import Database, open_database

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

# Tables the core writes its state to; "nothing written" means none of their counts moved.
# payment_attempts is left out on purpose: it logs calls to the payment provider and is
# committed on its own before the provider is called (core/attempts.py), refusals included.
TABLES = (
    "accounts", "link_codes", "subscriptions", "credit_buckets", "credit_entries", "invoices",
    "cases", "idempotency_keys", "audit_log", "discord_users", "reminders_sent", "flows", "sim_clock",
)

_CATALOG: Catalog | None = None


def shipped_catalog() -> Catalog:
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = load_catalog()
    return _CATALOG


class Keys:
    """Fresh idempotency keys: ``key()`` → ``k1``, ``key("cancel")`` → ``cancel-2``."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def __call__(self, prefix: str = "k") -> str:
        return f"{prefix}-{next(self._n)}"


async def make_core(url: str, *, start: datetime = START, mode: str = "ok",
                    settings: CoreSettings | None = None, catalog: Catalog | None = None) -> SubscriptionCore:
    db = await open_database(url)
    await db.migrate()
    return SubscriptionCore(db, catalog or shipped_catalog(), SimulatedClock(start), SimulatedProvider(mode), settings)


async def table_counts(db: Database) -> dict[str, int]:
    async with db.read() as tx:
        return {t: (await tx.fetchone(f"SELECT COUNT(*) AS n FROM {t}"))["n"] for t in TABLES}


async def new_account(core: SubscriptionCore, keys: Keys, name: str | None = None, *, plan: str = "free",
                      device: str | None = None, discord: str | None = None):
    """An account as the product's sign-up creates it; returns its AccountView."""
    email = f"{name or keys('user')}@example.com"
    return await core.create_account(email, key=keys("signup"), device_id=device, discord_id=discord, plan=plan)


@pytest.fixture
def key() -> Keys:
    return Keys()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "sqlite_only: run this test on the SQLite `core` only (give the reason)")


@pytest.fixture(params=["sqlite", "postgresql"])
async def core(request, tmp_path) -> SubscriptionCore:
    """On both backends: PostgreSQL gets a fresh schema on TEST_POSTGRES_DSN (skipped
    without it, failed in CI; see tests/postgres_support.py)."""
    if request.param == "sqlite":
        core = await make_core(f"sqlite:///{tmp_path / 'core.db'}")
        yield core
        await core.db.close()
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("SQLite only")
    from tests.postgres_support import fresh_schema

    schema = await fresh_schema()
    core = await make_core(schema.url)
    yield core
    await core.db.close()
    await schema.drop()


@pytest.fixture
def clock(core) -> SimulatedClock:
    return core.clock


@pytest.fixture
def provider(core) -> SimulatedProvider:
    return core.payments


@pytest.fixture
def counts(core):
    """``await counts()``: the row count of every table, now."""

    async def snapshot() -> dict[str, int]:
        return await table_counts(core.db)

    return snapshot
