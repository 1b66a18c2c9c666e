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


@pytest.fixture
async def moderated(tmp_path):
    """With a moderators' channel (MOD_CHANNEL_ID): requests for a moderator reach one."""
    app = await build(Settings(database_url=f"sqlite:///{tmp_path / 'mod.db'}", clock="simulated",
                               mod_channel_id=345678901234567890))
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
    assert "Add a comment\nYour comment (optional)\nAn empty line skips it.\n" in out  # one line each
    # The confirmation shows the reason and the comment, quoted.
    confirm = out[out.index("Please confirm: cancel auto-renewal"):out.index("Auto-renewal cancelled.")]
    assert "Your reason: Results not good enough." in confirm
    assert "Your comment: “The faces come out wrong.”" in confirm
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
        "what's the weather like on mars",
        "/language fa",
        "/credits",
        "/language xx",
        "/language auto",
        "wie kann ich mein Abo kündigen?",
    ])
    assert status == 0
    english, persian, german = out.split("/language")[0], out, out[out.rindex("\n\n"):]
    assert "You can cancel auto-renewal at any time." in english and "[1] Cancel renewal" in english
    assert "I can help with your subscription" in english  # no question for us, but spoken to: the menu
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
    engine = FlowEngine(app.core, app.db, app.flow_timeout)
    answer = await engine.answer(decision.intents[-1], "console:ana")
    assert locales.render(answer.reply.lines[0], "en").replace("\u202f", " ") in out


async def test_unknown_commands_and_numbers_are_explained(app) -> None:
    status, out = await session(app, ["/nope", "42"], lang="en")
    assert status == 0
    assert "Unknown command /nope. Type /help to see the commands." in out
    assert "Please type one of the numbers shown, or a command such as /help." in out


async def test_help_lists_the_commands_and_reaches_a_moderator(moderated) -> None:
    status, out = await session(moderated, ["/help", "1", "2"])  # Talk to a moderator, then Send
    assert status == 0
    assert ("Commands: /subscription, /cancel, /resume, /plan, /topup, /credits, /refund, /link CODE, "
            "/reminders on|off, /language CODE, /quit.") in out
    assert "A moderator will get back to you." in out
    assert len(await moderated.core.cases.list()) == 1


async def test_without_a_moderators_channel_nobody_is_told_it_was_sent(app) -> None:
    status, out = await session(app, ["/help", "1", "/cancel", "9"])  # the help flow; a flow's own button
    assert status == 0
    assert out.count("No moderators' channel is set up for me here") == 2
    assert "A moderator will get back to you." not in out and "is with the moderators" not in out
    assert await app.core.cases.list() == []


async def test_a_description_for_the_moderators_is_shown_before_it_is_sent(moderated) -> None:
    status, out = await session(moderated, [
        "/help", "1",
        "1", "My invoice shows two charges.",  # Describe the problem: typed, not sent
        "2", "My invoice shows two charges of $19.99.",  # Write it again
        "1",  # Send to a moderator
    ])
    assert status == 0
    review = out[out.index("Your message for the moderators:"):]
    assert "Your message for the moderators: “My invoice shows two charges.”" in review
    assert "Nothing is sent until you press “Send to a moderator”." in review
    assert "[1] Send to a moderator\n  [2] Write it again\n  [3] Never mind" in review
    assert out.index("Your message for the moderators:") < out.index("A moderator will get back to you.")
    [case] = await moderated.core.cases.list()
    assert case.context["details"] == "My invoice shows two charges of $19.99."


async def test_small_talk_gets_a_word_and_garbage_the_menu_as_in_a_dm(app) -> None:
    status, out = await session(app, ["hi", "thanks!", "-1", "سلام"], lang="en")
    assert status == 0
    assert out.count("Hi! What can I help you with?") == 2
    assert "You're welcome! If anything else comes up, just ask." in out
    assert out.count("I can help with your subscription") == 1  # "-1" alone: the menu, as a DM gets it


async def test_refund_link_and_reminders_run_what_the_slash_commands_run(app, moderated) -> None:
    status, out = await session(app, ["/refund", "/link", "/link WRONGCODE", "/reminders", "/reminders on"], lang="en")
    assert status == 0
    assert "Refunds are handled by our team directly" in out  # no moderators' channel: no intake
    assert "Get a one-time link code for your account, then use /link CODE here." in out
    assert "This link code is unknown, already used or expired. Please ask for a new one." in out
    assert "Type /reminders on or /reminders off." in out
    assert "Renewal reminders are on: I will send you a DM 3 days before each renewal." in out
    assert (await app.core.users.get("console:ana")).reminders
    status, out = await session(moderated, ["/refund", "/reminders off"], lang="en")
    assert "Let's look at your refund request together." in out and "Which charge is it about?" in out
    assert "Renewal reminders are off." in out
    status, out = await session(moderated, ["I was charged twice, I want my money back"], lang="en")
    assert "Let's look at your refund request together." in out  # a refund question: the intake, as in a DM


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
