"""``run_discord(app)``: connect to Discord and serve until SIGTERM or Ctrl-C.

``python -m bot run`` builds the App (bot/bootstrap.py), calls this, and closes the App
(database) when it returns: by then the bot is closed (gateway sessions ended, the
reminder loop stopped), so nothing touches the database any more.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import discord

from bot.client import SupportBot
from bot.discord_endpoint import apply_api_base
from bot.reminders import DEFAULT_INTERVAL
from bot.settings import SettingsError
from flows.engine import FlowEngine
from flows.limits import StartLimit

log = logging.getLogger(__name__)


def make_bot(app, *, reminder_interval: float = DEFAULT_INTERVAL, starts: StartLimit | None = None,
             **options) -> SupportBot:
    """``starts``: the per-user limit on new flows (tests give it a clock of their own)."""
    engine = FlowEngine(app.core, app.db, app.flow_timeout, starts=starts,
                        moderators=app.settings.mod_channel_id is not None)
    return SupportBot(app, engine, reminder_interval=reminder_interval, **options)


async def run_discord(app, *, reminder_interval: float = DEFAULT_INTERVAL, **options) -> int:
    """Serve until stopped; 0 after a clean stop, 2 when Discord refuses the token or intents.

    Raises ``SettingsError`` for a missing token or a bad DISCORD_API_BASE (the CLI prints
    it as one line and exits 2). The token is only ever handed to discord.py.
    """
    settings = app.settings
    if not settings.discord_token:
        raise SettingsError("DISCORD_TOKEN", "required to connect to Discord")
    try:
        apply_api_base(settings.discord_api_base)
    except ValueError as exc:
        raise SettingsError("DISCORD_API_BASE", str(exc)) from None
    bot = make_bot(app, reminder_interval=reminder_interval, **options)
    return await _serve(bot, settings.discord_token)


async def _serve(bot: SupportBot, token: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    runner = asyncio.create_task(bot.start(token), name="discord-bot")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            log.info("stopping: closing the Discord connection")
        await bot.close()
        await runner
        return 0
    except discord.LoginFailure:
        log.error(
            "Discord refused DISCORD_TOKEN: copy the token again from the Developer Portal (Bot page)"
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error(
            "SUPPORT_CHANNEL_IDS needs the Message Content intent: enable it in the Developer Portal "
            "(Bot page, Privileged Gateway Intents)"
        )
        return 2
    finally:
        stopper.cancel()
        if not bot.is_closed():
            await bot.close()
        for sig in handled:
            loop.remove_signal_handler(sig)
