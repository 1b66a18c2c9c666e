"""The operator CLI: ``python -m bot [run|console|migrate|accounts|link-code|clock|sweep|report|lang|intent]``.

Exit status 0 on success, 2 on bad arguments or settings with a one-line
reason on stderr; never a traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.bootstrap import App, build
from bot.json_logs import configure_logging
from bot.report_cli import add_report_parser, run_report
from bot.settings import SettingsError, load_settings
from core.clock import parse_duration
from core.errors import CoreError
from core.views import AccountView
from storage.errors import StorageError
from storage.migrations_runner import migration_files

NO_TOKEN = (
    "DISCORD_TOKEN: not set. Create a bot at https://discord.com/developers/applications "
    "(Bot → Reset Token), put DISCORD_TOKEN=... in .env, or try `.venv/bin/python -m bot console` (`make console`), which needs no token."
)


class UsageError(Exception):
    """Bad arguments: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and status 2, as argparse does, but without the usage dump
        raise UsageError(message)


PROG = ".venv/bin/python -m bot"
EPILOG = (
    "Run it with the project's virtualenv (make run, make console and make test create it): "
    ".venv/bin/python -m bot COMMAND, or `source .venv/bin/activate` once, then python -m bot COMMAND. "
    "A bare python outside the virtualenv fails with \"No module named 'aiosqlite'\"."
)


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Subscription support bot and operator tools.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    sub.add_parser("run", help="connect to Discord and serve")
    console = sub.add_parser("console", help="the same flows in a terminal, with a seeded demo account")
    console.add_argument("--user", default="demo")
    console.add_argument("--lang", default=None)
    sub.add_parser("migrate", help="create or upgrade the database")
    accounts = sub.add_parser("accounts", help="create or show accounts").add_subparsers(dest="action", parser_class=Parser)
    add = accounts.add_parser("add", help="create an account as the product's sign-up would")
    add.add_argument("email")
    add.add_argument("--device")
    add.add_argument("--discord", type=snowflake, metavar="USER_ID", help="a Discord user id (digits)")
    add.add_argument("--plan", default="free")
    show = accounts.add_parser("show", help="print an account's subscription, credits and restrictions")
    show.add_argument("ref", metavar="EMAIL_OR_DISCORD_ID")
    code = sub.add_parser("link-code", help="print a one-time code for /link")
    code.add_argument("email")
    clock = sub.add_parser("clock", help="simulated time").add_subparsers(dest="action", parser_class=Parser)
    advance = clock.add_parser("advance", help="move simulated time on and apply what fell due")
    advance.add_argument("duration", help="how far to move it on, e.g. 31d, 6h, 90m (never back)")
    sub.add_parser("sweep", help="apply due work now")
    copy = sub.add_parser("copy-db", help="copy a SQLite database into a new, empty PostgreSQL database")
    copy.add_argument("source", metavar="SQLITE_URL")
    copy.add_argument("target", metavar="POSTGRES_URL")
    sub.add_parser("lang", help="print the reply language for each line of stdin")
    intent = sub.add_parser(
        "intent",
        help="print the decision for each line of stdin: an intent, none, or ask:INTENT,INTENT",
    )
    intent.add_argument(
        "--explain", action="store_true", help="add the language and the likeliest scores"
    )
    add_report_parser(sub)  # report --weeks N --out PNG [--csv CSV] (bot/report_cli.py)
    return parser


