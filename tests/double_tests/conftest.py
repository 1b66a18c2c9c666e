"""The fixtures of the double's own tests: the double with its guild and users, and the
sample bot connected to it."""

from __future__ import annotations

import asyncio

import discord.gateway
import discord.http
import pytest

from bot.discord_endpoint import apply_api_base
from tests.double_tests.sample_bot import make_bot, start_double


@pytest.fixture
def discord_endpoint():
    """Restore discord.py's real endpoints after a test re-pointed them."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
async def double(discord_endpoint):
    double = await start_double()
    apply_api_base(double.api_base)
    yield double
    await double.stop()


@pytest.fixture
async def bot(double):
    bot = make_bot()
    task = asyncio.create_task(bot.start(double.token))
    try:
        await double.wait_ready()
        yield bot
    finally:
        await bot.close()
        await task  # returns once closed; re-raises anything the bot's connect loop hit
    assert double.unhandled_requests == [], "the bot used routes the double does not serve"
