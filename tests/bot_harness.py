"""The real bot (bot/) against the local Discord double, on a real core and a temporary SQLite file.

``Harness.open(tmp_path)`` starts the double, builds the App exactly as production does
(``load_settings`` from an environment, ``bootstrap.build``), and can start the bot in
this event loop or as a separate OS process (``tests/bot_process.py``) that a test kills
and starts again. Time is simulated (CLOCK=simulated) and shared through the database.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord.gateway
import discord.http

from bot.bootstrap import App, build
from bot.client import SupportBot
from bot.discord_app import make_bot
from bot.settings import load_settings
from core.views import AccountView
from tests.discord_double import DiscordDouble, Message, ShownModal

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bot-e2e-token-0123456789"  # load_settings wants something token-shaped (20+ chars)
APP_ID = 1_200_000_000_000_000_001
GUILD_ID = 1_200_000_000_000_000_100
SUPPORT = 1_200_000_000_000_000_201
ALICE, BOB, CAROL = 3001, 3002, 3003
FAST_REMINDERS = 0.1  # seconds between reminder sweeps in tests


def environment(tmp_path: Path, double: DiscordDouble, **extra: str) -> dict[str, str]:
    """The bot's settings as environment variables (what an operator's .env would say)."""
    return {
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_BASE": double.api_base,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "SUPPORT_CHANNEL_IDS": str(SUPPORT),
        "CLOCK": "simulated",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def select_of(message: Message) -> dict:
    """The string select on a bot message."""
    for row in message.components:
        for component in row.get("components", []):
            if component.get("type") == 3:
                return component
    raise LookupError(f"message {message.id} has no select: {message.components!r}")


def labels(message: Message) -> list[str]:
    return [
        c["label"]
        for row in message.components
        for c in row.get("components", [])
        if c.get("type") == 2
    ]


@dataclass
class Harness:
    tmp_path: Path
    double: DiscordDouble
    app: App
    bot: SupportBot | None = None
    _task: asyncio.Task | None = None
    _processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def open(cls, tmp_path: Path, **env: str) -> AsyncIterator[Harness]:
        saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        double = await DiscordDouble.start(
            app_id=APP_ID,
            guild_id=GUILD_ID,
            channels=["general", ("support", SUPPORT)],
            token=TOKEN,
        )
        double.add_user(ALICE, "alice")
        double.add_user(BOB, "bob")
        double.add_user(CAROL, "carol", locale="de")
        app = await build(load_settings(environment(tmp_path, double, **env)))
        harness = cls(tmp_path, double, app)
        try:
            yield harness
        finally:
            await harness.stop_bot()
            for process in harness._processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await double.stop()
            await app.close()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved

    # -- the bot in this event loop ------------------------------------------------------

    async def start_bot(self, **options: Any) -> SupportBot:
        from bot.discord_endpoint import apply_api_base

        apply_api_base(self.app.settings.discord_api_base)
        options.setdefault("reminder_interval", 3600.0)
        self.bot = make_bot(self.app, guild_ready_timeout=0.05, **options)
        self._task = asyncio.create_task(self.bot.start(TOKEN))
        await self.double.wait_ready()
        await asyncio.wait_for(self.bot.wait_until_ready(), 5)
        return self.bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
            await self._task
            self.bot = self._task = None

    # -- the bot as its own process (python -m tests.bot_process) -------------------------

    async def launch_process(self, name: str, **env: str) -> asyncio.subprocess.Process:
        """The bot as production starts it, logging to tmp_path/<name>.log (read it if a test fails)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bot_process",
            cwd=ROOT,
            env={**os.environ, **environment(self.tmp_path, self.double, **env),
                 "BOT_LOG": str(self.tmp_path / f"{name}.log")},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self._processes.append(process)
        await self.double.wait_ready(timeout=20)
        return process

    # -- accounts ---------------------------------------------------------------------------

    async def account(self, user: int, plan: str = "plus") -> AccountView:
        """An account linked to a Discord user, as the product's sign-up would create it."""
        return await self.app.core.create_account(
            f"user{user}@example.com", key=f"signup:{user}", discord_id=str(user), plan=plan
        )

    async def view(self, user: int) -> AccountView:
        await self.app.refresh_clock()
        found = await self.app.core.account_for_discord(str(user))
        assert found is not None
        return found

    # -- playing a user ---------------------------------------------------------------------

    async def command(
        self,
        user: int,
        name: str,
        options: dict | None = None,
        *,
        channel: str | int = "general",
        locale: str | None = None,
    ) -> Message:
        reply = await (
            await self.double.slash(user, name, options, channel=channel, locale=locale)
        ).response()
        assert isinstance(reply, Message), reply
        return reply

    async def press(self, user: int, message: Message, label: str) -> Message | ShownModal:
        return await (await self.double.click(user, message, label=label)).response()

    async def choose(self, user: int, message: Message, value: str) -> Message:
        select = select_of(message)
        reply = await (
            await self.double.select(user, message, select["custom_id"], [value])
        ).response()
        assert isinstance(reply, Message), reply
        return reply

    async def requests_made(self, method: str, path: str, count: int) -> list:
        """Wait until the bot has made ``count`` answered requests matching ``path``; return them."""
        return await self.double.world.wait_until(
            lambda: (
                found
                if len(found := [r for r in self.double.requests(method, path) if r.status])
                >= count
                else None
            ),
            self.double.timeout,
            f"{count} answered {method} {path}",
        )

    def dms(self, user: int) -> list[Message]:
        """Messages the bot sent in its DM with ``user``."""
        channel = self.double.dm_channel(user)
        return [
            m for m in self.double.messages_in(channel) if m.author_id == self.double.bot_user.id
        ]


def mentions_off_everywhere(double: DiscordDouble) -> list[str]:
    """Every message the bot created or edited, by any route, with allowed_mentions off.
    Returns the offending requests (empty when all is well)."""
    problems = []
    for request in double.requests():
        body = request.json if isinstance(request.json, dict) else None
        if body is None:
            continue
        if request.path.endswith("/callback"):
            if body.get("type") not in (4, 7):
                continue
            body = body.get("data") or {}
        elif not (
            (request.method in ("POST", "PATCH") and "/messages" in request.path)
            or (request.method == "POST" and request.path.startswith("/webhooks/"))
        ):
            continue
        if "content" in body and (body.get("allowed_mentions") or {}).get("parse") != []:
            problems.append(
                f"{request.method} {request.path}: allowed_mentions={body.get('allowed_mentions')}"
            )
    return problems


async def press_from_outside(double: DiscordDouble, user: int, message: Message, label: str):
    """``user`` presses a button on a message Discord would not show them (someone else's
    ephemeral flow). A normal client cannot; the check that stops a modified client or a
    replayed custom_id is the flow engine's owner check, and this lets a test reach it."""
    from tests.discord_double.interactions import component_data, new_interaction

    world = double.world
    component = message.component(label=label)
    channel = world.channels[message.channel_id]
    data = component_data(world, message, component, None, world.guild_of(channel))
    record = new_interaction(
        world, kind=3, user=world.user(user), channel=channel, data=data, message=message
    )
    return await double._dispatch(record)
