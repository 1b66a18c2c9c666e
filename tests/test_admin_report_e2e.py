"""/admin report end to end, and the question decisions it counts, through real discord.py and the
local Discord double.

A moderator gets one ephemeral answer: the numbers as text in their language, with the chart
(a PNG of the expected size) and the CSV attached; the latest comments follow, ephemeral
too, as plain text that pings nobody. Chat messages addressed to the bot leave a record of
the decision only (never their text), which the report counts.
"""

from __future__ import annotations

import asyncio
import csv
import io
import struct

import pytest

from bot.report_chart import HEIGHT, WIDTH
from core.report import WeekFigures, week_starts
from locales.formatting import format_day
from tests.bot_harness import ALICE, BOB, CAROL, Harness
from tests.discord_double import DoubleTimeout, Message
from tests.refund_harness import MODERATOR, checked


@pytest.fixture
async def h(tmp_path):
    async with checked(tmp_path) as harness:
        yield harness


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (the first chunk, right after the signature)."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def upload(h: Harness, message: Message, filename: str) -> bytes:
    [attachment] = [a for a in message.attachments if a["filename"] == filename]
    return h.double.world.uploads[attachment["id"]]


async def question_rows(h: Harness, count: int) -> list[dict]:
    """The recorded decisions, once ``count`` are there (a message without a reply gives no other sign)."""
    for _ in range(100):
        async with h.app.db.read() as tx:
            rows = await tx.fetchall("SELECT * FROM question_log ORDER BY created_at, decision")
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} question decisions expected, found {len(rows)}")


def weeks_to_now(h: Harness, n: int) -> list[str]:
    return [WeekFigures(start).label for start in week_starts(h.app.clock.now(), n)]


async def test_a_moderator_gets_the_numbers_the_chart_and_the_csv_and_then_the_latest_comments(h):
    alice = await h.account(ALICE)
    await h.app.core.cancel(alice.account_id, "too_expensive", "Way too *pricey* @everyone <@3002>", key="cancel:1")
    await h.start_bot()
    handle = await h.double.slash(MODERATOR, "admin report", {"weeks": 3})
    reply = await handle.response()

    assert reply.ephemeral
    first = week_starts(h.app.clock.now(), 3)[0]
    today = format_day(h.app.clock.now().date(), "en")
    assert reply.content.startswith(f"Report for the last 3 weeks, {format_day(first.date(), 'en')} to {today}")
    assert "Cancellations by reason: 1" in reply.content and "Too expensive: 1, with a comment: 1" in reply.content
    assert "pricey" not in reply.content  # comments come separately, after the numbers
    assert [a["filename"] for a in reply.attachments] == ["report.png", "report.csv"]
    chart = upload(h, reply, "report.png")
    assert png_size(chart) == (WIDTH, HEIGHT)
    from PIL import Image  # pillow comes with matplotlib

    with Image.open(io.BytesIO(chart)) as image:
        image.load()  # decodes every pixel
        assert image.size == (WIDTH, HEIGHT) and image.format == "PNG"
    rows = list(csv.DictReader(io.StringIO(upload(h, reply, "report.csv").decode())))
    assert [r["week"] for r in rows] == weeks_to_now(h, 3)
    assert [r["cancel_too_expensive"] for r in rows] == ["0", "0", "1"]
    assert "pricey" not in upload(h, reply, "report.csv").decode()

    comments = await handle.followup(1)
    assert comments.ephemeral
    # Plain text: markdown escaped, and the mention shown without pinging (mentions are off).
    assert comments.content.splitlines() == [
        "Latest cancellation comments, newest first:",
        "Too expensive:",
        rf"{today}: Way too \*pricey\* @everyone <@3002>",
    ]
    assert comments.mention_ids == [] and not comments.mention_everyone


async def test_the_report_speaks_the_moderators_language(h):
    await h.start_bot()
    reply = await (await h.double.slash(MODERATOR, "admin report", {}, locale="de")).response()
    first = week_starts(h.app.clock.now(), 8)[0]
    assert reply.ephemeral and format_day(first.date(), "de") in reply.content  # dates in German (Babel)
    assert [a["filename"] for a in reply.attachments] == ["report.png", "report.csv"]
    with pytest.raises(DoubleTimeout):  # no comments, no second message
        await (await h.double.slash(MODERATOR, "admin report", {})).followup(1, timeout=0.5)


async def test_chat_decisions_are_recorded_without_their_text_and_counted(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.double.say(ALICE, "support", "how do I cancel my subscription?")
    await h.double.next_message("support")
    await h.double.say(BOB, "support", "thanks, that was quick!")  # unprompted small talk: no reply
    await h.double.say(CAROL, "general", "thanks, that was quick!", mentions_bot=True)
    await h.double.next_message("general")  # the menu

    rows = await question_rows(h, 3)
    assert sorted((r["decision"], r["intent"], r["language"]) for r in rows) == [
        ("answered", "cancel", "en"), ("menu", "none", "en"), ("quiet", "none", "en")]
    assert set(rows[0]) == {"id", "intent", "language", "decision", "created_at"}  # no text, no author

    reply = await (await h.double.slash(MODERATOR, "admin report", {"weeks": 1})).response()
    assert "questions 3 (not placed 2)" in reply.content
    assert "Questions: 3; answered 1, asked which topic 0, not placed 2 (menu or greeting 1, no reply 1)" in reply.content
