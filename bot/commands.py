"""The user commands (docs/bot.md, "User commands"), as application commands.

Names and descriptions are catalog messages (``M``), so the same catalogs that
translate replies feed Discord's command localisations (bot/translator.py). The
callbacks only start flows or make short answers; every answer goes through
``FlowUI.run`` (deadline, ephemeral in servers, mentions off), in the language bound
when the command came in (bot/dispatch.py).
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.messages import TALK_TO_MODERATOR
from bot.services import services
from bot.translator import command_text
from core.errors import CoreError
from core.service import SubscriptionCore
from flows.engine import Screen
from flows.replies import MP, Button, M, Msg, Reply

# Slash command names. Discord accepts a translated name only if it is one lowercase word
# (letters, digits, - or _) of at most 32 characters; bot/translator.py drops anything else.
# Translators: a slash command name: one lowercase word, no spaces.
SUBSCRIPTION = M("subscription")
# Translators: a slash command name: one lowercase word, no spaces.
CANCEL = M("cancel")
# Translators: a slash command name: one lowercase word, no spaces.
RESUME = M("resume")
# Translators: a slash command name: one lowercase word, no spaces.
PLAN = M("plan")
# Translators: a slash command name: one lowercase word, no spaces.
TOPUP = M("topup")
# Translators: a slash command name: one lowercase word, no spaces.
CREDITS = M("credits")
# Translators: a slash command name: one lowercase word, no spaces.
LINK = M("link")
# Translators: a slash command name: one lowercase word, no spaces.
LANGUAGE = M("language")
# Translators: a slash command name: one lowercase word, no spaces.
REMINDERS = M("reminders")
# Translators: a slash command name: one lowercase word, no spaces.
REFUND = M("refund")
# Translators: a slash command name: one lowercase word, no spaces.
HELP = M("help")

DESCRIPTION: dict[Msg, Msg] = {
    SUBSCRIPTION: M("Your plan, next billing date and credits"),
    CANCEL: M("Cancel auto-renewal (you keep access until the period ends)"),
    RESUME: M("Turn auto-renewal back on, or subscribe again"),
    PLAN: M("Change your plan"),
    TOPUP: M("Buy extra credits that never expire"),
    CREDITS: M("Your credits, and why free credits did not arrive"),
    LINK: M("Link your Discord account to your product account with a one-time code"),
    LANGUAGE: M("Choose the language I answer you in"),
    REMINDERS: M("Turn renewal reminders by DM on or off"),
    REFUND: M("Ask for a refund"),
    HELP: M("What I can do, and how to reach a moderator"),
}
# The commands that start a flow, and its kind (flows/engine.py).
FLOW_KIND: dict[Msg, str] = {
    SUBSCRIPTION: "status",
    CANCEL: "cancel",
    RESUME: "resume",
    PLAN: "plan",
    TOPUP: "topup",
    CREDITS: "credits",
}

# Native names: a user looks for their own language by the name they know.
LANGUAGE_NAMES = {
    "en": "English", "fa": "فارسی", "ar": "العربية", "es": "Español", "tr": "Türkçe",
    "ru": "Русский", "de": "Deutsch", "fr": "Français", "pt": "Português (Brasil)",
}  # fmt: skip
AUTO = "auto"


def _answer(actor: str, *lines: Msg, buttons: tuple[Button, ...] = ()) -> Screen:
    """A one-shot answer: no stored flow behind it, so only start:<kind> buttons."""
    return Screen(None, "answer", "answer", Reply(lines, buttons=buttons), actor)


def _flow_command(name: Msg) -> app_commands.Command:
    kind = FLOW_KIND[name]

    async def callback(interaction: discord.Interaction) -> None:
        await services(interaction).flow_ui.start_flow(interaction, kind)

    return app_commands.Command(name=command_text(name), description=command_text(DESCRIPTION[name]), callback=callback)


def build_commands() -> list[app_commands.Command]:
    """Fresh command objects for one client (a tree owns the commands added to it)."""
    commands = [_flow_command(name) for name in FLOW_KIND]

    @app_commands.command(name=command_text(LINK), description=command_text(DESCRIPTION[LINK]))
    @app_commands.describe(code=command_text(M("The one-time code you were given")))
    async def link(interaction: discord.Interaction, code: app_commands.Range[str, 4, 32]) -> None:
        parts = services(interaction)
        await parts.flow_ui.run(
            interaction,
            lambda actor: _link(parts.app.core, code, actor, interaction.id),
            new_message=True,
        )

    @app_commands.command(name=command_text(LANGUAGE), description=command_text(DESCRIPTION[LANGUAGE]))
    @app_commands.describe(language=command_text(M("The language, or automatic")))
    @app_commands.choices(
        language=[
            app_commands.Choice(name=name, value=code) for code, name in LANGUAGE_NAMES.items()
        ]
        + [
            app_commands.Choice(
                name=command_text(M("Automatic: the language I am written to in")), value=AUTO
            )
        ]
    )
    async def language(
        interaction: discord.Interaction, language: app_commands.Choice[str]
    ) -> None:
        parts = services(interaction)

        async def choose(actor: str) -> Screen:
            screen = await _set_language(parts.app.core, actor, language.value)
            # The choice changed after the language was bound: the answer is in the new one.
            await parts.picker.bind_interaction(interaction)
            return screen

        await parts.flow_ui.run(interaction, choose, new_message=True)

    @app_commands.command(name=command_text(REMINDERS), description=command_text(DESCRIPTION[REMINDERS]))
    @app_commands.describe(state=command_text(M("On or off")))
    @app_commands.choices(
        state=[
            app_commands.Choice(name=command_text(M("On: a DM before each renewal")), value="on"),
            app_commands.Choice(name=command_text(M("Off")), value="off"),
        ]
    )
    async def reminders(interaction: discord.Interaction, state: app_commands.Choice[str]) -> None:
        parts = services(interaction)
        await parts.flow_ui.run(
            interaction,
            lambda actor: _set_reminders(parts.app.core, actor, state.value == "on"),
            new_message=True,
        )

    @app_commands.command(name=command_text(REFUND), description=command_text(DESCRIPTION[REFUND]))
    async def refund(interaction: discord.Interaction) -> None:
        await services(interaction).refunds.on_command(interaction)

    @app_commands.command(name=command_text(HELP), description=command_text(DESCRIPTION[HELP]))
    async def help_(interaction: discord.Interaction) -> None:
        await services(interaction).flow_ui.run(interaction, _help_answer, new_message=True)

    return [*commands, link, language, reminders, refund, help_]


# -- the short answers -------------------------------------------------------------------


async def _link(core: SubscriptionCore, code: str, actor: str, interaction_id: int) -> Screen:
    try:
        # The interaction id is unique per use of /link: a redelivered interaction links once.
        account = await core.link_discord(code, actor, key=f"link:{interaction_id}")
    except CoreError as error:
        if error.code == "code_invalid":
            return _answer(
                actor,
                M("This link code is unknown, already used or expired. Please ask for a new one."),
            )
        if error.code == "already_linked":
            return _answer(
                actor,
                M(
                    "Your Discord account or that product account is already linked to another "
                    "one. A moderator can sort this out."
                ),
                buttons=(TALK_TO_MODERATOR,),
            )
        raise
    return _answer(
        actor,
        M(
            "Linked: your Discord account now belongs to {email}. Try /subscription.",
            email=account.email,
        ),
    )


async def _set_language(core: SubscriptionCore, actor: str, choice: str) -> Screen:
    if choice == AUTO:
        await core.users.set_language(actor, None)
        return _answer(actor, M("I will answer in the language you write to me in."))
    await core.users.set_language(actor, choice)
    return _answer(actor, M("I will answer you in {language}.", language=LANGUAGE_NAMES[choice]))


async def _set_reminders(core: SubscriptionCore, actor: str, enabled: bool) -> Screen:
    await core.users.set_reminders(actor, enabled)
    if not enabled:
        return _answer(actor, M("Renewal reminders are off."))
    on = MP(
        "Renewal reminders are on: I will send you a DM {n} day before each renewal.",
        "Renewal reminders are on: I will send you a DM {n} days before each renewal.",
        core.settings.reminder_days,
    )
    if await core.account_for_discord(actor) is None:
        return _answer(
            actor,
            on,
            M("Link your account with /link first, so I know which subscription to watch."),
        )
    return _answer(actor, on)


async def _help_answer(actor: str) -> Screen:
    listed = [(name, description) for name, description in DESCRIPTION.items() if name != HELP]
    return _answer(
        actor,
        M("Here is what I can do for you:"),
        *(
            M("/{command}: {what}", command=name.msgid, what=description)
            for name, description in listed
        ),
        M("You can also ask me in the support channel, or mention me with your question."),
        buttons=(TALK_TO_MODERATOR,),
    )
