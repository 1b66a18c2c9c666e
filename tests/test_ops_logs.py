"""LOG_FORMAT=json, and what no log line may hold: the token, a message's text, an interaction's
token; at the places that handle them, with discord.py's own DEBUG lines on."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest

from bot.json_logs import log_handler
from tests.bot_harness import ALICE, BOB, SUPPORT, TOKEN, Harness

SECRET_WORDS = "quokka-marmalade-4417"  # in every message users write below


@pytest.fixture
def json_log():
    """Everything logged, at DEBUG (discord.py's payload lines too), as the JSON handler writes it."""
    stream = io.StringIO()
    handler = log_handler("json", TOKEN, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_logs_never_hold_the_token_or_what_users_wrote(tmp_path, json_log, monkeypatch):
    async with Harness.open(tmp_path) as h:
        await h.account(ALICE)
        await h.start_bot()
        # Answered in a support channel, and in a DM (the language picker and the model read the text).
        await h.double.say(ALICE, "support", f"how can I cancel my subscription? {SECRET_WORDS}")
        await h.double.next_message("support")
        await h.double.say(ALICE, h.double.dm_channel(ALICE), f"when does my plan renew? {SECRET_WORDS}")
        await h.double.next_message(dm_of=ALICE)
        await h.double.say(ALICE, "support", f"I want a refund {SECRET_WORDS}", mentions_bot=True)
        await h.double.next_message("support")  # no moderators' channel: a word on where refunds go
        # Answering fails: the failure is logged with its traceback, at the site that holds the text.
        async def broken(*args, **kwargs):
            raise RuntimeError("the answer could not be made")

        monkeypatch.setattr(h.bot.engine, "answer", broken)
        await h.double.say(BOB, "support", f"how can I cancel my subscription? {SECRET_WORDS}")
        await h.double.world.wait_until(
            lambda: True if "the answer could not be made" in json_log.getvalue() else None, 5, "the failure's log line")
        # Commands: interaction tokens travel in callback and webhook URLs.
        await h.command(ALICE, "subscription", channel=SUPPORT)
        reasons = await h.command(ALICE, "cancel")
        await h.press(ALICE, reasons, "Never mind")
        interaction_tokens = [i.token for i in h.double.world.interactions.values()]

    text = json_log.getvalue()
    assert "WebSocket Event" in text and "<payload omitted>" in text  # discord.py's DEBUG lines were there
    assert TOKEN not in text
    assert SECRET_WORDS not in text
    assert interaction_tokens and not any(token in text for token in interaction_tokens)
    lines = entries(json_log)
    assert all({"time", "level", "logger", "event"} <= set(line) for line in lines)
    failure = next(line for line in lines if "answering message" in line["event"])
    assert failure["level"] == "ERROR" and "RuntimeError" in failure["error"]
    answered = [line for line in lines if line.get("command") == "/cancel"]
    assert answered and answered[0]["outcome"] == "ok" and isinstance(answered[0]["duration_ms"], int)
    ended = next(line for line in lines if line.get("flow") == "cancel" and line.get("outcome") == "abandoned")
    assert ended["logger"] == "bot.observe"


def test_a_json_line_and_the_token_replaced():
    stream = io.StringIO()
    logger = logging.getLogger("tests.ops_logs")
    handler = log_handler("json", TOKEN, stream)
    logger.addHandler(handler)
    try:
        logger.warning("login with %s failed", TOKEN, extra={"outcome": "error", "duration_ms": 12})
        logger.warning("POST /api/v10/webhooks/123/%s/messages/@original", "a" * 60)
    finally:
        logger.removeHandler(handler)
    first, second = entries(stream)
    assert first["event"] == "login with <redacted> failed" and first["level"] == "WARNING"
    assert first["logger"] == "tests.ops_logs" and first["outcome"] == "error" and first["duration_ms"] == 12
    assert datetime.fromisoformat(first["time"]).tzinfo == UTC
    assert second["event"] == "POST /api/v10/webhooks/123/<redacted>/messages/@original"


def test_text_format_redacts_too():
    stream = io.StringIO()
    logger = logging.getLogger("discord.http")
    handler = log_handler("text", TOKEN, stream)
    logger.addHandler(handler)
    try:
        logger.warning("%s %s has received %s", "POST", "/channels/1/messages", {"content": SECRET_WORDS})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "POST /channels/1/messages has received <payload omitted>" in line and SECRET_WORDS not in line