def main(argv: Sequence[str]) -> int:
    try:
        _refuse_moving_back(list(argv))
        args = build_parser().parse_args(list(argv))
        if args.command in ("lang", "intent"):
            from locales.cli import run_intent, run_lang

            if args.command == "lang":
                return run_lang(sys.stdin, sys.stdout)
            return run_intent(sys.stdin, sys.stdout, explain=args.explain)
        if args.command == "copy-db":
            from storage.copy import main as copy_main

            return copy_main([args.source, args.target])
        if args.command == "accounts" and not args.action:
            raise UsageError("accounts needs add or show")
        if args.command == "clock" and not args.action:
            raise UsageError("clock needs advance")
        settings = load_settings()
        configure_logging(settings)  # LOG_LEVEL, LOG_FORMAT; never the token (bot/json_logs.py)
        if args.command in (None, "run") and not settings.discord_token:
            raise SettingsError("DISCORD_TOKEN", NO_TOKEN.removeprefix("DISCORD_TOKEN: "))
        return asyncio.run(_run(args, settings))
    except (UsageError, SettingsError, CoreError, StorageError, ValueError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _refuse_moving_back(argv: list[str]) -> None:
    """`clock advance -5d`: argparse would read -5d as an unknown option and ask for a duration.

    Simulated time only moves forward (what fell due has been applied: renewals charged,
    periods ended), so a negative duration is refused, saying so."""
    if argv[:2] != ["clock", "advance"]:
        return
    for arg in argv[2:]:
        if arg.startswith("-") and arg.lstrip("-")[:1].isdigit():
            raise UsageError(
                f"the clock only moves forward: {arg!r} would move it back. Renewals and period ends "
                f"that fell due have already been applied; give a positive duration such as "
                f"{arg.lstrip('-')}, or start again with a new database."
            )


def snowflake(value: str) -> str:
    """A Discord id: 17 to 20 digits (Discord's snowflakes)."""
    if not (value.isascii() and value.isdecimal() and 17 <= len(value) <= 20):
        raise argparse.ArgumentTypeError(f"expected a Discord user id (17 to 20 digits), got {value!r}")
    return value


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


async def _run(args: argparse.Namespace, settings) -> int:
    app = await build(settings)
    if app.time_warning:
        print(f"warning: {app.time_warning}", file=sys.stderr)
    try:
        return await _dispatch(app, args)
    finally:
        await app.close()


async def _dispatch(app: App, args: argparse.Namespace) -> int:
    command = args.command
    if command in (None, "run"):
        from bot.discord_app import run_discord

        return await run_discord(app, reminder_interval=app.settings.reminder_sweep_seconds)
    if command == "console":
        from bot.console import run_console

        return await run_console(app, args.user, args.lang, sys.stdin, sys.stdout)
    if command == "migrate":
        print(migrate_report(app.migrations_applied, app.settings.database_url))
        return 0
    if command == "accounts" and args.action == "add":
        view = await app.core.create_account(
            args.email, key=f"cli:{uuid.uuid4().hex}", device_id=args.device, discord_id=args.discord, plan=args.plan,
        )
        print(f"created {view.email}")
        print(describe(view, app))
        return 0
    if command == "accounts" and args.action == "show":
        view = await app.core.find_account(args.ref)
        if view is None:
            raise CoreError("not_found", f"no account for {args.ref!r}")
        print(describe(view, app))
        invoices = await app.core.invoices(view.account_id)
        print(f"invoices: {len(invoices)}")
        for invoice in invoices:
            period = f" {invoice.period_start:%Y-%m-%d}–{invoice.period_end:%Y-%m-%d}" if invoice.period_start else ""
            print(f"  {invoice.created_at:%Y-%m-%d %H:%M} UTC  {invoice.kind:<12} {invoice.amount}{period}")
        return 0
    if command == "link-code":
        view = await app.core.find_account(args.email)
        if view is None:
            raise CoreError("not_found", f"no account for {args.email!r}")
        code, expires = await app.core.issue_link_code(view.account_id, key=f"cli:{uuid.uuid4().hex}")
        print(code)
        print(f"valid until {expires:%Y-%m-%d %H:%M} UTC; the user types /link {code} in Discord")
        return 0
    if command == "clock":
        moment = await app.advance_clock(parse_duration(args.duration))
        report = await app.core.sweep()
        print(f"simulated time is now {moment:%Y-%m-%d %H:%M} UTC")
        print(_sweep_line(report))
        return 0
    if command == "sweep":
        await app.refresh_clock()
        print(_sweep_line(await app.core.sweep()))
        return 0
    if command == "report":
        return await run_report(app, args.weeks, args.out, args.csv, sys.stdout)
    raise UsageError(f"unknown command {command!r}")


def migrate_report(applied: Sequence[str], url: str) -> str:
    """What build() did to the database: created it, upgraded it, or nothing."""
    where = database_name(url)
    if not applied:
        return f"{where} is up to date: no migration to apply"
    names = ", ".join(applied)
    n = f"{len(applied)} migration{'s' if len(applied) != 1 else ''}"
    if len(applied) == len(migration_files()):  # every migration, the first included: there was nothing before
        return f"created a new database, {where}: applied {n}: {names}"
    return f"upgraded {where}: applied {n}: {names}"


def database_name(url: str) -> str:
    """The database a DATABASE_URL names, for people: a SQLite file, or PostgreSQL's host and database
    (never the user or password)."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    parts = urlsplit(url)
    return f"PostgreSQL database {parts.path.lstrip('/') or '(default)'} on {parts.hostname or 'localhost'}"


def _sweep_line(report) -> str:
    return (f"renewed {report.renewed}, ended {report.ended}, past due {report.past_due}, "
            f"retried {report.retried}, reminders due {len(report.reminders)}")


def describe(view: AccountView, app: App) -> str:
    """The operator's view of an account, in plain English."""
    plan = app.catalog.plan(view.plan)
    lines = [f"account {view.email} ({view.account_id})"]
    lines.append(f"discord: {view.discord_id or 'not linked'}")
    status = {"free": "Free plan", "active": "active", "past_due": "past due (payment failed)"}[view.status]
    lines.append(f"plan: {plan.name} — {status}")
    if view.period_end:
        lines.append(f"period: {view.period_start:%Y-%m-%d %H:%M} – {view.period_end:%Y-%m-%d %H:%M} UTC")
    if view.cancel_at_period_end:
        lines.append(f"auto-renew: off (cancelled; access until {view.period_end:%Y-%m-%d %H:%M} UTC, then Free)")
    elif view.next_billing_at:
        lines.append(f"next billing: {view.next_billing_at:%Y-%m-%d %H:%M} UTC, {view.next_billing_amount}")
    if view.scheduled_change:
        change = view.scheduled_change
        lines.append(f"scheduled: {change.kind} to {app.catalog.plan(change.plan).name} on {change.effective_at:%Y-%m-%d %H:%M} UTC")
    if view.grace_until:
        lines.append(f"grace until: {view.grace_until:%Y-%m-%d %H:%M} UTC")
    credits = view.credits
    expiry = f" (end {credits.subscription_expires_at:%Y-%m-%d %H:%M} UTC)" if credits.subscription_expires_at else ""
    lines.append(f"credits: {credits.total} = free today {credits.free_today}, "
                 f"subscription {credits.subscription}{expiry}, top-up {credits.topup}")
    if view.restricted:
        lines.append(f"restricted: yes — {view.restriction_reason} (no daily free credits until a moderator lifts it)")
    else:
        lines.append("restricted: no")
    return "\n".join(lines)
