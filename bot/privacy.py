"""``/privacy`` and ``/admin forget``: what the bot keeps about a user, and forgetting it.

``/privacy`` (anyone; ephemeral; in the user's language) lists what is kept about the user
who asks (core ``what_we_keep``: the linked account with its email masked, the language and
reminder settings, conversations, requests, messages, texts they wrote) with a "Forget me"
button. That button only asks to confirm; the confirmation's button carries the presser's id
and a fresh one-time nonce, which is the forgetting's idempotency key. So a double click
forgets once and both clicks get the same answer, a restart loses nothing (the button says it
all), and the forgetting itself is one transaction in the core: all of it or nothing. The
reply language is bound where the interaction enters (bot/dispatch.py), before anything is
forgotten, so the last answer still comes in the user's language.

``/admin forget USER REASON`` (moderators, checked again at run time by bot/admin_base.py):
the same for another user; the audit record names the moderator and the reason, and the
mod-log line names the moderator only.

    p:ask                      "Forget me": the confirmation, with a new nonce  -> PrivacyStep
    p:no                       "Keep my data": nothing changes                  -> PrivacyStep
    p:yes:<user id>:<nonce>    confirmed: forget the presser, who must be that user
                                                                                -> ForgetConfirmed
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

import discord
from discord import app_commands

from bot.admin_base import AdminBase
from bot.components import Routed
from bot.custom_ids import Target
from bot.messages import BUSY, NOT_YOURS, NOTHING_CHANGED, SOMETHING_WRONG
from bot.privacy_text import (
    CONFIRM_LINES,
    DESCRIPTION,
    FORGET_DESCRIPTION,
    FORGET_ME,
    KEEP_MY_DATA,
    PRIVACY,
    YES_FORGET,
    forgotten_lines,
    mod_log_line,
    moderator_lines,
    overview,
)
from bot.render import BUTTON_LABEL_MAX, CONTENT_MAX, Rendered, carrier_view, cut, text
from bot.respond import edit_pressed, in_time, send_new, send_notice
from bot.services import Services, services
from bot.translator import command_text
from core.privacy import KeptData
from core.privacy_scan import scrub_text
from flows.replies import M, Msg
from storage.errors import StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrivacyStep(Target):
    TEMPLATE = re.compile(r"p:(?P<action>ask|no)")
    FORMAT = "p:{}"
    action: str


@dataclass(frozen=True)
class ForgetConfirmed(Target):
    TEMPLATE = re.compile(r"p:yes:(?P<user_id>[0-9]{1,25}):(?P<nonce>[0-9a-f]{32})")
    FORMAT = "p:yes:{}:{}"
    user_id: str
    nonce: str


# -- screens ----------------------------------------------------------------------------------


def _button(label: Msg, target: Target, style: discord.ButtonStyle) -> discord.ui.Item:
    button = discord.ui.Button(
        label=cut(text(label), BUTTON_LABEL_MAX), style=style, custom_id=target.custom_id
    )
    return (ForgetButton if isinstance(target, ForgetConfirmed) else PrivacyButton)(button, target)


def _screen(lines: list[Msg] | tuple[Msg, ...], *buttons: discord.ui.Item) -> Rendered:
    content = cut("\n".join(text(line) for line in lines), CONTENT_MAX)
    if not buttons:
        return Rendered(content, None)
    return Rendered(content, carrier_view(buttons))  # presses reach the items


def overview_screen(kept: KeptData) -> Rendered:
    if not kept.anything:
        return _screen(overview(kept))
    return _screen(
        overview(kept), _button(FORGET_ME, PrivacyStep("ask"), discord.ButtonStyle.danger)
    )


def confirm_screen(user_id: int) -> Rendered:
    return _screen(
        CONFIRM_LINES,
        _button(
            YES_FORGET,
            ForgetConfirmed(str(user_id), secrets.token_hex(16)),
            discord.ButtonStyle.danger,
        ),
        _button(KEEP_MY_DATA, PrivacyStep("no"), discord.ButtonStyle.secondary),
    )


# -- handlers ---------------------------------------------------------------------------------


async def _guarded(interaction: discord.Interaction, work) -> None:
    """``work`` (which answers), or a word to the user when it fails: nothing was forgotten
    then (the forgetting is one transaction)."""
    try:
        await work
    except StorageError as exc:
        log.warning("privacy interaction %s: storage refused: %s", interaction.id, exc)
        await _apologise(interaction, BUSY if "busy" in str(exc) else SOMETHING_WRONG)
    except Exception:
        log.exception("privacy interaction %s failed", interaction.id)
        await _apologise(interaction, SOMETHING_WRONG)


async def _apologise(interaction: discord.Interaction, msg: Msg) -> None:
    try:
        await send_notice(interaction, text(msg))
    except discord.HTTPException:
        log.warning("could not tell the user about the failure of interaction %s", interaction.id)


async def show_privacy(interaction: discord.Interaction, parts: Services) -> None:
    """/privacy: what is kept about the user who asks, privately."""

    async def show() -> None:
        work = parts.app.core.what_we_keep(str(interaction.user.id))
        kept = await in_time(interaction, work, thinking=True)
        await send_new(interaction, overview_screen(kept), ephemeral=True)

    await _guarded(interaction, show())


async def step(interaction: discord.Interaction, target: PrivacyStep) -> None:
    """Forget me (ask to confirm) or Keep my data (nothing changes): the same message, edited."""
    if target.action == "ask":
        screen = confirm_screen(interaction.user.id)
    else:
        screen = _screen([NOTHING_CHANGED])
    await _guarded(interaction, edit_pressed(interaction, screen))


async def forget_me(
    interaction: discord.Interaction, parts: Services, target: ForgetConfirmed
) -> None:
    """The confirmation: forget the presser, once per confirmation (its nonce is the key)."""
    presser = str(interaction.user.id)
    if target.user_id != presser:  # someone else's confirmation (a forged or replayed press)
        await _guarded(interaction, send_notice(interaction, text(NOT_YOURS)))
        return

    async def forget() -> None:
        work = parts.app.core.forget_discord_user(
            presser, actor=f"discord:{presser}", reason=None, key=f"privacy:{target.nonce}"
        )
        done = await in_time(interaction, work, thinking=False)
        await edit_pressed(interaction, _screen(forgotten_lines(done)))

    await _guarded(interaction, forget())


async def admin_forget(
    interaction: discord.Interaction, parts: Services, user: discord.abc.User, reason: str
) -> None:
    """/admin forget: the moderator check, the answer and its errors are AdminBase's."""
    admin = AdminBase(parts.app, parts.case_board)

    async def body(moderator: int, key: str) -> list[Msg]:
        done = await admin.core.forget_discord_user(
            str(user.id), actor=admin.actor(moderator), reason=reason, key=key
        )
        lines = moderator_lines(done, user.id)
        if done.rows == 0 or done.replayed:  # nothing happened now: nothing to log
            return lines
        return lines + await admin.logged(mod_log_line(moderator, scrub_text(reason, str(user.id))))

    await admin.run(interaction, body)


