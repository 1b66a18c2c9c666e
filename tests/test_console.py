"""The console: scripted sessions on piped input, the same flows and screens as on Discord."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path

import pytest

import locales
from bot.bootstrap import build
from bot.console import run_console
from bot.settings import Settings
from flows.answers import TOPICS
from flows.engine import FlowEngine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def app(tmp_path):
    app = await build(Settings(database_url=f"sqlite:///{tmp_path / 'console.db'}", clock="simulated"))
    yield app
    await app.close()


async def session(app, script: list[str], user: str = "ana", lang: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    status = await run_console(app, user, lang, io.StringIO("\n".join(script) + "\n"), out)
    # Read as plain text: no narrow spaces before AM/PM, no bidi marks around right-to-left text.
    return status, out.getvalue().replace("\u202f", " ").translate(dict.fromkeys(map(ord, "\u200e\u200f\u2068\u2069")))


async def test_cancel_check_resume_then_upgrade_with_the_proration_shown_first(app) -> None:
    status, out = await session(app, [
        "/cancel",
        "1",  # reason: Too expensive
        "2",  # comment: Skip
        "3",  # the offer: Continue to cancel
        "1",  # Cancel renewal
        "/subscription",
        "/resume",
        "1",  # Resume auto-renew
        "/quit",
    ])
    assert status == 0
    assert "[1] Too expensive" in out and "[8] Other" in out and "[9] Talk to a moderator" in out
    assert "[1] Switch to Basic\n  [2] Keep my plan\n  [3] Continue to cancel" in out
    assert "Your 500 top-up credits stay: top-up credits never expire." in out
    assert "[1] Cancel renewal" in out
    assert ("Auto-renewal cancelled. You keep access to Plus until December 1, 2026, 12:00 PM UTC; your subscription "
            "credits end then; your top-up credits stay.") in out
    status_screen = out[out.rindex("Plan: Plus"):]
    assert "Auto-renew is off: you keep Plus until December 1, 2026, 12:00 PM UTC" in status_screen
    assert "Auto-renew is on again. Your next billing is December 1, 2026, 12:00 PM UTC, $19.99." in out
    account = await app.core.account_for_discord("console:ana")
    assert not account.cancel_at_period_end

    # Ten days on, a second session (the demo account is not seeded again) upgrades now.
    await app.advance_clock(timedelta(days=10))
    status, out = await session(app, ["/plan", "2", "1", "1"])  # Pro, Now, Pay and upgrade
    assert status == 0
    summary = out[out.index("Upgrade from Plus to Pro, starting now."):out.index("You're now on Pro.")]
    # 19.99 × 20 unused days / 30 = 13.33 credited; 49.99 − 13.33 charged
    assert "Credit for the unused part of your Plus period: $13.33" in summary
    assert "Charged now: $36.66." in summary
    assert "[1] Pay $36.66 and upgrade" in summary
    assert "Charged $36.66 on November 11, 2026, 12:00 PM UTC, after a credit of $13.33" in out
    invoices = await app.core.invoices(account.account_id)
    assert sorted(i.kind for i in invoices) == ["subscription", "topup", "upgrade"]  # seeded once


async def test_a_comment_form_asks_for_its_field(app) -> None:
    status, out = await session(app, ["/cancel", "4", "1", "The faces come out wrong.", "3", "1"])
    assert status == 0
    assert "Your comment (optional) An empty line skips it." in out
    assert "Auto-renewal cancelled." in out
    [cancel] = [r for r in await app.core.audit_trail((await app.core.account_for_discord("console:ana")).account_id)
                if r["action"] == "cancel"]
    assert cancel["details"]["request"]["comment"] == "The faces come out wrong."


async def test_a_blank_line_skips_an_optional_field(app) -> None:
    status, out = await session(app, ["/cancel", "4", "1", "", "3", "1"])
    assert status == 0 and "Auto-renewal cancelled." in out


async def test_questions_are_answered_and_the_language_can_be_chosen(app) -> None:
    status, out = await session(app, [
        "how can I cancel my subscription?",
        "hello there",
        "/language fa",
        "/credits",
        "/language xx",
        "/language auto",
        "wie kann ich mein Abo kündigen?",
    ])
    assert status == 0
    english, persian, german = out.split("/language")[0], out, out[out.rindex("\n\n"):]
    assert "You can cancel auto-renewal at any time." in english and "[1] Cancel renewal" in english
    assert "I can help with your subscription" in english  # "hello there" is no question for us: the menu
    # Persian once chosen (the words may be translated; the numbers and dates are Persian either way).
    assert "۵۰۰" in persian and "آذر ۱۴۰۵" in persian
    assert "en, fa, ar, es, tr, ru, de, fr, pt" in persian  # the choices, after an unknown code
    # Back to automatic: a German question is answered in German, with German dates.
    assert "1. Dezember 2026, 12:00 UTC" in german
    prefs = await app.core.users.get("console:ana")
    assert prefs.language is None and prefs.recent_language == "de"


async def test_an_unclear_question_offers_topics_and_a_number_answers_one(app) -> None:
    unclear = "what about my plan?"
    decision = locales.understand(unclear, "en")
    assert decision.kind == "ask", decision.scores()[:4]
    status, out = await session(app, [unclear, str(len(decision.intents))], lang="en")
    assert status == 0
    assert "Did you mean…?" in out
    for n, intent in enumerate(decision.intents, 1):
        assert f"[{n}] {locales.render(TOPICS[intent], 'en')}" in out
    # The last topic, picked by its number: its answer follows, with the account's own facts.
    engine = FlowEngine(app.core, app.flow_timeout)
    answer = await engine.answer(decision.intents[-1], "console:ana")
    assert locales.render(answer.reply.lines[0], "en").replace("\u202f", " ") in out


async def test_unknown_commands_and_numbers_are_explained(app) -> None:
    status, out = await session(app, ["/nope", "42"], lang="en")
    assert status == 0
    assert "Unknown command /nope. Type /help to see the commands." in out
    assert "Please type one of the numbers shown, or a command such as /help." in out


async def test_help_lists_the_commands_and_reaches_a_moderator(app) -> None:
    status, out = await session(app, ["/help", "1", "2"])  # Talk to a moderator, then Send
    assert status == 0
    assert "Commands: /subscription, /cancel, /resume, /plan, /topup, /credits, /language CODE, /quit." in out
    assert "A moderator will get back to you." in out
    assert len(await app.core.cases.list()) == 1


async def test_end_of_input_ends_cleanly(app) -> None:
    out = io.StringIO()
    assert await run_console(app, "ana", None, io.StringIO(""), out) == 0
    assert out.getvalue().startswith("Console for console:ana.")


async def test_an_unknown_language_is_a_usage_error(app) -> None:
    with pytest.raises(ValueError, match="--lang"):
        await run_console(app, "ana", "klingon", io.StringIO(""), io.StringIO())


@pytest.mark.skipif(find_spec("bot.__main__") is None, reason="python -m bot is not there yet")
def test_python_m_bot_console_as_a_subprocess(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'sub.db'}", "CLOCK": "simulated",
           "PYTHONPATH": str(ROOT)}
    env.pop("DISCORD_TOKEN", None)
    run = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--user", "sam"],
        input="/subscription\n/plan\n1\n1\n", capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "Plan: Plus ($19.99 a month)." in run.stdout
    assert "Switch from Plus to Basic at the end of your period" in run.stdout
    assert "Done: you'll move from Plus to Basic" in run.stdout
    assert run.stderr == ""
