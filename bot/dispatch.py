"""Where an interaction enters the bot: its reply language is bound here, once, before any
handler runs.

discord.py runs each command, each dynamic item and each ``on_interaction`` in a task of
its own, and a language bound in one task is not seen by another; so the entry is where
each of those tasks starts: ``SupportTree.interaction_check`` (every command),
``Routed.interaction_check`` (every component of ours, bot/components.py), and
``unknown_component`` / ``form_submitted`` (what ``SupportBot.on_interaction`` gets).
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.custom_ids import CaseAction, FlowControl, parse_modal
from bot.deadline import mark_arrival
from bot.services import services


async def enter(interaction: discord.Interaction, shown_in: str | None = None) -> bool:
    """Start the interaction's clock and bind its reply language; always lets it through."""
    mark_arrival()
    await services(interaction).picker.bind_interaction(interaction, shown_in)
    return True


class SupportTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await enter(interaction)


async def unknown_component(interaction: discord.Interaction) -> None:
    """A component no dynamic item takes: a word instead of "This interaction failed"."""
    await enter(interaction)
    await services(interaction).flow_ui.unknown_button(interaction)


async def form_submitted(interaction: discord.Interaction) -> None:
    """A submitted modal: a flow's form or a case's reason form (they are never kept in
    memory, so each comes here); any other modal is not ours."""
    target = parse_modal((interaction.data or {}).get("custom_id", ""))
    if isinstance(target, FlowControl):
        await enter(interaction)
        await services(interaction).flow_ui.on_form_submit(interaction, target)
    elif isinstance(target, CaseAction):
        await enter(interaction)
        await services(interaction).case_board.on_form_submit(interaction, target)
