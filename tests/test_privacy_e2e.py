"""/privacy and /admin forget end to end: real discord.py against the local Discord double.

A user sees what the bot keeps about them and has it forgotten with "Forget me" and a
confirmation; a double click, a restart in between, or a second request forget nothing more.
A moderator forgets another user with a reason; anyone else is refused and nothing runs.
"""

from __future__ import annotations

import json

import pytest

import locales
from bot.moderation import NOT_A_MODERATOR
from bot.privacy_text import KEEP_HEADER
from core import privacy
from tests.bot_harness import ALICE, BOB, CAROL, Harness, labels
from tests.conftest import table_counts
from tests.discord_double import Message
from tests.privacy_support import count_rows, markers, rows_holding, someone_with_data_everywhere
from tests.refund_harness import MODERATOR, MODS, as_if_allowed, checked


@pytest.fixture
async def h(tmp_path):
    async with checked(tmp_path) as harness:
        yield harness


REFUSAL = locales.render(NOT_A_MODERATOR, "en")


async def forget_records(h: Harness) -> list[dict]:
    async with h.app.db.read() as tx:
        return await tx.fetchall("SELECT actor, reason, details FROM audit_log WHERE action = ?", privacy.OPERATION)


async def nothing_left_of(h: Harness, user: int, name: str) -> None:
    assert await rows_holding(h.app.db, str(user)) == []
    for marker in markers(name):
        assert await rows_holding(h.app.db, marker) == [], marker


async def test_privacy_shows_what_is_kept_and_forget_me_forgets_once(h):
    await someone_with_data_everywhere(h.app.core, str(ALICE), "alice")
    await h.app.core.users.set_language(str(ALICE), None)  # she answers in English from now on
    await h.app.core.users.remember_language(str(ALICE), "en")
    await h.start_bot()

    shown = await h.command(ALICE, "privacy")
    assert shown.ephemeral
    for line in ("Here is what I keep about you:", "- Linked product account: a***@example.com",
                 "- Language you chose: none (I answer in the language you write in)", "- Language you last wrote to me in: English",
                 "- Renewal reminders: on", "- Conversations with me: 1",
                 "- Requests to the moderators: 2 (1 open)",
                 "- Texts you wrote (cancellation comments, refund details, notes): 3"):
        assert line in shown.content, line
    assert "alice@example.com" not in shown.content
    assert labels(shown) == ["Forget me"]

    confirm = await h.press(ALICE, shown, "Forget me")
    assert isinstance(confirm, Message) and confirm.id == shown.id  # the same message, now asking
    assert "Forget you?" in confirm.content and labels(confirm) == ["Yes, forget me", "Keep my data"]
    assert await rows_holding(h.app.db, str(ALICE)), "nothing is forgotten before the confirmation"

    # A restart between the question and the answer loses nothing: the button says it all.
    await h.stop_bot()
    await h.start_bot()
    books = await count_rows(h.app.db)
    first = await h.double.click(ALICE, confirm, label="Yes, forget me")
    second = await h.double.click(ALICE, confirm, label="Yes, forget me")  # a double click
    answers = [await first.response(), await second.response()]
    assert all("Done: I have forgotten you." in a.content for a in answers)
    assert all("link it with a new code (/link)" in a.content for a in answers)
    assert h.double.world.messages[confirm.id].components == []
    await nothing_left_of(h, ALICE, "alice")
    assert await count_rows(h.app.db) == {**books, "audit_log": books["audit_log"] + 1}
    [record] = await forget_records(h)
    assert record["actor"] == "discord:forgotten" and record["reason"] is None
    assert "3001" not in record["details"]

    # Asked again: nothing is kept, so nothing is offered and nothing changes.
    again = await h.command(ALICE, "privacy")
    assert "I keep nothing about you" in again.content and labels(again) == []
    assert len(await forget_records(h)) == 1


async def test_cancel_changes_nothing_and_the_answer_is_in_the_users_language(h):
    await h.account(CAROL)  # Carol's Discord is in German
    await h.start_bot()
    shown = await h.command(CAROL, "privacy", locale="de")
    assert shown.ephemeral and labels(shown) and "u***@example.com" in shown.content
    assert shown.content.splitlines()[0] == locales.render(KEEP_HEADER, "de")
    confirm = await h.press(CAROL, shown, labels(shown)[0])
    before = await table_counts(h.app.db)
    kept = await h.press(CAROL, confirm, labels(confirm)[1])
    assert isinstance(kept, Message) and kept.components == []
    assert await table_counts(h.app.db) == before and (await h.view(CAROL)).discord_id == str(CAROL)


async def test_someone_elses_confirmation_forgets_nobody(h):
    from tests.bot_harness import press_from_outside

    await h.account(ALICE)
    await h.account(BOB)
    await h.start_bot()
    confirm = await h.press(ALICE, await h.command(ALICE, "privacy"), "Forget me")
    refused = await (await press_from_outside(h.double, BOB, confirm, "Yes, forget me")).response()
    assert refused.ephemeral and "Only the person who asked can use this button." in refused.content
    assert (await h.view(ALICE)).discord_id == str(ALICE) and (await h.view(BOB)).discord_id == str(BOB)
    assert await forget_records(h) == []


async def test_a_moderator_forgets_a_user_and_anyone_else_is_refused(h):
    await someone_with_data_everywhere(h.app.core, str(BOB), "bob")
    await h.start_bot()
    options = {"user": BOB, "reason": "asked by email, ticket 7"}
    with pytest.raises(PermissionError):  # Discord does not offer /admin to Alice
        await h.double.slash(ALICE, "admin forget", options)
    before = await table_counts(h.app.db)
    refused = await (await as_if_allowed(h.double, ALICE, "admin forget", options)).response()
    assert refused.ephemeral and refused.content == REFUSAL
    assert await table_counts(h.app.db) == before and await forget_records(h) == []

    done = await h.command(MODERATOR, "admin forget", options)
    assert done.ephemeral and f"Forgot <@{BOB}>:" in done.content
    assert "records deleted or made anonymous" in done.content
    await nothing_left_of(h, BOB, "bob")
    [record] = await forget_records(h)
    assert (record["actor"], record["reason"]) == (f"moderator:{MODERATOR}", "asked by email, ticket 7")
    assert json.loads(record["details"])["rows"] > 0
    line = f"<@{MODERATOR}> had the bot forget a user's data. Reason: asked by email, ticket 7"
    await h.double.world.wait_until(
        lambda: any(m.content == line for m in h.double.messages_in(MODS)) or None,
        h.double.timeout, "the mod-log line")
    await nothing_left_of(h, BOB, "bob")  # the posted line named the moderator only

    again = await h.command(MODERATOR, "admin forget", options)
    assert f"Nothing is kept about <@{BOB}>. Nothing was changed." in again.content
    assert len(await forget_records(h)) == 1


async def test_a_persian_user_is_answered_in_persian_to_the_end(h):
    """The last answer too: the language is read before the settings choosing it are forgotten."""
    await h.account(ALICE)
    await h.app.core.users.set_language(str(ALICE), "fa")
    await h.start_bot()
    shown = await h.command(ALICE, "privacy")
    confirm = await h.press(ALICE, shown, labels(shown)[0])
    done = await h.press(ALICE, confirm, labels(confirm)[0])
    for message in (shown, confirm, done):
        assert all(line.startswith("\u200f") for line in message.content.splitlines()), message.content
    assert (await h.app.core.what_we_keep(str(ALICE))).language is None
