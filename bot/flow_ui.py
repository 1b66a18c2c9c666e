"""Interactions in, flow events out, screens back as Discord messages.

Every path is the same (the reply language is already bound, bot/dispatch.py): ask the
engine (or produce an answer), then show the screen: a notice goes to the presser alone,
a flow step replaces the message that was pressed, a newly started flow is a new message
(ephemeral in a server: account details are nobody else's business). Flows always run
for the user who acted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import discord

import locales
from bot.custom_ids import FlowControl, FormOpener, Topic
from bot.deadline import MODAL_WITHIN, time_left
from bot.messages import BUSY, PRESS_AGAIN, SOMETHING_WRONG
from bot.render import build_modal, render_reply, submitted_fields, text
from bot.respond import edit_pressed, in_guild, in_time, send_new, send_notice
from bot.services import services
from flows.answers import TOPICS
from flows.engine import KINDS, FlowEngine, Screen
from flows.texts import unknown_button
from storage.errors import StorageError

log = logging.getLogger(__name__)


async def _ready(screen: Screen) -> Screen:
    return screen


class FlowUI:
    def __init__(self, engine: FlowEngine, on_owed: Callable[[], None] = lambda: None,
                 after_command: Callable[[discord.Interaction], Awaitable[None]] | None = None) -> None:
        self.engine = engine
        self.on_owed = on_owed  # a receipt DM was owed: the delivery loop sends it now
        # After answering a command: what could not reach the user by DM (bot/delivery.py).
        self.after_command = after_command

    # -- entry points (commands, dynamic items, modal submits) ------------------------

    async def start_flow(self, interaction: discord.Interaction, kind: str) -> None:
        """A slash command or an ``s:`` button: a new flow for the one who acted."""
        if kind not in KINDS:  # a forged or outdated s: button
            await self.unknown_button(interaction)
            return
        await self.run(interaction, lambda actor: self.engine.start(kind, actor), new_message=True)

    async def answer_topic(self, interaction: discord.Interaction, topic: Topic) -> None:
        """A topic pressed under "Did you mean…?" or the menu: that question's answer, for the
        presser (with their own account, privately), in the language it was asked in (the
        entry bound it from the custom_id)."""
        if topic.intent == "refund":  # refunds are asked for in DMs, as /refund does
            await services(interaction).refunds.on_command(interaction)
            return
        if topic.intent not in TOPICS or topic.lang not in locales.SUPPORTED:  # forged or outdated
            await self.unknown_button(interaction)
            return
        await self.run(
            interaction,
            lambda actor: self.engine.answer(topic.intent, actor, personal=True),
            new_message=True,
        )

    async def unknown_button(self, interaction: discord.Interaction) -> None:
        """A component no handler recognises gets a word instead of Discord's "This
        interaction failed"; nothing runs."""
        screen = Screen(None, "unknown", "unknown", unknown_button(), str(interaction.user.id), notice=True)
        await self.run(interaction, lambda actor: _ready(screen), new_message=True)

    async def on_flow_event(
        self, interaction: discord.Interaction, target: FlowControl, value: str | None
    ) -> None:
        await self.run(
            interaction,
            lambda actor: self.engine.handle(
                target.flow_id, target.step, actor, target.action,
                value=value, receipt_by_dm=in_guild(interaction),
            ),
            new_message=False,
        )

    async def on_form_submit(self, interaction: discord.Interaction, target: FlowControl) -> None:
        """A submitted flow form (modal)."""
        fields = submitted_fields(interaction.data or {})
        await self.run(
            interaction,
            lambda actor: self.engine.handle(
                target.flow_id, target.step, actor, target.action,
                fields=fields, receipt_by_dm=in_guild(interaction),
            ),
            new_message=interaction.message is None,
        )

    async def open_form(self, interaction: discord.Interaction, target: FormOpener) -> None:
        """Open the step's form. A modal must be the first answer to the press, so this
        cannot defer: when the read is slow the user is asked to press again."""
        actor = str(interaction.user.id)
        try:
            screen = await asyncio.wait_for(
                self.engine.current(target.flow_id, target.step, actor), time_left(MODAL_WITHIN)
            )
        except TimeoutError:
            await send_notice(interaction, text(PRESS_AGAIN))
            return
        except Exception:
            log.exception("opening the form of flow %s step %s failed", target.flow_id, target.step)
            await self._apologise(interaction)
            return
        form = screen.reply.form
        if not screen.notice and form is not None and form.action == target.action and screen.flow_id:
            await interaction.response.send_modal(build_modal(form, screen.flow_id, screen.step))
        else:
            await self.show(interaction, screen, new_message=False)

    # -- the one path ---------------------------------------------------------------------

    async def run(
        self,
        interaction: discord.Interaction,
        produce: Callable[[str], Awaitable[Screen]],
        *,
        new_message: bool,
    ) -> None:
        """Produce a screen for the acting user in time, then show it."""
        actor = str(interaction.user.id)
        try:
            screen = await in_time(interaction, produce(actor), thinking=new_message)
            await self.show(interaction, screen, new_message=new_message)
            if new_message and self.after_command is not None:
                await self._after_command(interaction)
        except StorageError as exc:
            # The database is busy (bounded retries already done) or read-only: a plain word, no traceback.
            log.warning("interaction %s: storage refused: %s", interaction.id, exc)
            await self._apologise(interaction, BUSY if "busy" in str(exc) else SOMETHING_WRONG)
        except Exception:
            log.exception(
                "interaction %s (%s) failed",
                interaction.id,
                interaction.data and interaction.data.get("custom_id"),
            )
            await self._apologise(interaction)

    async def _after_command(self, interaction: discord.Interaction) -> None:
        # The user has their answer already: a failure here is logged, never shown as theirs.
        try:
            await self.after_command(interaction)
        except Exception:
            log.exception("after interaction %s: telling the user what their DMs missed failed",
                          interaction.id)

    async def show(
        self, interaction: discord.Interaction, screen: Screen, *, new_message: bool
    ) -> None:
        rendered = render_reply(screen.reply, screen.flow_id, screen.step)
        if screen.owed or (screen.reply.final and not screen.notice):
            # The turn may have owed something with its change (a receipt DM, a case for the
            # moderators: core/outbox.py); the delivery loop sends it now rather than later.
            self.on_owed()
        if screen.notice:
            await send_new(interaction, rendered, ephemeral=True)
        elif new_message:
            await send_new(interaction, rendered, ephemeral=in_guild(interaction))
        else:
            await edit_pressed(interaction, rendered)

    async def _apologise(self, interaction: discord.Interaction, msg=SOMETHING_WRONG) -> None:
        try:
            await send_notice(interaction, text(msg))
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            log.warning(
                "could not tell the user about the failure of interaction %s", interaction.id
            )
