"""Refund requests go to DMs (docs/bot.md): /refund, or a question recognised as ``refund``.

    request (/refund in a server, or a message in a support channel)
      -> the refund intake (flows/refund.py) is started for the user and its first screen sent by DM
      -> where they asked: "please check your DMs" (a reply to the message; ephemeral for /refund)
      -> DMs closed (Discord 50007): where they asked, "your DMs are closed" with a Retry button
         refund:<flow id>:retry  -> the intake's CURRENT screen sent by DM again (nothing restarts)
    the intake in the DM -> a refund case (core) -> posted to MOD_CHANNEL_ID (bot/cases.py)
      -> Approve / Deny with a reason -> the user told in the DM, in their language

The request is the stored refund flow: the Retry button names it, so a Retry on any
process, after a restart, or days later continues the same intake (the flow stays open
for ``flows.refund.HOLD``), and the same intake can only ever open one case. Without
MOD_CHANNEL_ID there is no desk to send a case to: the bot says refunds are handled by
the team and starts nothing.

``register(bot, app, engine)`` wires all of this, and the /admin commands, into a bot;
the client calls it once from ``setup_hook``, before the commands are synced.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.cases import CaseBoard, CaseButton
from bot.components import Routed
from bot.custom_ids import RefundRetry
from bot.messages import NOT_YOURS, SOMETHING_WRONG
from bot.moderation import ModChannel, send_dm
from bot.render import NO_MENTIONS, Rendered, carrier_view, cut, render_reply, text
from bot.respond import edit_pressed, in_guild, in_time, send_new, send_notice
from bot.services import Services, services
from core import outbox
from core.ledger import new_id
from core.notices import MODERATORS
from flows.engine import FINAL, FlowEngine
from flows.refund import KIND
from flows.replies import M, Msg

if TYPE_CHECKING:
    from bot.language import LanguagePicker

log = logging.getLogger(__name__)

CHECK_DMS = M(
    "I've sent you a direct message about your refund request: please check your DMs, we'll follow up there."
)
DMS_CLOSED = M(
    "I couldn't send you a direct message: your DMs are closed. Allow direct messages from this server's "
    "members (Privacy settings), then press Retry: your request is kept and continues in your DMs."
)
DMS_CLOSED_ASK_AGAIN = M(
    "I couldn't send you a direct message: your DMs are closed. Allow direct messages from this "
    "server's members (Privacy settings), then ask again."
)
STILL_CLOSED = M(
    "Your DMs are still closed, so I couldn't send the message. Allow direct messages from this server's "
    "members, then press Retry again."
)
NO_DESK = M(
    "Refunds are handled by our team directly, not through me on this server, so I can't take a refund "
    "request here. Please contact the team the way this server describes."
)
ALREADY_SENT = M(
    "Your refund request is already with the moderators; I'll tell you their decision in your DMs."
)
RETRY_EXPIRED = M(
    "This refund request has expired. Nothing was sent to the moderators; use /refund to start again."
)
RETRY = M("Retry")


class RefundDesk:
    def __init__(self, client: discord.Client, engine: FlowEngine, board: CaseBoard) -> None:
        self.client = client
        self.engine = engine
        self.board = board

    @property
    def has_desk(self) -> bool:
        return self.board.mod.configured

    # -- the requests ---------------------------------------------------------------------------

    async def _request(self, user_id: int) -> tuple[Msg, discord.ui.View | None]:
        """Start the intake and DM it; what to say where the user asked."""
        if not self.has_desk:
            return NO_DESK, None
        screen = await self.engine.start(KIND, str(user_id))
        sent = await send_dm(self.client, user_id, render_reply(screen.reply, screen.flow_id, screen.step))
        if sent is not None:
            return CHECK_DMS, None
        if screen.flow_id is None:  # nothing stored to come back to (e.g. an unlinked account)
            return DMS_CLOSED_ASK_AGAIN, None
        return DMS_CLOSED, self.retry_view(screen.flow_id)

    def retry_view(self, flow_id: str) -> discord.ui.View:
        # Clicks come through RetryButton.
        return carrier_view([
            RetryButton(
                discord.ui.Button(
                    label=cut(text(RETRY), 80),
                    style=discord.ButtonStyle.primary,
                    custom_id=RefundRetry(flow_id).custom_id,
                )
            )
        ])

    async def on_command(self, interaction: discord.Interaction) -> None:
        """/refund: in a server, the intake goes to DMs; in the DM itself, it simply runs there."""
        if interaction.guild_id is None and self.has_desk:
            await services(interaction).flow_ui.start_flow(interaction, KIND)
            return
        try:
            said, view = await in_time(interaction, self._request(interaction.user.id), thinking=True)
            await send_new(interaction, Rendered(text(said), view), ephemeral=in_guild(interaction))
        except Exception:
            log.exception("/refund for user %s failed", interaction.user.id)
            await send_notice(interaction, text(SOMETHING_WRONG))

    async def on_message(self, message: discord.Message) -> None:
        """A message recognised as a refund request, in the language bound for it: a public
        reply that says only where to look (nothing about the account), and the DM."""
        if (
            message.guild is None and self.has_desk
        ):  # asked in the DM itself: the intake starts right here
            screen = await self.engine.start(KIND, str(message.author.id))
            rendered = render_reply(screen.reply, screen.flow_id, screen.step)
            kwargs = {"view": rendered.view} if rendered.view is not None else {}
            await message.reply(
                rendered.content, allowed_mentions=NO_MENTIONS, mention_author=False, **kwargs
            )
            return
        said, view = await self._request(message.author.id)
        kwargs = {"view": view} if view is not None else {}
        await message.reply(
            text(said), allowed_mentions=NO_MENTIONS, mention_author=False, **kwargs
        )

    # -- Retry ------------------------------------------------------------------------------------

    async def retry(self, interaction: discord.Interaction, flow_id: str) -> None:
        actor = str(interaction.user.id)

        async def work() -> tuple[Msg, bool]:
            """(what to say, whether it replaces the notice that was pressed)."""
            flow = await self.engine.store.load(flow_id)
            if flow is None or flow.kind != KIND:
                return RETRY_EXPIRED, False
            if flow.owner != actor:
                return NOT_YOURS, False
            if flow.data.get(FINAL):
                return ALREADY_SENT, True
            screen = await self.engine.current(flow_id, flow.step, actor)
            if screen.notice:
                return RETRY_EXPIRED, False
            # The intake as it stands (the same flow: nothing starts over, nothing is duplicated).
            sent = await send_dm(
                self.client,
                interaction.user.id,
                render_reply(screen.reply, screen.flow_id, screen.step),
            )
            return (CHECK_DMS, True) if sent is not None else (STILL_CLOSED, False)

        try:
            said, replace = await in_time(interaction, work(), thinking=False)
            if replace:  # the notice and its Retry button are done with
                await edit_pressed(interaction, Rendered(text(said), None))
            else:
                await send_notice(interaction, text(said))
        except Exception:
            log.exception("refund retry %s failed", flow_id)
            await send_notice(interaction, text(SOMETHING_WRONG))


class RetryButton(
    Routed[RefundRetry], discord.ui.DynamicItem[discord.ui.Button], template=RefundRetry.TEMPLATE
):
    """Retry on the "your DMs are closed" notice: sends the owner's refund intake by DM again."""

    record = RefundRetry

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        await parts.refunds.retry(interaction, self.target.flow_id)


