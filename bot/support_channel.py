"""Questions in chat: the support channels, a mention of the bot anywhere, or a DM.

The question model (``locales.understand``) decides:
- a clear question gets a reply to the message, in the message's language, with buttons
  that start the matching flow for whoever presses them (``s:<kind>``): the answer is
  public, the account behind any button is always the presser's own;
- an unclear one gets "Did you mean…?" with the likeliest questions as buttons (``q:``);
- anything else gets silence in a support channel; when the bot was mentioned or written
  to in a DM (it was spoken to: silence would look broken), a greeting or thanks
  (``locales.small_talk``) gets a short friendly word and anything else the menu of what
  the bot can help with. Other bots and the bot itself always get silence.
The console (bot/console.py) answers what is typed to it the same way, as a DM.
"""

from __future__ import annotations

import logging
import re

import discord

import locales
from bot.language import LanguagePicker
from bot.observe import question_decided
from bot.question_record import record_decision
from bot.render import NO_MENTIONS, render_reply
from bot.services import services
from flows.limits import StartLimit

log = logging.getLogger(__name__)


class RateLimit(StartLimit):
    """At most ``limit`` answers per user per ``window`` seconds (the same sliding window as
    flow starts).

    Counted in this process's memory on purpose: it only keeps the bot from flooding a
    channel, so a restart forgetting it, or each shard counting its own, is harmless.
    Nothing that decides what happens to an account lives here.
    """

    def __init__(self, limit: int = 3, window: float = 60.0) -> None:
        super().__init__(limit, window)


class SupportChannels:
    def __init__(
        self,
        client: discord.Client,
        engine,
        picker: LanguagePicker,
        channel_ids: tuple[int, ...],
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.picker = picker
        self.channel_ids = frozenset(channel_ids)
        self.rate_limit = rate_limit or RateLimit()

    def addressed(self, message: discord.Message) -> bool:
        """Is this message for us: a support channel, a mention of the bot, or a DM?"""
        me = self.client.user
        if message.author.bot or me is None or message.author.id == me.id:
            return False
        if message.guild is None:
            return True
        if message.channel.id in self.channel_ids:
            return True
        # Only a direct mention: @everyone and replies to the bot are not questions for it.
        return any(user.id == me.id for user in message.mentions)

    def spoken_to(self, message: discord.Message) -> bool:
        """A DM or a mention, as opposed to a message that merely is in a support channel."""
        me = self.client.user
        if message.guild is None:
            return True
        return me is not None and any(user.id == me.id for user in message.mentions)

    def question_text(self, message: discord.Message) -> str:
        me = self.client.user
        return re.sub(rf"<@!?{me.id}>", " ", message.content).strip() if me else message.content

    async def on_message(self, message: discord.Message) -> None:
        if not self.addressed(message):
            return
        text = self.question_text(message)
        if not text and not self.spoken_to(message):
            return
        try:
            lang = await self.picker.bind_message(message, text)
            decision = locales.understand(text, lang)
            question_decided(lang, decision.kind, self.spoken_to(message))
            await record_decision(self.engine.core, decision, lang, spoken_to=self.spoken_to(message))
            if decision.kind == "none" and not self.spoken_to(message):
                return
            if not self.rate_limit.allow(message.author.id):
                return
            intent = decision.intents[0] if decision.kind == "answer" else "none"
            if intent == "refund":  # refunds go to DMs (bot/refunds.py)
                await services(self.client).refunds.on_message(message)
                return
            # In a server the answer is public: the rule only, no account facts; each
            # presser of its buttons sees their own, ephemerally. A DM may be personal.
            personal = message.guild is None
            owner = str(message.author.id)
            talk = locales.small_talk(text) if decision.kind == "none" else None
            if decision.kind == "ask":
                screen = self.engine.did_you_mean(decision.intents, owner)
            elif talk:
                screen = self.engine.small_talk(talk, owner)
            else:  # an answer, or the menu ("none") when spoken to
                screen = await self.engine.answer(intent, owner, personal=personal)
            rendered = render_reply(screen.reply, screen.flow_id, screen.step)
            kwargs = {"view": rendered.view} if rendered.view is not None else {}
            await message.reply(
                rendered.content, allowed_mentions=NO_MENTIONS, mention_author=False, **kwargs
            )
        except Exception:
            # A chat answer is a courtesy: a failure is logged, and the user can still use /commands.
            log.exception(
                "answering message %s in channel %s failed", message.id, message.channel.id
            )
