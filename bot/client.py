"""The Discord client: wires the App's core and the flow engine to Discord events.

Gateway intents are the fewest that do the job (see ``intents_for``); no member cache
and no member chunking, as the bot never needs a member list: interactions and
messages carry the user who acted.
"""

from __future__ import annotations

import asyncio
import gc
import logging

import discord

import locales
from bot import privacy, refunds
from bot.commands import build_commands
from bot.components import DYNAMIC_ITEMS
from bot.delivery import BACKOFF, PROBE_EVERY, Delivery
from bot.delivery import DEFAULT_INTERVAL as DELIVERY_INTERVAL
from bot.dispatch import SupportTree, form_submitted, unknown_component
from bot.flow_ui import FlowUI
from bot.language import LanguagePicker
from bot.ops_endpoint import OpsEndpoint
from bot.reminders import DEFAULT_INTERVAL, Reminders
from bot.render import NO_MENTIONS
from bot.services import Services
from bot.support_channel import SupportChannels
from bot.translator import CatalogTranslator

log = logging.getLogger(__name__)

INTERACTIVE_LOCK_WAIT_MS = 700

# Every component the bot sends is one of these dynamic items (bot/components.py, bot/refunds.py,
# bot/cases.py); their templates say which custom_ids are ours.
COMPONENT_TEMPLATES = tuple(
    item.__discord_ui_compiled_template__
    for item in (*DYNAMIC_ITEMS, *refunds.DYNAMIC_ITEMS, *privacy.DYNAMIC_ITEMS)
)


def routable(interaction: discord.Interaction) -> bool:
    """Will a dynamic item take this component interaction? discord.py hands one to an item
    only when the custom_id fits its template and is on the message that was pressed; any
    other press it drops without a word, and Discord then says "This interaction failed"."""
    custom_id = (interaction.data or {}).get("custom_id", "")
    if not any(template.fullmatch(custom_id) for template in COMPONENT_TEMPLATES):
        return False
    message = interaction.message
    return message is None or custom_id in _custom_ids(message.components)


def _custom_ids(components) -> set[str]:
    found: set[str] = set()
    for component in components:
        if getattr(component, "custom_id", None):
            found.add(component.custom_id)
        found |= _custom_ids(getattr(component, "children", ()))
    return found


def intents_for(settings) -> discord.Intents:
    """Guilds always (channels, the server's locale, commands in servers).

    Guild and DM messages always, so a mention of the bot or a DM reaches it; Discord
    sends their text without the privileged Message Content intent. That intent is
    asked for only when SUPPORT_CHANNEL_IDS are set, because answering unprompted in a
    support channel means reading messages that do not mention the bot.
    """
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = bool(settings.support_channel_ids)
    return intents


class SupportBot(discord.AutoShardedClient):
    """One process: all shards (the default), or SHARD_IDS of SHARD_COUNT."""

    def __init__(
        self,
        app,
        engine,
        *,
        reminder_interval: float = DEFAULT_INTERVAL,
        delivery_interval: float = DELIVERY_INTERVAL,
        delivery_backoff: tuple[float, ...] = BACKOFF,
        delivery_probe_every: float = PROBE_EVERY,
        **options,
    ) -> None:
        settings = app.settings
        self.ops = OpsEndpoint(app, engine)  # this process's metrics; /healthz and /metrics on METRICS_ADDR
        super().__init__(
            intents=intents_for(settings),
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            allowed_mentions=NO_MENTIONS,  # the default for every send and edit
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) or None,
            http_trace=self.ops.http_trace,  # counts Discord's HTTP errors
            **options,
        )
        self.app = app
        self.engine = engine
        self._frozen = False  # gc.freeze() done (on_ready)
        if hasattr(app.db, "busy_timeout_ms"):
            # A press may wait for another writer (SQLite) only so long: Discord wants a first
            # answer within 3 s (a defer at 2 s), and the user then gets "I'm very busy" within
            # about 5 s (5 waits and short pauses) instead of about 26 s (the CLI's patience).
            app.db.busy_timeout_ms = min(app.db.busy_timeout_ms, INTERACTIVE_LOCK_WAIT_MS)
        picker = LanguagePicker(app.core, settings.default_locale)  # the only one
        self.delivery = Delivery(
            self, app, engine, picker, delivery_interval, delivery_backoff, delivery_probe_every
        )
        flow_ui = FlowUI(
            engine, on_owed=self.delivery.poke, after_command=self.delivery.tell_undelivered
        )
        self.support = SupportChannels(self, engine, picker, settings.support_channel_ids)
        self.reminders = Reminders(self, app, reminder_interval, on_owed=self.delivery.poke,
                                   purge=engine.purge_expired)
        self.tree = SupportTree(self)  # every command enters through bot/dispatch.py
        for command in build_commands():
            self.tree.add_command(command)
        # Refund requests, the moderators' case queue and /admin (bot/refunds.py, bot/admin.py).
        desk = refunds.register(self, app, engine, picker)
        self.services = Services(app, picker, flow_ui, desk, desk.board)
        privacy.register(self)  # /privacy and /admin forget (bot/privacy.py)

    async def setup_hook(self) -> None:
        await self.ops.start(self)  # first: an address in use stops the bot before it connects
        # The question model is loaded before the first message, off the event loop: a
        # first question should not wait for it, and memory at rest should include it.
        await asyncio.to_thread(locales.question_model)
        self.add_dynamic_items(*DYNAMIC_ITEMS, *refunds.DYNAMIC_ITEMS, *privacy.DYNAMIC_ITEMS)
        await self.tree.set_translator(CatalogTranslator())
        shard_ids = self.app.settings.shard_ids
        if not shard_ids or 0 in shard_ids:  # one process syncs the commands for all of them
            await self.sync_commands()
        self.reminders.start()
        self.delivery.start()  # also sends what was owed while no bot was running

    async def on_ready(self) -> None:
        # What start-up built (modules, catalogs, the question model) lives as long as the
        # process: frozen out of the collector, each collection no longer walks it. Once:
        # on_ready comes again after each reconnect.
        if not self._frozen:
            self._frozen = True
            gc.freeze()

    async def sync_commands(self) -> None:
        """GUILD_IDS (development): the commands appear in those servers at once.
        Otherwise global commands, which Discord rolls out to every server."""
        guild_ids = self.app.settings.guild_ids
        if not guild_ids:
            await self.tree.sync()
            return
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        await self.support.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Commands and components are dispatched by discord.py; modal submissions come
        # here, because our modals are never kept in memory (bot/render.build_modal).
        # A component that no dynamic item recognises would otherwise end in Discord's
        # "This interaction failed".
        if interaction.type is discord.InteractionType.component and not routable(interaction):
            await unknown_component(interaction)
        elif interaction.type is discord.InteractionType.modal_submit:
            await form_submitted(interaction)

    async def close(self) -> None:
        await self.reminders.stop()
        await self.delivery.stop()  # a message cut off here is still owed: sent after the restart
        await super().close()
        await self.ops.stop()
