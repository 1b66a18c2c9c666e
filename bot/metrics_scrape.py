"""Metrics read when Prometheus scrapes: the outbox backlog, database busy retries, the gateway.

The outbox figures come from the database, so they are cached and read again at most every
``OUTBOX_EVERY`` seconds however often (and from however many places) the endpoint is
scraped; the read touches pending rows only (core.outbox.backlog). Every process reports the
same backlog (it is the shared database's): aggregate it with max(), not sum().
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bot.health import DB_TIMEOUT, gateway_problem
from bot.metrics import PREFIX
from core import outbox

log = logging.getLogger(__name__)

OUTBOX_EVERY = 5.0  # seconds a backlog reading is reused


class OutboxBacklog:
    def __init__(self, db) -> None:
        self.db = db
        self._pending: int | None = None
        self._oldest: int | None = None  # epoch seconds (the outbox's wall-clock times)
        self._read_at = -math.inf

    async def refresh(self) -> None:
        """Read the backlog again unless the last reading is recent; a failed read keeps the last."""
        if time.monotonic() - self._read_at < OUTBOX_EVERY:
            return
        self._read_at = time.monotonic()
        try:
            # Bounded: a database that hangs must not hang the scrape too.
            self._pending, self._oldest = await asyncio.wait_for(outbox.backlog(self.db), DB_TIMEOUT)
        except Exception as exc:  # noqa: BLE001  # the database is down: /healthz says so; scrapes still answer
            log.warning("metrics: reading the outbox backlog failed: %s", type(exc).__name__)

    def collect(self):
        if self._pending is None:
            return
        yield GaugeMetricFamily(PREFIX + "outbox_backlog", "Messages owed and not yet sent (pending rows).",
                                value=self._pending)
        age = max(0, int(time.time()) - self._oldest) if self._oldest else 0
        yield GaugeMetricFamily(PREFIX + "outbox_oldest_age_seconds",
                                "Age of the oldest message still owed; 0 when none is.", value=age)


class DatabaseRetries:
    """The storage backends count their own busy retries (``retries``); this reports the count."""

    def __init__(self, db) -> None:
        self.db = db

    def collect(self):
        family = CounterMetricFamily(
            PREFIX + "db_busy_retries", "Transactions tried again because the database was busy or in conflict.",
            labels=["backend"])
        family.add_metric([getattr(self.db, "dialect", "unknown")], getattr(self.db, "retries", 0))
        yield family


class Gateway:
    """Whether this process's shards are connected, and their heartbeat latency."""

    def __init__(self) -> None:
        self.bot = None  # set when the bot starts

    def collect(self):
        yield GaugeMetricFamily(PREFIX + "gateway_connected",
                                "1 when every shard of this process is connected and ready, else 0.",
                                value=0 if self.bot is None or gateway_problem(self.bot) else 1)
        latency = GaugeMetricFamily(PREFIX + "gateway_latency_seconds",
                                    "Heartbeat round trip to Discord, by shard.", labels=["shard"])
        for shard_id, seconds in (self.bot.latencies if self.bot is not None else []):
            if math.isfinite(seconds):
                latency.add_metric([str(shard_id)], seconds)
        yield latency


class ScrapeTime:
    """The three, registered in one registry."""

    def __init__(self, registry, db) -> None:
        self.outbox = OutboxBacklog(db)
        self.gateway = Gateway()
        for collector in (self.outbox, DatabaseRetries(db), self.gateway):
            registry.register(collector)
