"""``/admin``: the moderators' commands (docs/bot.md, "Moderator commands").

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
Answers are ephemeral: account facts are for the moderator who asked. The bodies are in
bot/admin_reads.py and bot/admin_changes.py, what they share in bot/admin_base.py.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.admin_changes import AdminChanges
from bot.admin_reads import AdminReads
from bot.admin_report import add_report_command
from bot.cases import CaseBoard
from bot.messages import THE_DISCORD_USER, WHY_KEPT
from bot.translator import command_text
from flows.replies import M

REASON = app_commands.Range[str, 1, 500]
OPTIONAL_REASON = app_commands.Range[str, 1, 500] | None
THE_USER = command_text(THE_DISCORD_USER)
WHY = command_text(WHY_KEPT)
WHY_LOOK = command_text(M("Why you look (optional; logged)"))


class Admin(AdminReads, AdminChanges):
    """Every /admin command's body."""


def _choices(*values: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=value, value=value) for value in values]


def build_admin(app, board: CaseBoard) -> app_commands.Group:
    """The /admin group for one client (a tree owns the commands added to it)."""
    admin = Admin(app, board)
    group = app_commands.Group(
        name="admin",
        description=command_text(M("Moderator tools: accounts, refund requests, credits, plans")),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    plans = [app_commands.Choice(name=p.name, value=p.id) for p in app.catalog.plans.values()]

    @group.command(
        name="lookup",
        description=command_text(
            M("A user's plan, credits, restrictions, open requests and invoices")
        ),
    )
    @app_commands.describe(user=THE_USER, reason=WHY_LOOK)
    async def lookup(
        interaction: discord.Interaction, user: discord.User, reason: OPTIONAL_REASON = None
    ) -> None:
        await admin.run(interaction, lambda mod, key: admin.lookup(mod, user, reason))

    @group.command(name="cases", description=command_text(M("The open refund and help requests")))
    async def cases(interaction: discord.Interaction) -> None:
        await admin.run(interaction, lambda mod, key: admin.cases(mod))

    @group.command(
        name="decide",
        description=command_text(M("Approve or deny a refund request, or close a help request")),
    )
    @app_commands.describe(
        case=command_text(M("The request, e.g. #1a2b3c4d")),
        decision=command_text(M("Approve or deny")),
        reason=WHY,
    )
    @app_commands.choices(decision=_choices("approve", "deny"))
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

    @group.command(name="credits", description=command_text(M("Grant or remove credits")))
    @app_commands.describe(
        action=command_text(M("Grant or remove")),
        user=THE_USER,
        amount=command_text(M("How many credits")),
        reason=WHY,
    )
    @app_commands.choices(action=_choices("grant", "remove"))
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

    @group.command(
        name="restriction", description=command_text(M("Review a device-limit restriction"))
    )
    @app_commands.describe(user=THE_USER, decision=command_text(M("Lift or keep")), reason=WHY)
    @app_commands.choices(decision=_choices("lift", "keep"))
    async def restriction(
        interaction: discord.Interaction,
        user: discord.User,
        decision: app_commands.Choice[str],
        reason: REASON,
    ) -> None:
        await admin.run(
            interaction, lambda mod, key: admin.restriction(mod, key, user, decision.value, reason)
        )

    @group.command(
        name="plan", description=command_text(M("Change a user's plan now, without a charge"))
    )
    @app_commands.describe(user=THE_USER, plan=command_text(M("The new plan")), reason=WHY)
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

    @group.command(
        name="link", description=command_text(M("Link a Discord user to a product account"))
    )
    @app_commands.describe(
        user=THE_USER, email=command_text(M("The account's email address")), reason=WHY
    )
    async def link(
        interaction: discord.Interaction,
        user: discord.User,
        email: app_commands.Range[str, 3, 254],
        reason: REASON,
    ) -> None:
        await admin.run(interaction, lambda mod, key: admin.link(mod, key, user, email, reason))

    @group.command(name="audit", description=command_text(M("A user's audit trail")))
    @app_commands.describe(user=THE_USER, reason=WHY_LOOK)
    async def audit(
        interaction: discord.Interaction, user: discord.User, reason: OPTIONAL_REASON = None
    ) -> None:
        await admin.run(interaction, lambda mod, key: admin.audit(mod, user, reason))

    @group.command(
        name="stats",
        description=command_text(M("Requests, cancellations, saves and refunds this week")),
    )
    async def stats(interaction: discord.Interaction) -> None:
        await admin.run(interaction, lambda mod, key: admin.stats(mod))

    add_report_command(group, app)  # /admin report (bot/admin_report.py)
    return group
