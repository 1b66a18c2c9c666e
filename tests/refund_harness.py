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

from tests.bot_harness import Harness, mentions_off_everywhere
from tests.discord_double import DiscordDouble, InteractionHandle

MODS = 1_200_000_000_000_000_301
MODERATOR = 3010
ROLE_MODERATOR = 3011  # has only a MODERATOR_ROLE_IDS role, no Manage Server
MANAGE_GUILD = 1 << 5


@asynccontextmanager
async def moderated(tmp_path: Path, **env: str) -> AsyncIterator[Harness]:
    env.setdefault("MOD_CHANNEL_ID", str(MODS))
    async with Harness.open(tmp_path, **env) as h:
        if env["MOD_CHANNEL_ID"]:
            h.double.add_channel("mods", channel_id=MODS)
        h.double.add_role("moderators", permissions=MANAGE_GUILD)
        h.double.add_user(MODERATOR, "mo", roles=["moderators"])
        h.double.add_role("helpers")
        h.double.add_user(ROLE_MODERATOR, "helper", roles=["helpers"])
        yield h


@asynccontextmanager
async def checked(tmp_path: Path) -> AsyncIterator[Harness]:
    """``moderated``, and afterwards: no message the bot sent could ping anyone, and the
    double met no request it does not know."""
    async with moderated(tmp_path) as h:
        yield h
        assert mentions_off_everywhere(h.double) == []
        assert h.double.unhandled_requests == []


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
