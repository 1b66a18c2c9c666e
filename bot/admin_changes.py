"""The /admin commands that change something: decide, credits, restriction, plan, link.
Each takes a reason, goes through the core (which keeps it in the audit trail with the
moderator as actor) and owes its line to the mod-log.
"""

from __future__ import annotations

import discord

from bot.admin_base import AdminBase
from bot.case_text import OPEN, decided_line, told_line
from bot.messages import NO_MOD_LOG
from bot.moderation import mention, plain
from flows.refund import case_ref
from flows.replies import M, Msg
from flows.texts import plan_name


class AdminChanges(AdminBase):
    async def decide(
        self, moderator: int, key: str, ref: str, approve: bool, reason: str
    ) -> list[Msg]:
        case = await self.board.resolve(ref)
        if case is None:
            return [
                M("No open request matches {case}. /admin cases lists them.", case=plain(ref, 40))
            ]
        if case.status not in OPEN:
            return [
                M("Request {case} was already decided.", case=case_ref(case.id)),
                decided_line(case),
            ]
        # The board posts the decision to the mod-log itself.
        decision = await self.board.decide(case, approve, moderator, reason, key)
        lines = [decided_line(decision.case)]
        if decision.case.kind == "refund":
            lines.append(told_line(decision.told))
        return lines + ([] if self.mod.configured else [NO_MOD_LOG])

    async def credits(
        self,
        moderator: int,
        key: str,
        action: str,
        user: discord.abc.User,
        amount: int,
        reason: str,
    ) -> list[Msg]:
        account = await self.account(user)
        delta = amount if action == "grant" else -amount
        receipt = await self.core.adjust_credits(
            account.account_id, delta, key=key, actor=self.actor(moderator), reason=reason
        )
        said = _said(moderator, user, reason)
        line = (
            M("{moderator} granted {n} credits to {user}. Reason: {reason}", n=amount, **said)
            if delta > 0
            else M("{moderator} removed {n} credits from {user}. Reason: {reason}", n=amount, **said)
        )
        return [
            line,
            M("Their balance is now {n} credits.", n=receipt.balance),
            *await self.logged(line),
        ]

    async def restriction(
        self, moderator: int, key: str, user: discord.abc.User, decision: str, reason: str
    ) -> list[Msg]:
        account = await self.account(user)
        lift = decision == "lift"
        if lift and not account.restricted:
            return [
                M(
                    "The account of {user} is not restricted. Nothing was changed.",
                    user=mention(user.id),
                )
            ]
        await self.core.review_restriction(
            account.account_id, lift, key=key, actor=self.actor(moderator), reason=reason
        )
        said = _said(moderator, user, reason)
        line = (
            M("{moderator} lifted the device restriction of {user}: daily free credits again. "
              "Reason: {reason}", **said)
            if lift
            else M("{moderator} reviewed the device restriction of {user} and kept it. "
                   "Reason: {reason}", **said)
        )
        return [line, *await self.logged(line)]

    async def plan(
        self, moderator: int, key: str, user: discord.abc.User, plan: str, reason: str
    ) -> list[Msg]:
        account = await self.account(user)
        receipt = await self.core.admin_change_plan(
            account.account_id, plan, key=key, actor=self.actor(moderator), reason=reason
        )
        catalog = self.app.catalog
        line = M(
            "{moderator} moved {user} from {old} to {new}, effective now. Reason: {reason}",
            old=plan_name(catalog.plan(receipt.details.get("from") or account.plan)),
            new=plan_name(catalog.plan(receipt.plan)),
            **_said(moderator, user, reason),
        )
        return [line, *await self.logged(line)]

    async def link(
        self, moderator: int, key: str, user: discord.abc.User, email: str, reason: str
    ) -> list[Msg]:
        account = await self.core.find_account(email)
        if account is None or account.email != email.strip().lower():
            return [
                M(
                    "No account has the email address {email}. Nothing was changed.",
                    email=plain(email, 254),
                )
            ]
        await self.core.admin_link(
            account.account_id, str(user.id), key=key, actor=self.actor(moderator), reason=reason
        )
        line = M(
            "{moderator} linked {user} to the account {email}. Reason: {reason}",
            email=plain(account.email, 254),
            **_said(moderator, user, reason),
        )
        return [line, *await self.logged(line)]


def _said(moderator: int, user: discord.abc.User, reason: str) -> dict[str, str]:
    """What every change's mod-log line names: who did it, to whom, and why."""
    return {"moderator": mention(moderator), "user": mention(user.id), "reason": plain(reason)}
