"""The /admin commands that read: lookup, audit, cases, stats. Reading an account is
posted to the mod-log too (who looked, and why when they said).
"""

from __future__ import annotations

from datetime import timedelta

import discord

from bot.admin_base import AdminBase
from bot.case_text import account_lines, case_summary
from bot.moderation import mention, plain
from core import outbox
from core.money import Money
from flows.replies import M, Msg


class AdminReads(AdminBase):
    async def lookup(self, moderator: int, user: discord.abc.User, reason: str | None) -> list[Msg]:
        account = await self.account(user)
        invoices = await self.core.invoices(account.account_id, limit=5)
        lines = [
            M("Account of {user}:", user=mention(user.id)),
            *account_lines(account, invoices, self.app.catalog),
        ]
        mine = [
            c
            for c in await self.core.cases.list("open", limit=500)
            if c.account_id == account.account_id
        ]
        lines += (
            [M("Open requests:"), *map(case_summary, mine)] if mine else [M("Open requests: none")]
        )
        line = M(
            "{moderator} looked up the account of {user}.",
            moderator=mention(moderator),
            user=mention(user.id),
        )
        return lines + await self.logged(line, *self._why(reason))

    async def audit(self, moderator: int, user: discord.abc.User, reason: str | None) -> list[Msg]:
        account = await self.account(user)
        entries = await self.core.audit_trail(account.account_id, limit=20)
        lines = [M("Audit trail of {user} (newest first):", user=mention(user.id))]
        for e in entries:
            lines.append(
                M(
                    "{at} · {actor} · {action} · {reason}",
                    at=e["created_at"],
                    actor=plain(e["actor"], 60),
                    action=e["action"],
                    reason=plain(e["reason"], 120) or "-",
                )
            )
        if not entries:
            lines.append(M("Nothing recorded yet."))
        line = M(
            "{moderator} read the audit trail of {user}.",
            moderator=mention(moderator),
            user=mention(user.id),
        )
        return lines + await self.logged(line, *self._why(reason))

    @staticmethod
    def _why(reason: str | None) -> list[Msg]:
        return [M("Reason: {reason}", reason=plain(reason))] if reason and reason.strip() else []

    async def cases(self, moderator: int) -> list[Msg]:
        found = await self.core.cases.list("open", limit=25)
        if not found:
            return [M("No open requests.")]
        return [
            M("Open requests, oldest first:"),
            *map(case_summary, found),
            M(
                "Decide with the buttons on a request's post, or /admin decide CASE approve|deny REASON."
            ),
        ]

    async def stats(self, moderator: int) -> list[Msg]:
        since = self.core.clock.now() - timedelta(days=7)
        s = await self.core.cases.stats(since)
        return [
            M("Since {date}:", date=since),
            M("Open requests: {n}", n=s["open_cases"]),
            M(
                "Cancellations: {n}; saves (resumed or kept): {saves}",
                n=s["cancellations"],
                saves=s["saves"],
            ),
            M(
                "Refunds granted: {n}, in total {amount}",
                n=s["refunds"],
                amount=Money(s["currency"], s["refunded_minor"]),
            ),
            *self._owed(await outbox.counts(self.core.db)),
        ]

    @staticmethod
    def _owed(counts: dict[str, int]) -> list[Msg]:
        """Messages the bot owes (core/outbox.py): waiting for Discord, and never delivered."""
        lines = [M("Messages waiting to be sent: {n}", n=counts["pending"])]
        if counts["undeliverable"] or counts["expired"]:
            lines.append(M("Messages never delivered: {closed} to closed DMs or a missing channel, "
                           "{expired} given up after 24 hours", closed=counts["undeliverable"],
                           expired=counts["expired"]))
        return lines
