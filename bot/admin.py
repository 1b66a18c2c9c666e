"""``/admin``: the moderators' commands of SPEC section 3.

    lookup USER            plan, period, credits by kind, restrictions, open cases, recent invoices
    cases                  the open refund and "talk to a moderator" cases
    decide CASE approve|deny REASON
    credits grant|remove USER AMOUNT REASON
    restriction USER lift|keep REASON
    plan USER PLAN REASON  an immediate change, up or down, without a charge
    link USER EMAIL REASON
    audit USER             the account's audit trail
    stats                  open cases, cancellations and saves this week, refunds granted and their total

Who may: Discord shows the group only to members with Manage Server (its default
permissions, guild only), and every command checks again when it runs: Manage Server,
Administrator or one of MODERATOR_ROLE_IDS. Anyone else gets an ephemeral refusal and
NOTHING runs: no core call, no mod-log line. Every change takes a reason, goes through
the core (which writes the audit trail with the moderator as actor and the reason) and
is posted to the mod-log; reading an account (lookup, audit) is posted there too.
Answers are ephemeral: account facts are for the moderator who asked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import discord
from discord import app_commands
from discord.app_commands import locale_str

import locales
from bot.case_text import OPEN, account_lines, case_summary, decided_line, told_line
from bot.cases import CaseBoard
from bot.language import LanguagePicker, bind
from bot.moderation import NOT_A_MODERATOR, answer, is_moderator, mention, plain, render_lines
from bot.respond import in_time
from core import outbox
from core.errors import CoreError
from core.money import Money
from core.views import AccountView
from flows.errors import describe
from flows.refund import case_ref
from flows.replies import M, Msg
from flows.texts import plan_name

log = logging.getLogger(__name__)

REASON = app_commands.Range[str, 1, 500]
NO_MOD_LOG = M("(No mod-log channel is set, so this was not posted there: set MOD_CHANNEL_ID.)")
SOMETHING_WRONG = M("Something went wrong on our side. Please try again in a moment.")


def _l(msg: Msg) -> locale_str:
    return locale_str(msg.msgid)


class NoAccount(Exception):
    def __init__(self, user: discord.abc.User) -> None:
        self.user = user


class Admin:
    """The commands' bodies. Each returns the lines of the moderator's (ephemeral) answer."""

    def __init__(self, app, board: CaseBoard) -> None:
        self.app = app
        self.core = app.core
        self.board = board
        self.mod = board.mod
        self.picker = LanguagePicker(app.core, app.settings.default_locale)

    async def run(
        self, interaction: discord.Interaction, body: Callable[[int, str], Awaitable[list[Msg]]]
    ) -> None:
        """The moderator check, then ``body(moderator id, idempotency key)`` in time, then the answer."""
        bind(await self.picker.for_interaction(interaction))
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
            lines = [describe(err, self.app.catalog), M("Nothing was changed.")]
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

    # -- reads --------------------------------------------------------------------------------------

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

    # -- changes ------------------------------------------------------------------------------------

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
        who, whom = mention(moderator), mention(user.id)
        if delta > 0:
            line = M(
                "{moderator} granted {n} credits to {user}. Reason: {reason}",
                moderator=who,
                n=amount,
                user=whom,
                reason=plain(reason),
            )
        else:
            line = M(
                "{moderator} removed {n} credits from {user}. Reason: {reason}",
                moderator=who,
                n=amount,
                user=whom,
                reason=plain(reason),
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
        who, whom = mention(moderator), mention(user.id)
        if lift:
            line = M(
                "{moderator} lifted the device restriction of {user}: daily free credits again. Reason: {reason}",
                moderator=who,
                user=whom,
                reason=plain(reason),
            )
        else:
            line = M(
                "{moderator} reviewed the device restriction of {user} and kept it. Reason: {reason}",
                moderator=who,
                user=whom,
                reason=plain(reason),
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
            moderator=mention(moderator),
            user=mention(user.id),
            old=plan_name(catalog.plan(receipt.details.get("from") or account.plan)),
            new=plan_name(catalog.plan(receipt.plan)),
            reason=plain(reason),
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
            moderator=mention(moderator),
            user=mention(user.id),
            email=plain(account.email, 254),
            reason=plain(reason),
        )
        return [line, *await self.logged(line)]


def build_admin(app, board: CaseBoard) -> app_commands.Group:
    """The /admin group for one client (a tree owns the commands added to it)."""
    admin = Admin(app, board)
    group = app_commands.Group(
        name="admin",
        description=_l(M("Moderator tools: accounts, refund requests, credits, plans")),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    plans = [app_commands.Choice(name=p.name, value=p.id) for p in app.catalog.plans.values()]

    @group.command(
        name="lookup",
        description=_l(M("A user's plan, credits, restrictions, open requests and invoices")),
    )
    @app_commands.describe(
        user=_l(M("The Discord user")), reason=_l(M("Why you look (optional; logged)"))
    )
    async def lookup(
        interaction: discord.Interaction,
        user: discord.User,
        reason: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        await admin.run(interaction, lambda mod, key: admin.lookup(mod, user, reason))

    @group.command(name="cases", description=_l(M("The open refund and help requests")))
    async def cases(interaction: discord.Interaction) -> None:
        await admin.run(interaction, lambda mod, key: admin.cases(mod))

    @group.command(
        name="decide",
        description=_l(M("Approve or deny a refund request, or close a help request")),
    )
    @app_commands.describe(
        case=_l(M("The request, e.g. #1a2b3c4d")),
        decision=_l(M("Approve or deny")),
        reason=_l(M("Why (kept in the audit trail)")),
    )
    @app_commands.choices(
        decision=[
            app_commands.Choice(name="approve", value="approve"),
            app_commands.Choice(name="deny", value="deny"),
        ]
    )
    async def decide(
        interaction: discord.Interaction,
        case: app_commands.Range[str, 4, 40],
        decision: app_commands.Choice[str],
        reason: REASON,
    ) -> None:
        await admin.run(
            interaction,
            lambda mod, key: admin.decide(mod, key, case, decision.value == "approve", reason),
        )

    @group.command(name="credits", description=_l(M("Grant or remove credits")))
    @app_commands.describe(
        action=_l(M("Grant or remove")),
        user=_l(M("The Discord user")),
        amount=_l(M("How many credits")),
        reason=_l(M("Why (kept in the audit trail)")),
    )
    @app_commands.choices(
        action=[
            app_commands.Choice(name="grant", value="grant"),
            app_commands.Choice(name="remove", value="remove"),
        ]
    )
    async def credits(
        interaction: discord.Interaction,
        action: app_commands.Choice[str],
        user: discord.User,
        amount: app_commands.Range[int, 1, 1_000_000],
        reason: REASON,
    ) -> None:
        await admin.run(
            interaction,
            lambda mod, key: admin.credits(mod, key, action.value, user, amount, reason),
        )

    @group.command(name="restriction", description=_l(M("Review a device-limit restriction")))
    @app_commands.describe(
        user=_l(M("The Discord user")),
        decision=_l(M("Lift or keep")),
        reason=_l(M("Why (kept in the audit trail)")),
    )
    @app_commands.choices(
        decision=[
            app_commands.Choice(name="lift", value="lift"),
            app_commands.Choice(name="keep", value="keep"),
        ]
    )
    async def restriction(
        interaction: discord.Interaction,
        user: discord.User,
        decision: app_commands.Choice[str],
        reason: REASON,
    ) -> None:
        await admin.run(
            interaction, lambda mod, key: admin.restriction(mod, key, user, decision.value, reason)
        )

    @group.command(name="plan", description=_l(M("Change a user's plan now, without a charge")))
    @app_commands.describe(
        user=_l(M("The Discord user")),
        plan=_l(M("The new plan")),
        reason=_l(M("Why (kept in the audit trail)")),
    )
    @app_commands.choices(plan=plans)
    async def plan(
        interaction: discord.Interaction,
        user: discord.User,
        plan: app_commands.Choice[str],
        reason: REASON,
    ) -> None:
        await admin.run(
            interaction, lambda mod, key: admin.plan(mod, key, user, plan.value, reason)
        )

    @group.command(name="link", description=_l(M("Link a Discord user to a product account")))
    @app_commands.describe(
        user=_l(M("The Discord user")),
        email=_l(M("The account's email address")),
        reason=_l(M("Why (kept in the audit trail)")),
    )
    async def link(
        interaction: discord.Interaction,
        user: discord.User,
        email: app_commands.Range[str, 3, 254],
        reason: REASON,
    ) -> None:
        await admin.run(interaction, lambda mod, key: admin.link(mod, key, user, email, reason))

    @group.command(name="audit", description=_l(M("A user's audit trail")))
    @app_commands.describe(
        user=_l(M("The Discord user")), reason=_l(M("Why you look (optional; logged)"))
    )
    async def audit(
        interaction: discord.Interaction,
        user: discord.User,
        reason: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        await admin.run(interaction, lambda mod, key: admin.audit(mod, user, reason))

    @group.command(
        name="stats", description=_l(M("Requests, cancellations, saves and refunds this week"))
    )
    async def stats(interaction: discord.Interaction) -> None:
        await admin.run(interaction, lambda mod, key: admin.stats(mod))

    return group
