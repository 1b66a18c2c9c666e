"""Command names and descriptions in Discord's client languages, from our own catalogs.

discord.py asks the translator for every locale Discord has at ``tree.sync()``. We
answer for the languages we translate and Discord knows (Discord has no Persian or
Arabic locale, so those users see English commands and get replies in their language
through detection). Anything we cannot translate, or a translation Discord would reject
(a name must be one lowercase word), gives None: Discord then shows the English text,
instead of refusing the whole sync.
"""

from __future__ import annotations

import re

import discord
from discord.app_commands import (
    TranslationContextLocation,
    TranslationContextTypes,
    Translator,
    locale_str,
)

import locales
from flows.replies import Msg

NAME_LOCATIONS = {
    TranslationContextLocation.command_name,
    TranslationContextLocation.group_name,
    TranslationContextLocation.parameter_name,
}
# Discord's rule for chat command and option names (letters and digits of any script).
VALID_NAME = re.compile(r"^[-_'\w]{1,32}$")
DESCRIPTION_MAX = 100


def command_text(msg: Msg) -> locale_str:
    """A command's name, description or option text: its msgid, translated at sync time."""
    return locale_str(msg.msgid)


class CatalogTranslator(Translator):
    async def translate(
        self, string: locale_str, locale: discord.Locale, context: TranslationContextTypes
    ) -> str | None:
        lang = locales.from_discord_locale(locale)
        if lang is None or lang == "en" or lang in locales.RTL:
            return None
        translated = locales.render(Msg(string.message), lang)
        if translated == string.message:
            return None  # not in the catalog (yet): the English text stands
        if context.location in NAME_LOCATIONS:
            translated = translated.strip().lower()
            return (
                translated if VALID_NAME.fullmatch(translated) and " " not in translated else None
            )
        return translated if 1 <= len(translated) <= DESCRIPTION_MAX else None