class PrivacyButton(
    Routed[PrivacyStep], discord.ui.DynamicItem[discord.ui.Button], template=PrivacyStep.TEMPLATE
):
    """Forget me and Keep my data, on any /privacy answer, after any restart."""

    record = PrivacyStep

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        await step(interaction, self.target)


class ForgetButton(
    Routed[ForgetConfirmed],
    discord.ui.DynamicItem[discord.ui.Button],
    template=ForgetConfirmed.TEMPLATE,
):
    """Yes, forget me."""

    record = ForgetConfirmed

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        await forget_me(interaction, parts, self.target)


DYNAMIC_ITEMS = (PrivacyButton, ForgetButton)


def register(bot) -> None:
    """Add /privacy, and /admin forget to the /admin group (bot/refunds.py adds the group
    first). The client adds ``DYNAMIC_ITEMS`` with its others."""

    @app_commands.command(name=command_text(PRIVACY), description=command_text(DESCRIPTION))
    async def privacy(interaction: discord.Interaction) -> None:
        await show_privacy(interaction, services(interaction))

    bot.tree.add_command(privacy)
    group = bot.tree.get_command("admin")
    if not isinstance(group, app_commands.Group):
        return

    @app_commands.command(name="forget", description=command_text(FORGET_DESCRIPTION))
    @app_commands.describe(
        user=command_text(M("The Discord user")),
        reason=command_text(M("Why (kept in the audit trail)")),
    )
    async def forget(
        interaction: discord.Interaction,
        user: discord.User,
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        await admin_forget(interaction, services(interaction), user, reason)

    group.add_command(forget)
