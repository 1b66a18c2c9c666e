"""``/admin report [weeks]``: the weekly report for moderators, without a database client.

Moderators only (the same check as every /admin command, at run time). The answer is
ephemeral: the numbers as text in the moderator's language, with the chart (report.png)
and the numbers per week (report.csv) attached; the latest cancellation comments follow in a
second message. Nothing is written, so nothing goes to the mod-log.

The chart is drawn in a worker thread: matplotlib takes about a second, and the event loop
keeps serving everyone else meanwhile. The interaction is acknowledged ("thinking…") first,
since reading and drawing may take longer than Discord's 3 seconds.
"""

from __future__ import annotations

import asyncio
import io
import logging

import discord
from discord import app_commands

import locales
from bot.messages import SOMETHING_WRONG
from bot.moderation import NOT_A_MODERATOR, answer, is_moderator
from bot.render import CONTENT_MAX, NO_MENTIONS, cut
from bot.report_chart import render_png
from bot.report_chart_data import chart_data
from bot.report_csv import report_csv
from bot.report_text import comment_lines, report_lines
from bot.translator import command_text
from core.report import DEFAULT_WEEKS, weekly_report
from flows.replies import M

log = logging.getLogger(__name__)

MAX_WEEKS = 52  # a year; the operator's CLI goes further
LATEST_COMMENTS = 3  # per reason
CHART_FILE, CSV_FILE = "report.png", "report.csv"
DESCRIPTION = M("Cancellations, save offers, refunds and questions per week, with a chart")
WEEKS_OPTION = M("How many weeks, ending with this one (default 8)")


def chunks(lines: list[str], limit: int = CONTENT_MAX) -> list[str]:
    """Lines packed into as few messages of at most ``limit`` characters as they fit in."""
    out: list[str] = []
    for line in (cut(line, limit) for line in lines):
        if out and len(out[-1]) + 1 + len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


class ReportCommand:
    def __init__(self, app) -> None:
        self.app = app

    async def run(self, interaction: discord.Interaction, weeks: int) -> None:
        lang = locales.current_language()  # bound for this command where it came in (bot/dispatch.py)
        if not is_moderator(interaction, self.app.settings.moderator_role_ids):
            log.info("refused /admin report for user %s: not a moderator", interaction.user.id)
            await answer(interaction, locales.render(NOT_A_MODERATOR))
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            await self.app.refresh_clock()
            report = await weekly_report(self.app.db, self.app.core.clock.now(), weeks, self.app.catalog.currency,
                                         latest_comments=LATEST_COMMENTS)
            chart = await asyncio.to_thread(render_png, chart_data(report, lang))
        except Exception:
            log.exception("/admin report failed")
            await answer(interaction, locales.render(SOMETHING_WRONG))
            return
        files = [discord.File(io.BytesIO(chart), CHART_FILE),
                 discord.File(io.BytesIO(report_csv(report).encode()), CSV_FILE)]
        first, *more = chunks(report_lines(report, lang))
        await interaction.followup.send(first, files=files, ephemeral=True, allowed_mentions=NO_MENTIONS)
        for content in more + chunks(comment_lines(report, lang)):
            await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS)


def add_report_command(group: app_commands.Group, app) -> None:
    """Add ``report`` to the /admin group."""
    command = ReportCommand(app)

    @group.command(name="report", description=command_text(DESCRIPTION))
    @app_commands.describe(weeks=command_text(WEEKS_OPTION))
    async def report(interaction: discord.Interaction,
                     weeks: app_commands.Range[int, 1, MAX_WEEKS] = DEFAULT_WEEKS) -> None:
        await command.run(interaction, weeks)