DYNAMIC_ITEMS = (RetryButton, CaseButton)


async def mod_line(payload: dict) -> Rendered:
    """A moderator action's line for the mod-log, as it was rendered when it was owed."""
    return Rendered(payload["text"], None)


def register(bot, app, engine: FlowEngine, picker: LanguagePicker) -> RefundDesk:
    """Wire refunds, the case queue and /admin into ``bot``: one call from the client, before
    the commands are synced (the client adds ``DYNAMIC_ITEMS`` in its setup_hook).

    Returns the RefundDesk (/refund and support messages recognised as ``refund``), whose
    ``board`` is the CaseBoard (the case buttons and their reason forms), and adds the /admin
    group. New cases and decisions reach MOD_CHANNEL_ID through the outbox (the core owes
    them; the delivery loop renders them with the board).
    """
    from bot.admin import build_admin

    settings = app.settings

    async def owe_line(text: str) -> None:
        # A moderator's action is already committed by the core: its line is owed right after.
        async with app.core.db.transaction() as tx:
            await outbox.enqueue(tx, key=f"line:{new_id()}", kind="mod_line", recipient=MODERATORS,
                                 payload={"text": text}, now=int(time.time()))
        bot.delivery.poke()

    board = CaseBoard(
        bot,
        app,
        picker,
        ModChannel(bot, settings.mod_channel_id, settings.default_locale, owe=owe_line),
        on_owed=bot.delivery.poke,
    )
    bot.delivery.add_renderer("refund_decision", board.decision_message)
    bot.delivery.add_renderer("case_post", board.post_message)
    bot.delivery.add_renderer("case_decision_log", board.decision_log_message)
    bot.delivery.add_renderer("mod_line", mod_line)
    desk = RefundDesk(bot, engine, board)
    bot.tree.add_command(build_admin(app, board))
    return desk
