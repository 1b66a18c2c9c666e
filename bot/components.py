"""The dynamic items: every flow component's meaning lives in its custom_id.

Registered once with ``Client.add_dynamic_items`` in setup_hook, they route clicks on
ANY message the bot ever sent, in any process, after any restart (discord.py matches the
custom_id against the templates; nothing is remembered per message). They only turn a
click into an event for ``FlowUI`` (bot/flow_ui.py); the flow engine decides the rest.

    f:<flow id>:<step>:<action>   a flow's button or select  -> engine.handle
    m:<flow id>:<step>:<action>   a button that opens a form -> modal (submit comes back as f:)
    s:<kind>                      start a flow for whoever presses it -> engine.start
    q:<intent>:<lang>             a "Did you mean…?" or menu topic: its answer, for the
                                  presser, in the language the question was asked in

A stale step (the flow moved on, or expired) is for the engine to refuse, not for us
to guess.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from bot.flow_ui import FlowUI

_FLOW = r"(?P<flow>[0-9a-f]{32}):(?P<step>[a-z0-9_]{1,24}):(?P<action>[^:]{1,40})"
FLOW_TEMPLATE = re.compile(r"f:" + _FLOW)
FORM_TEMPLATE = re.compile(r"m:" + _FLOW)
START_TEMPLATE = re.compile(r"s:(?P<kind>[a-z_]+)")
TOPIC_TEMPLATE = re.compile(r"q:(?P<intent>[a-z_]{1,30}):(?P<lang>[a-z]{2})")


def flow_custom_id(flow_id: str, step: str, action: str) -> str:
    custom_id = f"f:{flow_id}:{step}:{action}"
    if not FLOW_TEMPLATE.fullmatch(custom_id):
        raise ValueError(f"not a routable flow component: {custom_id!r}")
    return custom_id


def form_custom_id(flow_id: str, step: str, action: str) -> str:
    custom_id = f"m:{flow_id}:{step}:{action}"
    if not FORM_TEMPLATE.fullmatch(custom_id):
        raise ValueError(f"not a routable form button: {custom_id!r}")
    return custom_id


def _ui(interaction: discord.Interaction) -> FlowUI:
    return interaction.client.flow_ui  # type: ignore[attr-defined]  # SupportBot


class FlowItem(discord.ui.DynamicItem[discord.ui.Item], template=FLOW_TEMPLATE):
    """A flow's button or select (one class for both: the custom_id says where it goes)."""

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item, match: re.Match[str], /
    ) -> Any:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        match = self.template.fullmatch(self.custom_id)
        value = (
            self.item.values[0]
            if isinstance(self.item, discord.ui.Select) and self.item.values
            else None
        )
        await _ui(interaction).on_flow_event(
            interaction, match["flow"], match["step"], match["action"], value
        )


class FormButton(discord.ui.DynamicItem[discord.ui.Button], template=FORM_TEMPLATE):
    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> Any:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        match = self.template.fullmatch(self.custom_id)
        await _ui(interaction).open_form(interaction, match["flow"], match["step"], match["action"])


class StartButton(discord.ui.DynamicItem[discord.ui.Button], template=START_TEMPLATE):
    """Starts a flow for the presser, whoever posted or asked: never someone else's account."""

    @staticmethod
    def custom_id_for(kind: str) -> str:
        custom_id = f"s:{kind}"
        if not START_TEMPLATE.fullmatch(custom_id):
            raise ValueError(f"not a flow kind: {kind!r}")
        return custom_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> Any:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        kind = self.template.fullmatch(self.custom_id)["kind"]
        await _ui(interaction).start_flow(interaction, kind)


class TopicButton(discord.ui.DynamicItem[discord.ui.Button], template=TOPIC_TEMPLATE):
    """A topic offered by "Did you mean…?" or the menu: pressing it answers that question."""

    @staticmethod
    def custom_id_for(intent: str, lang: str) -> str:
        custom_id = f"q:{intent}:{lang}"
        if not TOPIC_TEMPLATE.fullmatch(custom_id):
            raise ValueError(f"not a topic: {intent!r} in {lang!r}")
        return custom_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> Any:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        match = self.template.fullmatch(self.custom_id)
        await _ui(interaction).answer_topic(interaction, match["intent"], match["lang"])


DYNAMIC_ITEMS = (FlowItem, FormButton, StartButton, TopicButton)
