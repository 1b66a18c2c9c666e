"""The pieces of health and metrics on their own: the settings METRICS_ADDR and LOG_FORMAT, the
flow events the engine reports, the database's busy retries, and /healthz's reasons."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest

from bot.health import database_problem, gateway_problem
from bot.metrics_scrape import DatabaseRetries
from bot.settings import SettingsError, load_settings
from flows.machine import FlowState
from flows.telemetry import turn_events
from storage.db import open_database


@pytest.mark.parametrize("raw", ["9108", "localhost", ":9108", "host:port", "host:70000", "a b:1", "[::1]x:1"])
def test_metrics_addr_must_be_host_and_port(raw):
    with pytest.raises(SettingsError, match=r"METRICS_ADDR: expected host:port such as 127.0.0.1:9108"):
        load_settings({"METRICS_ADDR": raw})


def test_metrics_addr_and_log_format_defaults_and_values():
    default = load_settings({})
    assert default.metrics_addr is None and default.log_format == "text"
    assert load_settings({"METRICS_ADDR": " 0.0.0.0:9108 "}).metrics_addr == ("0.0.0.0", 9108)
    assert load_settings({"METRICS_ADDR": "[::1]:9109"}).metrics_addr == ("::1", 9109)
    assert load_settings({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="LOG_FORMAT: expected text or json"):
        load_settings({"LOG_FORMAT": "xml"})


def _flow(kind: str, step: str, **data) -> FlowState:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return FlowState("f1", "1", "a1", kind, step, data, 1, now, now, now)


def test_the_engine_reports_starts_offers_and_ends():
    assert turn_events("cancel", None, _flow("cancel", "reason"), False) == [("started", {})]
    assert turn_events("cancel", "comment", _flow("cancel", "offer"), False) == [("save_offer_shown", {})]
    assert turn_events("cancel", "offer", _flow("cancel", "offer"), False) == []  # a notice on the offer step
    assert turn_events("cancel", "confirm", _flow("cancel", "done", reason="not_using"), True) == [
        ("completed", {"end": "done"}), ("cancellation", {"reason": "not_using"})]
    assert ("save_offer_accepted", {}) in turn_events("cancel", "offer_summary", _flow("cancel", "switched"), True)
    assert turn_events("plan", "reason", _flow("plan", "closed"), True) == [("abandoned", {"reason": "closed"})]
    assert ("resume", {}) in turn_events("resume", "confirm", _flow("resume", "done"), True)
    assert ("refund_case_opened", {}) in turn_events("refund", "details", _flow("refund", "sent"), True)
    # Refused at once (e.g. /cancel on Free): started and ended in one turn.
    assert turn_events("cancel", None, _flow("cancel", "refused"), True) == [
        ("started", {}), ("completed", {"end": "refused"})]


async def test_a_busy_sqlite_database_counts_its_retries_and_the_metric_shows_them(tmp_path):
    path = tmp_path / "busy.db"
    db = await open_database(f"sqlite:///{path}")
    try:
        await db.migrate()
        db.busy_timeout_ms = 50
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, other.execute, "COMMIT")
        async with db.transaction() as tx:
            await tx.execute("UPDATE outbox SET attempts = attempts WHERE 0 = 1")
        other.close()
        assert db.retries >= 1
        (family,) = DatabaseRetries(db).collect()
        assert [(s.labels, s.value) for s in family.samples] == [({"backend": "sqlite"}, db.retries)]
        assert await database_problem(db) is None
    finally:
        await db.close()
    assert (await database_problem(db)).startswith("database: ")  # closed: the reason, not a hang


def test_healthz_names_the_gateway_problem():
    class Shard:
        def __init__(self, closed: bool, latency: float) -> None:
            self.closed, self.latency = closed, latency

        def is_closed(self) -> bool:
            return self.closed

    class Bot:
        def __init__(self, ready: bool, closed: bool, shards: dict) -> None:
            self.ready, self.closed, self.shards = ready, closed, shards

        def is_ready(self) -> bool:
            return self.ready

        def is_closed(self) -> bool:
            return self.closed

    assert gateway_problem(None) == "gateway: the bot has not started"
    assert gateway_problem(Bot(False, False, {})) == "gateway: not ready yet (connecting to Discord)"
    assert gateway_problem(Bot(True, True, {})) == "gateway: the bot is shutting down"
    shards = {0: Shard(False, 0.05), 1: Shard(True, 0.05), 2: Shard(False, float("inf"))}
    assert gateway_problem(Bot(True, False, shards)) == "gateway: shard 1, 2 not connected"
    assert gateway_problem(Bot(True, False, {0: Shard(False, 0.05)})) is None
