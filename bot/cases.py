"""The moderators' queue in MOD_CHANNEL_ID: each case posted with its facts, decided with a button.

    case:<case id>:approve | deny   a refund case's buttons  -> a reason (modal) -> core decide
    case:<case id>:close            a "talk to a moderator" case -> a reason (modal) -> closed

Every case the core opens in this process (a refund request from the DM intake, a "Talk
to a moderator" press in any flow) is posted once, with the account's facts and, for a
refund, the core's recommendation and its grounds. The core decides: approval refunds
through the payment port and applies a refund's effects (docs/core-rules.md, section 14: a
refunded subscription ends at once; top-ups stay). The user is then told the decision in their DM, in their
language, and the decision goes to the mod-log.

The buttons carry the case id, so they work on any process and after a restart; the
reason modal is never kept in memory (its submission is routed by ``on_form_submit``),
so pressing the button again always reopens it. A second decision is refused by the
core (``case_decided``), so two moderators pressing at once refund once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

import locales
from bot.case_text import (
    OPEN,
    case_lines,
    decided_line,
    decision_log,
    decision_reply,
    told_line,
)
from bot.components import Routed
from bot.custom_ids import CaseAction
from bot.deadline import MODAL_WITHIN, time_left
from bot.messages import PRESS_AGAIN, SOMETHING_WRONG
from bot.moderation import NOT_A_MODERATOR, ModChannel, is_moderator
from bot.observe import case_decided
from bot.render import Rendered, carrier_view, cut, render_reply, submitted_fields
from bot.respond import edit_pressed, in_time, send_notice
from bot.services import Services
from core.errors import CoreError
from core.views import Case, DecisionEffects, Invoice
from flows.errors import describe
from flows.refund import case_ref
from flows.replies import M, Msg

if TYPE_CHECKING:
    from bot.language import LanguagePicker

log = logging.getLogger(__name__)

REASON_MAX = 500

LABELS = {"approve": M("Approve"), "deny": M("Deny"), "close": M("Close")}
STYLES = {
    "approve": discord.ButtonStyle.success,
    "deny": discord.ButtonStyle.danger,
    "close": discord.ButtonStyle.secondary,
}


def modal_title(action: str, case: Case) -> Msg:
    ref = case_ref(case.id)
    if action == "approve":
        return M("Approve refund {case}", case=ref)
    if action == "deny":
        return M("Deny refund {case}", case=ref)
    return M("Close request {case}", case=ref)


@dataclass(frozen=True)
class Decision:
    case: Case
    told: bool  # the decision is owed to the user by DM (the delivery loop sends it)
    amount: Any = None  # Money refunded, for the log


class CaseBoard:
    def __init__(
        self,
        client: discord.Client,
        app,
        picker: LanguagePicker,
        mod: ModChannel,
        on_owed: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.app = app
        self.core = app.core
        self.picker = picker
        self.mod = mod
        self.on_owed = on_owed  # a decision DM was owed: the delivery loop sends it now

    # -- posting ------------------------------------------------------------------------------

    async def _charge(self, case: Case) -> Invoice | None:
        if not (case.account_id and case.invoice_id):
            return None
        recent = await self.core.invoices(case.account_id, limit=25)
        return next((i for i in recent if i.id == case.invoice_id), None)

    async def post_text(self, case: Case) -> str:
        account = await self.core.snapshot(case.account_id) if case.account_id else None
        invoices = await self.core.invoices(case.account_id, limit=5) if case.account_id else []
        charge = await self._charge(case)
        return self.mod.text(case_lines(case, account, invoices, charge, self.app.catalog))

    def view_for(self, case: Case) -> discord.ui.View | None:
        if case.status not in OPEN:
            return None
        actions = ("approve", "deny") if case.kind == "refund" else ("close",)
        # Clicks come through CaseButton (any process, any time).
        return carrier_view(
            CaseButton(
                discord.ui.Button(
                    label=locales.render(LABELS[action], self.mod.lang),
                    style=STYLES[action],
                    custom_id=CaseAction(case.id, action).custom_id,
                )
            )
            for action in actions
        )

    async def post_message(self, payload: dict[str, Any]) -> Rendered:
        """A newly opened case as the outbox owes it to the mod channel (kind ``case_post``):
        rendered when it is sent, so a case decided meanwhile comes without its buttons."""
        case = await self.core.cases.get(payload["case"])
        return Rendered(await self.post_text(case), self.view_for(case))

    async def decision_log_message(self, payload: dict[str, Any]) -> Rendered:
        """A decision's mod-log line as the outbox owes it (kind ``case_decision_log``)."""
        case = await self.core.cases.get(payload["case"])
        moderator = (case.decided_by or "").removeprefix("moderator:")
        effects = await self._owed_effects(case, payload)
        owed = case.kind == "refund" and (case.discord_id or "").isdigit()
        lines = decision_log(case, int(moderator) if moderator.isdigit() else 0, owed, effects.refunded)
        return Rendered(self.mod.text(lines), None)

    # -- deciding ---------------------------------------------------------------------------------

    async def resolve(self, ref: str) -> Case | None:
        """A case by id, or by the short reference moderators see (#1a2b3c4d), among the open ones."""
        ref = ref.strip().lstrip("#").lower()
        if re.fullmatch(r"[0-9a-f]{32}", ref):
            try:
                return await self.core.cases.get(ref)
            except CoreError:
                return None
        if not re.fullmatch(r"[0-9a-f]{4,31}", ref):
            return None
        found = [c for c in await self.core.cases.list("open", limit=500) if c.id.startswith(ref)]
        return found[0] if len(found) == 1 else None

    async def decide(
        self, case: Case, approve: bool, moderator: int, reason: str, key: str
    ) -> Decision:
        """The core's decision (CoreError if refused). It owes, in the same transaction, the
        mod-log line and, for a refund request, the user's DM (core/outbox.py): the delivery
        loop sends them, also during and after a Discord outage."""
        outcome = await self.core.cases.decide(
            case.id, approve, key=key, actor=f"moderator:{moderator}", reason=reason
        )
        decided = outcome.case
        case_decided(decided)
        self.on_owed()
        owed = decided.kind == "refund" and (decided.discord_id or "").isdigit()
        return Decision(decided, owed, outcome.effects.refunded)

    async def _owed_effects(self, case: Case, payload: dict[str, Any]) -> DecisionEffects:
        """What the decision did, as its notice carries it; asked of the core for a notice
        owed before notices carried it."""
        if "effects" in payload:
            return DecisionEffects.from_details(payload["effects"])
        return await self.core.cases.decision_effects(case)

    async def decision_message(self, payload: dict[str, Any]) -> Rendered:
        """The decision DM the outbox owes (kind ``refund_decision``), in the language bound for
        its recipient: rendered when it is sent, from the case as decided."""
        case = await self.core.cases.get(payload["case"])
        effects = await self._owed_effects(case, payload)
        shown = {"money": effects.refunded, "subscription_ended": effects.subscription_ended,
                 "credits_removed": effects.credits_removed}
        reply = decision_reply(case, shown, await self._charge(case), self.app.catalog)
        return render_reply(reply, None, "decision")

    # -- the buttons and the reason form ------------------------------------------------------------

    def _moderator(self, interaction: discord.Interaction) -> bool:
        return is_moderator(interaction, self.app.settings.moderator_role_ids)

    async def on_button(self, interaction: discord.Interaction, target: CaseAction) -> None:
        """Approve / Deny / Close: the reason form. A modal must be the first answer to the
        press, so the read before it is bounded; when it is slow, the moderator is asked to
        press again (nothing was done)."""
        if not self._moderator(interaction):
            await send_notice(interaction, locales.render(NOT_A_MODERATOR))
            return
        try:
            case = await asyncio.wait_for(
                self.core.cases.get(target.case_id), time_left(MODAL_WITHIN)
            )
        except TimeoutError:
            await send_notice(interaction, locales.render(PRESS_AGAIN))
            return
        except CoreError:
            await send_notice(
                interaction, locales.render(M("I couldn't find that request any more."))
            )
            return
        if case.status not in OPEN:  # decided elsewhere: show it, without the buttons
            await edit_pressed(interaction, Rendered(await self.post_text(case), None))
            return
        await interaction.response.send_modal(self._reason_modal(case, target.action))

    def _reason_modal(self, case: Case, action: str) -> discord.ui.Modal:
        title = locales.render(modal_title(action, case))
        modal = discord.ui.Modal(title=cut(title, 45), custom_id=CaseAction(case.id, action).custom_id)
        modal.add_item(
            discord.ui.Label(
                text=cut(locales.render(M("Reason (kept in the audit trail)")), 45),
                component=discord.ui.TextInput(
                    custom_id="reason",
                    style=discord.TextStyle.paragraph,
                    required=True,
                    max_length=REASON_MAX,
                ),
            )
        )
        modal.stop()  # never kept in memory: the submission comes back through on_form_submit
        return modal

    async def on_form_submit(self, interaction: discord.Interaction, target: CaseAction) -> None:
        """A submitted reason form of a case."""
        if not self._moderator(interaction):
            await send_notice(interaction, locales.render(NOT_A_MODERATOR))
            return
        reason = (submitted_fields(interaction.data or {}).get("reason") or "").strip()
        if not reason:
            await send_notice(
                interaction, locales.render(M("A reason is required. Nothing was done."))
            )
            return
        try:
            content = await in_time(
                interaction,
                self._decide_from_form(interaction, target.case_id, target.action, reason),
                thinking=False,
            )
        except CoreError as err:
            await send_notice(interaction, locales.render(self._refusal(err)))
            return
        except Exception:
            log.exception("deciding case %s failed", target.case_id)
            await send_notice(interaction, locales.render(SOMETHING_WRONG))
            return
        if interaction.message is not None:
            await edit_pressed(interaction, Rendered(content, None))
        else:
            await send_notice(interaction, content)

    async def _decide_from_form(
        self, interaction: discord.Interaction, case_id: str, action: str, reason: str
    ) -> str:
        case = await self.core.cases.get(case_id)
        if case.status in OPEN:
            # Keyed by the submission: another moderator's decision is a different request, refused by the core.
            decision = await self.decide(
                case,
                action == "approve",
                interaction.user.id,
                reason,
                key=f"case:{case_id}:{interaction.id}",
            )
            case = decision.case
            lines = [
                decided_line(case),
                *([told_line(decision.told)] if case.kind == "refund" else []),
            ]
            base = interaction.message.content if interaction.message is not None else ""
            return cut(f"{base}\n{self.mod.text(lines)}".strip(), 2000)
        return await self.post_text(case)

    def _refusal(self, err: CoreError) -> Msg:
        if err.code == "case_decided":
            return M("This request was already decided.")
        return describe(err, self.app.catalog)


class CaseButton(
    Routed[CaseAction], discord.ui.DynamicItem[discord.ui.Button], template=CaseAction.TEMPLATE
):
    """Approve / Deny / Close on a case in the mod channel."""

    record = CaseAction

    async def handle(self, interaction: discord.Interaction, parts: Services) -> None:
        try:
            await parts.case_board.on_button(interaction, self.target)
        except Exception:
            log.exception("case button %s failed", self.custom_id)
