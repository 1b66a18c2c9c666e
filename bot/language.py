"""The reply language, chosen once per Discord event at the edge and bound for it.

The order is SPEC section 4's, implemented by ``locales.choose_language``; this module
only gathers its inputs from Discord (client and server locale) and from the user's
stored preferences (saved choice, recent language).
"""

from __future__ import annotations

import discord

import locales
from core.service import SubscriptionCore


class LanguagePicker:
    def __init__(self, core: SubscriptionCore, default: str) -> None:
        self.core = core
        self.default = default

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


def bind(lang: str) -> str:
    """Bind ``lang`` for the rest of this event. discord.py runs every event, command and
    component callback in its own task, and a task works on a copy of the context, so the
    binding ends with the event without a reset."""
    locales.bind_language(lang)
    return lang
