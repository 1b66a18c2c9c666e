"""What every /admin command shares (bot/admin.py): the moderator check, the answer in
time, the account a command is about, and the mod-log line it owes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

import locales
from bot.cases import CaseBoard
from bot.messages import NO_MOD_LOG, NOTHING_CHANGED, SOMETHING_WRONG
from bot.moderation import NOT_A_MODERATOR, answer, is_moderator, mention, render_lines
from bot.respond import in_time
from core.errors import CoreError
from core.views import AccountView
from flows.errors import describe
from flows.replies import M, Msg

log = logging.getLogger(__name__)


class NoAccount(Exception):
    def __init__(self, user: discord.abc.User) -> None:
        self.user = user


class AdminBase:
    """The commands' bodies each return the lines of the moderator's (ephemeral) answer."""

    def __init__(self, app, board: CaseBoard) -> None:
        self.app = app
        self.core = app.core
        self.board = board
        self.mod = board.mod

    async def run(
        self, interaction: discord.Interaction, body: Callable[[int, str], Awaitable[list[Msg]]]
    ) -> None:
        """The moderator check, then ``body(moderator id, idempotency key)`` in time, then the
        answer (in the language bound when the command came in)."""
        if not is_moderator(interaction, self.app.settings.moderator_role_ids):
            log.info(
                "refused /admin %s for user %s: not a moderator",
                interaction.command and interaction.command.name,
                interaction.user.id,
            )
            await answer(interaction, locales.render(NOT_A_MODERATOR))
            return
        # The interaction id is unique per use of a command: a redelivered interaction changes once.
        key = f"admin:{interaction.id}"
        try:
            lines = await in_time(interaction, body(interaction.user.id, key), thinking=True)
        except NoAccount as missing:
            lines = [M("No product account is linked to {user}.", user=mention(missing.user.id))]
        except CoreError as err:
            lines = [describe(err, self.app.catalog), NOTHING_CHANGED]
        except Exception:
            log.exception("/admin %s failed", interaction.command and interaction.command.name)
            lines = [SOMETHING_WRONG]
        await answer(interaction, render_lines(lines))

    async def account(self, user: discord.abc.User) -> AccountView:
        found = await self.core.account_for_discord(str(user.id))
        if found is None:
            raise NoAccount(user)
        return found

    async def logged(self, *lines: Msg) -> list[Msg]:
        """Owe the line to the mod-log (posted by the delivery loop, also after an outage);
        the note for the moderator when there is no mod-log."""
        if await self.mod.log(*lines):
            return []
        return [NO_MOD_LOG]

    @staticmethod
    def actor(moderator: int) -> str:
        return f"moderator:{moderator}"
