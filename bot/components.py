"""The dynamic items: every component of ours routes by its custom_id (bot/custom_ids.py).

Registered once with ``Client.add_dynamic_items`` in setup_hook, they route clicks on
ANY message the bot ever sent, in any process, after any restart (discord.py matches the
custom_id against the templates; nothing is remembered per message). ``Routed`` is what
they share: the custom_id parsed once into ``target``, the interaction's entry
(bot/dispatch.py), and one call to the handler with the parsed target. The flow items
here only turn a click into an event for ``FlowUI`` (bot/flow_ui.py); the flow engine
decides the rest. The case and Retry buttons live with their handlers (bot/cases.py,
bot/refunds.py).

A stale step (the flow moved on, or expired) is for the engine to refuse, not for us
to guess.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

import discord

import locales
from bot.custom_ids import FlowControl, FormOpener, StartFlow, Target, Topic
from bot.dispatch import enter
from bot.services import Services, services

T = TypeVar("T", bound=Target)


class Routed(Generic[T]):
    """Mixed into a ``DynamicItem`` whose template is ``record.TEMPLATE``."""

    record: ClassVar[type[Target]]
    # What a press does, given the parsed target (``self.target``): each item class defines it.
    handle: Callable[[discord.Interaction, Services], Awaitable[None]]

    def __init__(self, item: discord.ui.Item, target: T | None = None) -> None:
        super().__init__(item)  # the DynamicItem's
        self.target: T = target if target is not None else self.record.parse(self.custom_id)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item, match: re.Match[str], /
    ) -> Any:
        return cls(item, cls.record.from_match(match))

    def shown_in(self) -> str | None:
        """The language of the message pressed, when the custom_id says it."""
        return None

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await enter(interaction, self.shown_in())

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.handle(interaction, services(interaction))


class FlowItem(
    Routed[FlowControl], discord.ui.DynamicItem[discord.ui.Item], template=FlowControl.TEMPLATE
):
    """A flow's button or select (one class for both: the custom_id says where it goes)."""

    record = FlowControl

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        item = self.item
        value = item.values[0] if isinstance(item, discord.ui.Select) and item.values else None
        await parts.flow_ui.on_flow_event(interaction, self.target, value)


class FormButton(
    Routed[FormOpener], discord.ui.DynamicItem[discord.ui.Button], template=FormOpener.TEMPLATE
):
    record = FormOpener

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        await parts.flow_ui.open_form(interaction, self.target)


class StartButton(
    Routed[StartFlow], discord.ui.DynamicItem[discord.ui.Button], template=StartFlow.TEMPLATE
):
    """Starts a flow for the presser, whoever posted or asked: never someone else's account."""

    record = StartFlow

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        await parts.flow_ui.start_flow(interaction, self.target.kind)


class TopicButton(Routed[Topic], discord.ui.DynamicItem[discord.ui.Button], template=Topic.TEMPLATE):
    """A topic offered by "Did you mean…?" or the menu: pressing it answers that question."""

    record = Topic

    def shown_in(self) -> str | None:
        return self.target.lang if self.target.lang in locales.SUPPORTED else None

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        await parts.flow_ui.answer_topic(interaction, self.target)


DYNAMIC_ITEMS = (FlowItem, FormButton, StartButton, TopicButton)
