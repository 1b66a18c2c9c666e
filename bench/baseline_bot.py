"""Baseline bots: bare discord.py 2.x, nothing of ours imported.

    python bench/baseline_bot.py idle    # connect and sit (memory baseline)
    python bench/baseline_bot.py fixed   # /cancel, /subscription and every button or select
                                         # answered with one fixed reply (interaction and
                                         # sustained-load baselines)

Settings from the environment: DISCORD_TOKEN and DISCORD_API_BASE (the local double's
REST base; the gateway is the websocket at the root of the same host, as
tests/discord_double documents). The fixed reply carries a select and the buttons the
cancel flow's users press (the same labels as the real bot's screens), so the same
simulated users can drive both bots; each press is answered in one callback that
updates the message (type 7), a slash command with a new ephemeral message (type 4).

Presses are routed by the view registered once with ``add_view`` (persistent: found by
custom_id); replies carry a stopped copy of it, as the real bot's replies carry stopped
views (bot/render.py). Sending the registered view itself would make discord.py track it
for every message it is sent on, a cost (memory growing with every reply, CPU per send)
that is discord.py's default but neither bot needs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from urllib.parse import urlsplit

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

REASONS = ("too_expensive", "not_using", "missing_features", "results_quality", "switching_service",
           "technical_problems", "taking_break", "other")
LABELS = ("Skip", "Continue to cancel", "Cancel renewal", "Resume auto-renew")
FIXED = "Fixed reply."


def point_at_double() -> None:
    base = os.environ["DISCORD_API_BASE"].rstrip("/")
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://{urlsplit(base).netloc}/")


class FixedView(discord.ui.View):
    """One persistent view: every component answers with the same fixed message."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        select = discord.ui.Select(custom_id="base:reason", options=[discord.SelectOption(label=r, value=r) for r in REASONS])
        select.callback = self.answer
        self.add_item(select)
        for i, label in enumerate(LABELS):
            button = discord.ui.Button(label=label, custom_id=f"base:b{i}")
            button.callback = self.answer
            self.add_item(button)

    async def answer(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content=FIXED, view=interaction.client.shown)


class Baseline(discord.Client):
    def __init__(self, mode: str) -> None:
        super().__init__(intents=discord.Intents.default())
        self.mode = mode
        self.tree = app_commands.CommandTree(self)
        self.view = FixedView() if mode == "fixed" else None
        self.shown: discord.ui.View | None = None  # what replies carry (stopped in setup_hook)
        if mode == "fixed":
            @self.tree.command(name="cancel", description="Cancel auto-renewal")
            async def cancel(interaction: discord.Interaction) -> None:
                await interaction.response.send_message(FIXED, view=self.shown, ephemeral=True)

            @self.tree.command(name="subscription", description="Your plan, next billing date and credits")
            async def subscription(interaction: discord.Interaction) -> None:
                await interaction.response.send_message(FIXED, view=self.shown, ephemeral=True)

    async def setup_hook(self) -> None:
        if self.view is not None:
            self.add_view(self.view)  # routes every press, by custom_id
            self.shown = FixedView()  # the same components, never tracked by discord.py
            self.shown.stop()
            await self.tree.sync()


async def main(mode: str) -> int:
    point_at_double()
    client = Baseline(mode)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(client.start(os.environ["DISCORD_TOKEN"]))
    await asyncio.wait({runner, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    await client.close()
    await asyncio.gather(runner, return_exceptions=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "idle")))
