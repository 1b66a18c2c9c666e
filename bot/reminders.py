"""Renewal reminders: a periodic sweep, and a DM for each reminder it claims.

Every bot process may run this loop. The core claims each reminder with a unique row
(one per subscription and period), so two processes sweeping at the same moment send
it once. A DM that cannot be delivered (closed DMs) is logged and not retried: the
claim is spent, as a reminder a day late would be worse than none.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import tasks

from bot.language import LanguagePicker, bind
from bot.render import render_reply
from bot.respond import dm

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0  # seconds; reminders are due days ahead, minutes do not matter
STOP_GRACE = 10.0  # seconds a sweep in progress may take to finish at shutdown


class Reminders:
    def __init__(
        self,
        client: discord.Client,
        app,
        engine,
        picker: LanguagePicker,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.client = client
        self.app = app
        self.engine = engine
        self.picker = picker
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
        """Apply due work and send the reminders claimed; returns how many were delivered."""
        await self.app.refresh_clock()
        report = await self.app.core.sweep()
        delivered = 0
        for discord_id, subscription_id, period_end in report.reminders:
            try:
                delivered += await self._send(discord_id, subscription_id, period_end)
            except Exception:
                log.exception("reminder for subscription %s could not be sent", subscription_id)
        return delivered

    async def _send(self, discord_id: str, subscription_id: str, period_end: int) -> bool:
        bind(await self.picker.for_user(discord_id))
        screen = await self.engine.start(
            "reminder", discord_id, {"subscription_id": subscription_id, "period_end": period_end}
        )
        sent = await dm(
            self.client, int(discord_id), render_reply(screen.reply, screen.flow_id, screen.step)
        )
        if not sent:
            log.info(
                "renewal reminder for subscription %s not delivered: DMs closed", subscription_id
            )
        return sent
