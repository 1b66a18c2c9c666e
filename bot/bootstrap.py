"""The composition root: the only place that builds storage, clock, catalog and core.

The Discord entry point, the console and the operator CLI all call ``build``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.settings import Settings
from core.clock import UTC, SimulatedClock, SystemClock, from_ts, to_ts
from core.payments import SimulatedProvider
from core.plans import Catalog, load_catalog
from core.service import CoreSettings, SubscriptionCore
from storage.db import Database, open_database

# Where simulated time starts on a new database: a fixed, reproducible moment.
SIMULATION_EPOCH = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class App:
    settings: Settings
    db: Database
    catalog: Catalog
    clock: SystemClock | SimulatedClock
    core: SubscriptionCore
    migrations_applied: tuple[str, ...] = ()  # by this start (all of them: a new database)
    time_warning: str | None = None  # the clock is behind the database's records (``clock_warning``)

    @property
    def flow_timeout(self) -> timedelta:
        return timedelta(minutes=self.settings.flow_timeout_minutes)

    async def refresh_clock(self) -> None:
        """Simulated time lives in the database, so every process on it agrees."""
        if isinstance(self.clock, SimulatedClock):
            async with self.db.read() as tx:
                row = await tx.fetchone("SELECT now FROM sim_clock WHERE id = 1")
            if row and from_ts(row["now"]) > self.clock.now():
                self.clock.set(from_ts(row["now"]))

    async def advance_clock(self, delta: timedelta) -> datetime:
        if not isinstance(self.clock, SimulatedClock):
            # ValueError: the CLI reports it as a user's mistake (one line, exit 2).
            raise ValueError("CLOCK=simulated is needed to move time")  # noqa: TRY004
        await self.refresh_clock()
        moment = self.clock.advance(delta)
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO sim_clock (id, now) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET now = excluded.now", to_ts(moment))
        return moment

    async def close(self) -> None:
        await self.db.close()


# Records this much later than the clock are not a clock's jitter between processes.
CLOCK_TOLERANCE = timedelta(minutes=1)


async def latest_record(db: Database) -> datetime | None:
    """The latest moment the core wrote down (the audit trail and invoices, in the core's time)."""
    latest = None
    async with db.read() as tx:
        for sql in ("SELECT MAX(created_at) AS at FROM audit_log", "SELECT MAX(created_at) AS at FROM invoices"):
            row = await tx.fetchone(sql)
            if row and row["at"] is not None and (latest is None or row["at"] > latest):
                latest = row["at"]
    return from_ts(latest) if latest is not None else None


async def clock_warning(db: Database, clock: SystemClock | SimulatedClock) -> str | None:
    """A warning when the database holds records later than the clock's now: a real-time run and
    simulated time share one database, and renewals, periods and credits would look wrong."""
    latest = await latest_record(db)
    now = clock.now()
    if latest is None or latest <= now + CLOCK_TOLERANCE:
        return None
    if isinstance(clock, SimulatedClock):
        return (f"the database has records up to {latest:%Y-%m-%d %H:%M} UTC, but simulated time is "
                f"{now:%Y-%m-%d %H:%M} UTC: it was also used with the real clock. Give simulated time a "
                f"database of its own (leave DATABASE_URL unset for data/demo.db, or set another one), "
                f"or expect renewals and periods to look wrong.")
    return (f"the database has records up to {latest:%Y-%m-%d %H:%M} UTC, later than the real time "
            f"({now:%Y-%m-%d %H:%M} UTC): it was used with CLOCK=simulated moved ahead. Use another "
            f"DATABASE_URL for the real clock, or expect renewals and periods to look wrong.")


# A payment attempt younger than this may still be in progress in another process
# (the provider's own timeout is 20 s): recovery at start leaves it to that process.
RECOVER_AFTER = timedelta(minutes=1)


async def build(settings: Settings, migrate: bool = True, recover_after: timedelta | None = RECOVER_AFTER) -> App:
    catalog = load_catalog(settings.plans_file)
    db = await open_database(settings.database_url)
    applied: list[str] = await db.migrate() if migrate else []
    clock: SystemClock | SimulatedClock = SystemClock()
    if settings.clock == "simulated":
        clock = SimulatedClock(SIMULATION_EPOCH)
    core = SubscriptionCore(
        db, catalog, clock, SimulatedProvider(settings.payment_simulation, ledger=settings.payment_simulation_ledger),
        CoreSettings(max_accounts_per_device=settings.max_accounts_per_device, reminder_days=settings.reminder_days),
    )
    app = App(settings, db, catalog, clock, core, tuple(applied))
    await app.refresh_clock()
    app.time_warning = await clock_warning(db, clock)
    if migrate and recover_after is not None:
        # Payments a crash left half-done: each completed with its change, refunded, or failed.
        await core.recover_payments(older_than=recover_after)
    return app
