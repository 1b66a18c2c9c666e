"""The flows in a terminal: ``python -m bot console [--user NAME] [--lang CODE]``.

It renders the very Reply values the Discord adapter renders, through the same
language layer, so it is both a demo for anyone without a bot token and a
test double: a script piped to stdin drives a whole session. Text lines are
printed; a select's options, the form and the buttons are numbered, and typing
a number picks one; a form asks for its fields one by one (a blank line skips
an optional field). Commands mirror the Discord ones (/refund, /link and
/reminders run what the slash commands run); anything else is answered as a
DM to the bot is (bot/support_channel.py), in the language it is written in:
an answer, "Did you mean…?", a short word for a greeting or thanks, or the menu.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any, TextIO

from babel import Locale

import locales
from bot.commands import _link as link_answer
from bot.commands import _set_reminders as reminders_answer
from bot.messages import TALK_TO_MODERATOR
from bot.refunds import NO_DESK
from core.errors import CoreError
from core.views import AccountView
from flows.engine import FlowEngine, Screen
from flows.errors import describe
from flows.replies import Button, Form, M, Msg, Option, Reply

COMMANDS = {
    "/subscription": "status",
    "/cancel": "cancel",
    "/resume": "resume",
    "/plan": "plan",
    "/topup": "topup",
    "/credits": "credits",
}
DEMO_PLAN = "plus"
DEMO_TOPUP_CREDITS = 500


@dataclass(frozen=True)
class _Choice:
    """One numbered control of the screen on show."""

    screen: Screen
    option: Option | None = None
    form: Form | None = None
    button: Button | None = None


def demo_name(user: str) -> str:
    """A name that is safe in an email address and an owner id: 'Ana Lima' -> 'ana-lima'."""
    return re.sub(r"[^a-z0-9._-]+", "-", (user or "").strip().lower()).strip("-.") or "demo"


async def seed_demo_account(core: Any, name: str) -> AccountView:
    """The demo account for console:NAME: Plus and a 500-credit top-up, created once (idempotent keys)."""
    owner = f"console:{name}"
    account = await core.account_for_discord(owner)
    email = f"{name}@demo.local"
    if account is None:
        plan = DEMO_PLAN if DEMO_PLAN in core.catalog.plans else core.catalog.paid_plans()[0].id
        account = await core.create_account(email, key=f"console-seed:{name}", discord_id=owner, plan=plan,
                                            actor="console")
    if account.email == email and core.catalog.bundles:  # ours: make sure the top-up went through once
        bundles = sorted(core.catalog.bundles.values(), key=lambda b: (b.credits != DEMO_TOPUP_CREDITS, b.credits))
        await core.buy_topup(account.account_id, bundles[0].id, key=f"console-seed-topup:{name}", actor="console")
    return account


class Console:
    def __init__(self, app: Any, name: str, lang: str | None, stdin: TextIO, stdout: TextIO) -> None:
        self.app = app
        self.owner = f"console:{name}"
        self.engine = FlowEngine(app.core, app.db, app.flow_timeout, moderators=app.settings.mod_channel_id is not None)
        self.saved = lang
        self.stdin = stdin
        self.stdout = stdout
        self.choices: list[_Choice] = []

    # ----- output ---------------------------------------------------------------------------

    async def language(self, text: str | None = None) -> str:
        prefs = await self.app.core.users.get(self.owner)
        return locales.choose_language(text, saved=self.saved or prefs.language, recent=prefs.recent_language,
                                       default=self.app.settings.default_locale)

    def say(self, lang: str, *msgs: Msg) -> None:
        for msg in msgs:
            self.stdout.write(locales.render(msg, lang) + "\n")
        self.stdout.flush()

    def show(self, screen: Screen, lang: str) -> None:
        reply = screen.reply
        self.stdout.write("\n")
        self.say(lang, *reply.lines)
        if screen.notice and self.choices:
            # A notice leaves the screen before it in force: repeat its choices.
            self._list(lang)
            return
        self.choices = self._controls(screen, reply)
        self._list(lang)

    def _controls(self, screen: Screen, reply: Reply) -> list[_Choice]:
        """As on Discord (bot/render.py): a button whose action is the form's opens the form; a
        form no button names gets a choice of its own, labelled with its title."""
        form = reply.form
        found = [_Choice(screen, option=o) for o in (reply.select.options if reply.select else ())]
        if form and not any(b.action == form.action for b in reply.buttons):
            found.append(_Choice(screen, form=form))
        found += [_Choice(screen, form=form if form and b.action == form.action else None, button=b)
                  for b in reply.buttons]
        return found

    def _list(self, lang: str) -> None:
        select = self.choices[0].screen.reply.select if self.choices else None
        if select:
            self.say(lang, select.placeholder)
        for n, choice in enumerate(self.choices, 1):
            if choice.option:
                label = locales.render(choice.option.label, lang)
                if choice.option.description:
                    label += " — " + locales.render(choice.option.description, lang)
            elif choice.button:
                label = locales.render(choice.button.label, lang)
            else:
                label = locales.render(choice.form.title, lang)
            self.stdout.write(f"  [{n}] {label}\n")
        self.stdout.flush()

    # ----- input ----------------------------------------------------------------------------

    async def read(self) -> str | None:
        if self.stdin.isatty():
            self.stdout.write("> ")
            self.stdout.flush()
        line = await asyncio.to_thread(self.stdin.readline)
        return None if line == "" else line.rstrip("\r\n")

    async def run(self) -> int:
        lang = await self.language()
        self.say(lang, M("Console for {user}. Type /help to see the commands, or ask a question.", user=self.owner))
        while (line := await self.read()) is not None:
            line = line.strip()
            if not line:
                continue
            await self.app.refresh_clock()
            if line.lower() in ("/quit", "/exit"):
                return 0
            if line.isdecimal() and len(line) <= 9:  # any script's digits; never "²" or 5,000 digits
                await self.pick(int(line))
            elif line.startswith("/"):
                await self.command(line)
            else:
                await self.question(line)
        return 0

    async def pick(self, number: int) -> None:
        lang = await self.language()
        if not 1 <= number <= len(self.choices):
            self.say(lang, M("Please type one of the numbers shown, or a command such as /help."))
            return
        choice = self.choices[number - 1]
        screen = choice.screen
        if choice.option:
            select = screen.reply.select
            result = await self.engine.handle(screen.flow_id, screen.step, self.owner, select.action, value=choice.option.value)
        elif choice.form:
            fields = await self.fill(choice.form, lang)
            if fields is None:
                return
            result = await self.engine.handle(screen.flow_id, screen.step, self.owner, choice.form.action, fields=fields)
        elif choice.button.action.startswith("start:"):
            result = await self.engine.start(choice.button.action.removeprefix("start:"), self.owner)
        elif choice.button.action.startswith("answer:"):
            result = await self.engine.answer(choice.button.action.removeprefix("answer:"), self.owner)
        else:
            result = await self.engine.handle(screen.flow_id, screen.step, self.owner, choice.button.action)
        self.show(result, await self.language())

    async def fill(self, form: Form, lang: str) -> dict[str, str] | None:
        self.say(lang, form.title)
        fields: dict[str, str] = {}
        for field in form.fields:
            while True:
                hint = M("An empty line skips it.") if not field.required else M("This one is needed.")
                # The field, then how to answer it, each on its own line.
                self.say(lang, field.label, hint)
                value = await self.read()
                if value is None:
                    return None
                if value.strip() or not field.required:
                    fields[field.name] = value
                    break
        return fields

    async def command(self, line: str) -> None:
        name, _, rest = line.partition(" ")
        name = name.lower()
        if name in COMMANDS:
            screen = await self.engine.start(COMMANDS[name], self.owner)
            self.show(screen, await self.language())
        elif name == "/help":
            await self.help()
        elif name == "/language":
            await self.set_language(rest.strip())
        elif name == "/refund":
            await self.refund(await self.language())
        elif name == "/link":
            await self.link(rest.strip())
        elif name == "/reminders":
            await self.reminders(rest.strip().lower())
        else:
            self.say(await self.language(), M("Unknown command {command}. Type /help to see the commands.", command=name))

    async def help(self) -> None:
        lines = (
            M("Commands: /subscription, /cancel, /resume, /plan, /topup, /credits, /refund, /link CODE, "
              "/reminders on|off, /language CODE, /quit."),
            M("Or just ask a question, in your own language."),
        )
        self.show(Screen(None, "help", "commands", Reply(lines, buttons=(TALK_TO_MODERATOR,), final=True),
                         self.owner),
                  await self.language())

    async def refund(self, lang: str) -> None:
        """As /refund (or a refund question) in a DM: the intake runs right here; without a
        moderators' channel there is nobody to decide, and it says so (bot/refunds.py)."""
        if not self.engine.moderators:
            self.say(lang, NO_DESK)
            return
        self.show(await self.engine.start("refund", self.owner), lang)

    async def link(self, code: str) -> None:
        """As /link CODE: the same answer; each use is its own attempt (a new key)."""
        if not 4 <= len(code) <= 32:  # what Discord's option allows
            self.say(await self.language(), M("Get a one-time link code for your account, then use /link CODE here."))
            return
        self.show(await link_answer(self.app.core, code, self.owner, uuid.uuid4().int), await self.language())

    async def reminders(self, state: str) -> None:
        """As /reminders on|off."""
        if state not in ("on", "off"):
            self.say(await self.language(), M("Type /reminders on or /reminders off."))
            return
        self.show(await reminders_answer(self.app.core, self.owner, state == "on"), await self.language())

    async def set_language(self, code: str) -> None:
        users = self.app.core.users
        if code.lower() == "auto":
            self.saved = None
            await users.set_language(self.owner, None)
            self.say(await self.language(), M("I'll answer in the language you write in."))
            return
        chosen = locales.normalise_code(code)
        if chosen is None:
            self.say(await self.language(), M("I can answer in: {languages}. Type /language CODE, or /language auto.",
                                              languages=", ".join(locales.SUPPORTED)))
            return
        self.saved = chosen
        await users.set_language(self.owner, chosen)
        tag = locales.babel_locale(chosen)
        self.say(chosen, M("I'll answer in {language} from now on.", language=Locale.parse(tag).get_display_name(tag)))

    async def question(self, text: str) -> None:
        """As in a DM (bot/support_channel.py): an answer, "Did you mean…?", a short word for a
        greeting or thanks, or the menu when the message fits nothing."""
        lang = await self.language(text)
        await self.app.core.users.remember_language(self.owner, lang)
        decision = locales.understand(text, lang)
        talk = locales.small_talk(text) if decision.kind == "none" else None
        if decision.kind == "ask":
            screen = self.engine.did_you_mean(decision.intents, self.owner)
        elif decision.kind == "answer" and decision.intents[0] == "refund":
            await self.refund(lang)  # as in a DM: the intake starts right here
            return
        elif decision.kind == "answer":
            screen = await self.engine.answer(decision.intents[0], self.owner)
        elif talk:
            screen = self.engine.small_talk(talk, self.owner)
        else:  # spoken to, as in a DM: the menu rather than silence
            screen = await self.engine.answer("none", self.owner)
        self.show(screen, lang)


async def run_console(app: Any, user: str, lang: str | None, stdin: TextIO, stdout: TextIO) -> int:
    """Run a console session for ``user`` until /quit or the end of input; the exit status."""
    saved = locales.normalise_code(lang) if lang else None
    if lang and saved is None:  # the CLI turns this into one line and exit status 2
        raise ValueError(f"--lang: expected one of {', '.join(locales.SUPPORTED)}, got {lang!r}")
    name = demo_name(user)
    try:
        await seed_demo_account(app.core, name)
    except CoreError as err:
        stdout.write(locales.render(describe(err, app.core.catalog), saved or app.settings.default_locale) + "\n")
        return 1
    return await Console(app, name, saved, stdin, stdout).run()
