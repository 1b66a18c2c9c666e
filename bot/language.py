"""The reply language, chosen once per Discord event at the edge and bound for it.

The order is docs/languages.md's ("Choosing the reply language"), implemented by
``locales.choose_language``; this module only gathers its inputs from Discord (client and
server locale) and from the user's stored preferences (saved choice, recent language),
and binds the result. Each event
binds once, where it enters: an interaction in bot/dispatch.py, a chat message in
bot/support_channel.py, a DM the bot owes in bot/delivery.py.
"""

from __future__ import annotations

import asyncio
import logging

import discord

import locales
from core.service import SubscriptionCore

log = logging.getLogger(__name__)

# Seconds the stored preferences may take before Discord's locales decide alone: the
# interaction's answer is due within 3 s of its arrival, language read or not.
LANGUAGE_WAIT = 1.0
# Seconds this process may answer from its copy of a user's preferences (core/preferences.py)
# instead of reading them on every interaction; a choice made through another process
# shows here within this time, one made here at once.
PREFERENCES_TTL = 5.0


class LanguagePicker:
    def __init__(self, core: SubscriptionCore, default: str) -> None:
        self.core = core
        self.default = default
        core.users.ttl = PREFERENCES_TTL  # the one picker of the process: its reads are the hot ones

    def from_discord(self, interaction: discord.Interaction) -> str:
        """What Discord says alone (client, then server locale): no database read."""
        return locales.choose_language(
            None,
            discord_locale=interaction.locale,
            guild_locale=interaction.guild_locale,
            default=self.default,
        )

    async def for_interaction(
        self, interaction: discord.Interaction, shown_in: str | None = None
    ) -> str:
        """``shown_in``: the language of the message whose button was pressed, when its
        custom_id carries one ("Did you mean…?" topics); it goes before the recent language,
        so the answer comes in the language the question was asked in."""
        prefs = await self.core.users.get(str(interaction.user.id))
        return locales.choose_language(
            None,
            saved=prefs.language,
            recent=shown_in or prefs.recent_language,
            discord_locale=interaction.locale,
            guild_locale=interaction.guild_locale,
            default=self.default,
        )

    async def for_message(self, message: discord.Message, text: str) -> str:
        """The language of a chat message; a confident detection is remembered for the user's
        later button presses and DMs (which carry no text to detect)."""
        user_id = str(message.author.id)
        prefs = await self.core.users.get(user_id)
        detection = locales.detect_language(text)
        if detection.lang and detection.confident and detection.lang != prefs.recent_language:
            await self.core.users.remember_language(user_id, detection.lang)
        guild_locale = message.guild.preferred_locale if message.guild else None
        return locales.choose_language(
            text,
            saved=prefs.language,
            recent=prefs.recent_language,
            guild_locale=guild_locale,
            default=self.default,
        )

    async def for_user(self, user_id: str) -> str:
        """For a DM the bot starts itself (a reminder): no message, no client locale."""
        prefs = await self.core.users.get(user_id)
        return locales.choose_language(
            None, saved=prefs.language, recent=prefs.recent_language, default=self.default
        )

    # -- binding -----------------------------------------------------------------------------

    async def bind_interaction(
        self, interaction: discord.Interaction, shown_in: str | None = None
    ) -> str:
        """Bind the language of this interaction. Never raises: when the preferences are slow
        or unreadable, Discord's locales decide, and the handler still answers in time."""
        try:
            async with asyncio.timeout(LANGUAGE_WAIT):
                lang = await self.for_interaction(interaction, shown_in)
        except Exception as exc:  # noqa: BLE001  # a timeout, a busy or broken database
            log.warning("interaction %s: language from Discord's locales only (%r)",
                        interaction.id, exc)
            lang = self.from_discord(interaction)
        return bind(lang)

    async def bind_message(self, message: discord.Message, text: str) -> str:
        return bind(await self.for_message(message, text))

    async def bind_user(self, user_id: str) -> str:
        return bind(await self.for_user(user_id))


def bind(lang: str) -> str:
    """Bind ``lang`` for the rest of this event. discord.py runs every event, command and
    component callback in its own task, and a task works on a copy of the context, so the
    binding ends with the event without a reset."""
    locales.bind_language(lang)
    return lang

