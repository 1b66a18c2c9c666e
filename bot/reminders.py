"""Renewal reminders: a periodic sweep that applies due work, owes the reminders and
deletes conversations that expired a week ago and question decisions no report can show.

Every bot process may run this loop. The core claims each reminder with a unique row (one
per subscription and period) and owes its DM in the same transaction (core/outbox.py), so
two processes sweeping at the same moment owe it once; the delivery loop (bot/delivery.py)
sends it, retrying while Discord fails. An operator's ``python -m bot sweep`` owes
reminders the same way, and the running bot sends them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import discord
from discord.ext import tasks

from core import question_log
from core.report import MAX_WEEKS

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0  # seconds; reminders are due days ahead, minutes do not matter
QUESTIONS_KEPT_FOR = timedelta(weeks=MAX_WEEKS + 1)
STOP_GRACE = 10.0  # seconds a sweep in progress may take to finish at shutdown


class Reminders:
    def __init__(
        self,
        client: discord.Client,
        app,
        interval: float = DEFAULT_INTERVAL,
        on_owed: Callable[[], None] = lambda: None,
        purge: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.client = client
        self.app = app
        self.on_owed = on_owed
        self.purge = purge
        self.loop = tasks.loop(seconds=interval)(self._tick)
        self.loop.before_loop(self._wait_until_ready)
        self._sweeping = False

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        """End the loop. A sweep in progress may finish first (its transactions end, the
        reminders it claimed go out), so a shutdown does not spend claims without their DMs."""
        task = self.loop.get_task()
        if task is None or task.done():
            return
        if self._sweeping:
            self.loop.stop()  # after this iteration
            await asyncio.wait({task}, timeout=STOP_GRACE)
        self.loop.cancel()  # asleep between sweeps, or over the grace period
        await asyncio.wait({task})

    async def _wait_until_ready(self) -> None:
        await self.client.wait_until_ready()

    async def _tick(self) -> None:
        # A failed sweep (database busy, Discord hiccup) must not end the loop: a task
        # loop stops at its first unhandled exception.
        self._sweeping = True
        try:
            await self.sweep_once()
        except Exception:
            log.exception("reminder sweep failed; trying again next time")
        finally:
            self._sweeping = False

    async def sweep_once(self) -> int:
        """Apply due work; returns how many reminders it owed (the delivery loop sends them)."""
        await self.app.refresh_clock()
        report = await self.app.core.sweep()
        if report.reminders:
            self.on_owed()
        if self.purge is not None:
            # Conversations that ended or expired long ago: their buttons answer "expired"
            # either way, so the rows only grow the database.
            await self.purge()
        # Question decisions older than the longest report (core/report.py) are never read.
        await question_log.forget_before(self.app.db, self.app.core.clock.now() - QUESTIONS_KEPT_FOR)
        return len(report.reminders)
