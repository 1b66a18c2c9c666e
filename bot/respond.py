"""Answering an interaction in time, whatever the core's speed.

Discord drops an interaction that gets no answer within 3 seconds. The work (a flow
step, a core read on a busy database) races a short timer; when the timer wins, the
interaction is acknowledged with a defer and the answer follows through the
interaction webhook. Fast work answers in one callback, as users see it best.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

import discord

from bot.deadline import time_left
from bot.observe import counted
from bot.render import NO_MENTIONS, Rendered

log = logging.getLogger(__name__)
T = TypeVar("T")

# Discord allows 3 s for the first answer; leave room for the defer's own round trip.
DEFER_AFTER = 2.0


def in_guild(interaction: discord.Interaction) -> bool:
    return interaction.guild_id is not None


async def in_time(interaction: discord.Interaction, work: Awaitable[T], *, thinking: bool) -> T:
    """Await ``work``, deferring the interaction first if it is not done DEFER_AFTER
    seconds after the interaction arrived.

    ``thinking`` for answers that will be a new message (commands, start buttons): the
    user sees "thinking…", ephemeral in a server. Without it, a component's message is
    left as is until the answer edits it or an ephemeral notice follows.
    """
    work = counted(interaction, work)  # every interaction's work passes here: its time and outcome (bot/metrics.py)
    # A timer rather than a task racing a timeout: most work finishes well inside the
    # limit, and then this costs one timer handle, not two tasks.
    loop = asyncio.get_running_loop()
    deferring: list[asyncio.Task] = []

    def defer() -> None:
        if not deferring and not interaction.response.is_done():
            deferring.append(loop.create_task(interaction.response.defer(
                thinking=thinking, ephemeral=thinking and in_guild(interaction))))

    delay = time_left(DEFER_AFTER)
    if delay <= 0:  # told to acknowledge every interaction first, or already late
        defer()
    timer = loop.call_later(max(delay, 0), defer)
    try:
        result = await work
    except BaseException:
        timer.cancel()
        if deferring:  # the answer to the failure follows the defer, never races it
            await asyncio.gather(*deferring, return_exceptions=True)
        raise
    timer.cancel()
    if deferring:
        await deferring[0]  # the answer goes through the webhook once Discord has the defer
    return result


async def send_new(
    interaction: discord.Interaction, rendered: Rendered, *, ephemeral: bool
) -> None:
    kwargs = {"view": rendered.view} if rendered.view is not None else {}
    if interaction.response.is_done():
        await interaction.followup.send(
            rendered.content, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, **kwargs
        )
    else:
        await interaction.response.send_message(
            rendered.content, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, **kwargs
        )


async def send_notice(interaction: discord.Interaction, content: str) -> None:
    """A word for the presser alone; the message they pressed stays as it was."""
    await send_new(interaction, Rendered(content, None), ephemeral=True)


async def edit_pressed(interaction: discord.Interaction, rendered: Rendered) -> None:
    """Replace the message holding the pressed component (view None removes old controls)."""
    if interaction.response.is_done():
        await interaction.edit_original_response(
            content=rendered.content, view=rendered.view, allowed_mentions=NO_MENTIONS
        )
    else:
        await interaction.response.edit_message(
            content=rendered.content, view=rendered.view, allowed_mentions=NO_MENTIONS
        )
