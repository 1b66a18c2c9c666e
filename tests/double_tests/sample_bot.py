"""The bot under test: slash commands, a View with a button, a DynamicItem button, a select
and a modal, a prefix command echoing with mentions off.

It runs in the test's event loop, or as a separate process (``python -m
tests.double_tests.sample_bot`` with DISCORD_API_BASE and DISCORD_TOKEN set) for the
restart test.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_endpoint import apply_api_base
from tests.discord_double import DiscordDouble, Message

ROOT = Path(__file__).resolve().parents[2]
APP_ID = 1_150_000_000_000_000_001
GUILD_ID = 1_150_000_000_000_000_000  # shard (GUILD_ID >> 22) % 2 == 0
GUILD_B = GUILD_ID + (1 << 22)  # lands on the other shard of two
ALICE, BOB = 2001, 2002


class TicketButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ticket:(?P<id>[0-9]+)"):
    """Survives restarts: any process that registered it handles ``ticket:<n>`` clicks."""

    def __init__(self, ticket_id: int) -> None:
        super().__init__(discord.ui.Button(label="Open ticket", custom_id=f"ticket:{ticket_id}"))
        self.ticket_id = ticket_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"ticket {self.ticket_id} opened by pid {os.getpid()}", ephemeral=True
        )


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your feedback", custom_id="feedback:text", max_length=200)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}")


class MenuView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(TicketButton(42))

    @discord.ui.button(label="Ping", custom_id="menu:ping")
    async def ping(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="pong", view=None)

    @discord.ui.button(label="Feedback", custom_id="menu:feedback")
    async def feedback(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @discord.ui.select(
        custom_id="menu:plan",
        options=[
            discord.SelectOption(label="Basic", value="basic"),
            discord.SelectOption(label="Pro", value="pro"),
        ],
    )
    async def plan(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"plan={select.values[0]}", ephemeral=True)


class FrenchTranslator(app_commands.Translator):
    async def translate(self, string, locale, context):
        if locale is discord.Locale.french:
            return {
                "cancel": "annuler",
                "Cancel your subscription": "Résilier votre abonnement",
            }.get(string.message)
        return None


def make_bot(**options) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05, **options)

    @bot.tree.command(
        name=app_commands.locale_str("cancel"),
        description=app_commands.locale_str("Cancel your subscription"),
    )
    async def cancel(interaction: discord.Interaction, reason: str) -> None:
        await interaction.response.send_message(
            f"cancel locale={interaction.locale.value} reason={reason} shard={interaction.client.shard_id}"
        )

    @bot.tree.command(description="Show the menu")
    async def menu(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Pick one", view=MenuView())

    @bot.tree.command(description="Think, then answer")
    @app_commands.guilds(GUILD_ID)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await asyncio.sleep(0.05)
        await interaction.followup.send("done slowly")

    @bot.tree.command(description="Send me a DM")
    async def dm(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        try:
            await interaction.user.send("hello in DM")
        except discord.Forbidden as exc:
            await interaction.followup.send(f"dm failed {exc.code}")
        else:
            await interaction.followup.send("dm sent")

    @bot.tree.command(description="Staff only")
    @app_commands.default_permissions(manage_guild=True)
    async def audit(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("audit ok", ephemeral=True)

    @bot.command()
    async def echo(ctx: commands.Context, *, text: str) -> None:
        await ctx.send(text, allowed_mentions=discord.AllowedMentions.none())

    async def setup_hook() -> None:
        bot.add_dynamic_items(TicketButton)
        await bot.tree.set_translator(FrenchTranslator())
        await bot.tree.sync()
        await bot.tree.sync(guild=discord.Object(GUILD_ID))

    bot.setup_hook = setup_hook
    return bot


def _run_bot_process() -> None:
    """Entry point for the separate-process tests: the bot as production would start it."""
    apply_api_base(os.environ["DISCORD_API_BASE"])
    log_path = os.environ.get("BOT_LOG")
    handler = logging.FileHandler(log_path) if log_path else None
    make_bot().run(os.environ["DISCORD_TOKEN"], log_handler=handler)


async def start_double(**options) -> DiscordDouble:
    double = await DiscordDouble.start(
        app_id=APP_ID, guild_id=GUILD_ID, channels=["general", "support"], **options
    )
    double.add_role("pro")
    double.add_user(ALICE, "alice", roles=["customer"])
    double.add_user(BOB, "bob", dms_open=False)
    return double


async def menu_message(double: DiscordDouble) -> Message:
    reply = await (await double.slash(ALICE, "menu")).response()
    assert isinstance(reply, Message)
    return reply


if __name__ == "__main__":
    _run_bot_process()
