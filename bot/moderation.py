"""What the moderators' tools share: who counts as a moderator, the mod-log, and plain sends.

A moderator is a member with Manage Server (or Administrator), or with one of
MODERATOR_ROLE_IDS. Discord's own gate (the /admin group's default permissions) hides
the commands from everyone else, but a server admin may open them to other roles in
the server's Integrations settings, and a case's buttons sit in a channel others may
see: so every moderator action checks again, at run time, before anything runs.

The mod-log is MOD_CHANNEL_ID. Its lines are rendered in DEFAULT_LOCALE (the team's
language), and like every message of the bot they go out with mentions off: a user
named in a line is shown, never pinged, and text a user typed stays plain text.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

import locales
from bot.render import CONTENT_MAX, NO_MENTIONS, Rendered, cut
from bot.respond import send_new
from flows.replies import M, Msg

log = logging.getLogger(__name__)

NOT_A_MODERATOR = M("Only moderators can do this. Nothing was done.")
CLOSED_DMS = 50007  # Discord: Cannot send messages to this user


def is_moderator(interaction: discord.Interaction, moderator_role_ids: tuple[int, ...]) -> bool:
    """Manage Server, Administrator, or a moderator role, in the server the interaction came from."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        return False
    permissions = (
        interaction.permissions
    )  # the member's own, as Discord computed them for this interaction
    if permissions.manage_guild or permissions.administrator:
        return True
    member = interaction.user
    # The ids Discord sent with the member; member.roles alone would drop roles missing from the cache.
    role_ids = {role.id for role in member.roles} | set(getattr(member, "_roles", ()))
    return any(role_id in role_ids for role_id in moderator_role_ids)


def mention(user_id: int | str | None) -> str:
    """A user shown by name in Discord; allowed mentions are off, so it never pings."""
    return f"<@{int(user_id)}>" if user_id and str(user_id).isdigit() else "-"


def plain(text: str | None, limit: int = 600) -> str:
    """Text a user typed, shown verbatim on one line: no markdown, no line breaks, bounded."""
    flat = " ".join((text or "").split())
    return cut(discord.utils.escape_markdown(flat), limit)


def render_lines(lines: list[Msg] | tuple[Msg, ...], lang: str | None = None) -> str:
    return cut("\n".join(locales.render(line, lang) for line in lines), CONTENT_MAX)


class ModChannel:
    """MOD_CHANNEL_ID: refund and help cases, and the log of every moderator action."""

    def __init__(
        self,
        client: discord.Client,
        channel_id: int | None,
        lang: str,
        owe: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.channel_id = channel_id
        self.lang = lang
        self.owe = owe  # records a line the delivery loop posts (bot/refunds.py wires it)

    @property
    def configured(self) -> bool:
        return self.channel_id is not None

    def text(self, lines: list[Msg] | tuple[Msg, ...]) -> str:
        return render_lines(lines, self.lang)

    async def post(
        self, content: str, view: discord.ui.View | None = None
    ) -> discord.Message | None:
        """Post to the mod channel; None (logged) when there is none or Discord refuses."""
        if self.channel_id is None:
            return None
        try:
            channel = self.client.get_channel(self.channel_id) or await self.client.fetch_channel(
                self.channel_id
            )
            kwargs = {"view": view} if view is not None else {}
            return await channel.send(content, allowed_mentions=NO_MENTIONS, **kwargs)
        except discord.HTTPException:
            log.exception("could not post to the mod channel %s", self.channel_id)
            return None

    async def log(self, *lines: Msg) -> bool:
        """One entry of the mod-log: owed (core/outbox.py) and posted by the delivery loop,
        retried while Discord fails; False when there is no mod channel."""
        if self.channel_id is None:
            return False
        if self.owe is None:
            return await self.post(self.text(lines)) is not None
        await self.owe(self.text(lines))
        return True


async def send_dm(
    client: discord.Client, user_id: int, rendered: Rendered
) -> discord.Message | None:
    """A DM from the bot; None when the user does not take DMs from us (code 50007, logged)."""
    try:
        channel = await client.create_dm(discord.Object(user_id))
        kwargs = {"view": rendered.view} if rendered.view is not None else {}
        return await channel.send(rendered.content, allowed_mentions=NO_MENTIONS, **kwargs)
    except discord.Forbidden as exc:
        log.info("DM to user %s not delivered (Discord code %s)", user_id, exc.code)
        return None


async def answer(
    interaction: discord.Interaction,
    content: str,
    *,
    view: discord.ui.View | None = None,
    ephemeral: bool = True,
) -> None:
    """The interaction's answer, or a follow-up when it was already acknowledged (deferred)."""
    await send_new(interaction, Rendered(content, view), ephemeral=ephemeral)
