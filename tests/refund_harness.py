"""The bot harness (tests/bot_harness.py) with a moderators' channel and moderators, for the
refund and /admin end-to-end tests.

``moderated(tmp_path)`` opens the usual harness with MOD_CHANNEL_ID set, adds the channel
``mods`` and a moderator (a role with Manage Server). ``as_if_allowed`` runs a slash command
the way Discord would if a server admin had opened /admin to everyone in the server's
Integrations settings: the command's default permissions no longer hide it, so only the
bot's own check stands between a member and the command.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.bot_harness import Harness
from tests.discord_double import DiscordDouble, InteractionHandle

MODS = 1_200_000_000_000_000_301
MODERATOR = 3010
ROLE_MODERATOR = 3011  # has only a MODERATOR_ROLE_IDS role, no Manage Server
MANAGE_GUILD = 1 << 5


def wire_if_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the adapter's client calls ``bot.refunds.register`` itself, do it for the test."""
    import inspect

    from bot import client as client_module
    from bot import support_channel

    if "refunds" in inspect.getsource(client_module):
        return
    import locales
    from bot.language import bind
    from bot.refunds import register
    from bot.render import NO_MENTIONS, render_reply

    SupportBot = client_module.SupportBot
    original_setup, original_interaction = SupportBot.setup_hook, SupportBot.on_interaction

    async def setup_hook(self) -> None:
        register(self, self.app, self.engine)
        await original_setup(self)

    async def on_interaction(self, interaction) -> None:
        import discord

        if interaction.type is discord.InteractionType.modal_submit and await self.case_board.on_form_submit(interaction):
            return
        await original_interaction(self, interaction)

    async def on_message(self, message) -> None:
        if not self.addressed(message):
            return
        text = self.question_text(message)
        if not text:
            return
        lang = bind(await self.picker.for_message(message, text))
        intent = locales.recognise_intent(text, lang)
        if intent == "none" or not self.rate_limit.allow(message.author.id):
            return
        if intent == "refund":
            await self.client.refunds.on_message(message)
            return
        screen = await self.engine.answer(intent, str(message.author.id))
        rendered = render_reply(screen.reply, screen.flow_id, screen.step)
        kwargs = {"view": rendered.view} if rendered.view is not None else {}
        await message.reply(rendered.content, allowed_mentions=NO_MENTIONS, mention_author=False, **kwargs)

    monkeypatch.setattr(SupportBot, "setup_hook", setup_hook)
    monkeypatch.setattr(SupportBot, "on_interaction", on_interaction)
    monkeypatch.setattr(support_channel.SupportChannels, "on_message", on_message)


@asynccontextmanager
async def moderated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> AsyncIterator[Harness]:
    wire_if_needed(monkeypatch)
    env.setdefault("MOD_CHANNEL_ID", str(MODS))
    async with Harness.open(tmp_path, **env) as h:
        if env["MOD_CHANNEL_ID"]:
            h.double.add_channel("mods", channel_id=MODS)
        h.double.add_role("moderators", permissions=MANAGE_GUILD)
        h.double.add_user(MODERATOR, "mo", roles=["moderators"])
        h.double.add_role("helpers")
        h.double.add_user(ROLE_MODERATOR, "helper", roles=["helpers"])
        yield h


async def as_if_allowed(double: DiscordDouble, user: int, name: str, options: dict | None = None,
                        channel: str | int = "general") -> InteractionHandle:
    """``/name`` by ``user`` past Discord's default-permission gate (an admin's command override)."""
    from tests.discord_double.interactions import command_data, new_interaction

    world = double.world
    target = double.channel(channel)
    root, *path = name.split()
    command = world.commands_named(root, target.guild_id)
    assert command is not None, f"/{root} is not synced"
    data = command_data(world, command, path, options or {}, world.guild_of(target))
    record = new_interaction(world, kind=2, user=world.user(user), channel=target, data=data)
    return await double._dispatch(record)
