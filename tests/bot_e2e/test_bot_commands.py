"""Commands end to end: synced and localised, the small ones (/link, /refund, /help), deferred
answers, renewal reminders, and a start refused when half configured."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

import bot.respond
import locales
from bot.discord_app import run_discord
from bot.refunds import NO_DESK
from bot.reminders import QUESTIONS_KEPT_FOR
from bot.settings import SettingsError
from core import question_log
from core.report import MAX_WEEKS
from flows.replies import M
from tests.bot_harness import (
    ALICE,
    BOB,
    CAROL,
    FAST_REMINDERS,
    GUILD_ID,
    Harness,
    labels,
    select_of,
)

# -- commands ------------------------------------------------------------------------------


async def test_commands_are_synced_and_localised_from_the_catalogs(h, monkeypatch):
    german = {"cancel": "kündigen", "Change your plan": "Tarif wechseln", "plan": "Tarif wechseln"}
    render = locales.render
    monkeypatch.setattr(
        locales,
        "render",
        lambda msg, lang=None: (
            german.get(msg.msgid) if lang == "de" and msg.msgid in german else render(msg, lang)
        ),
    )
    await h.start_bot()
    synced = {c["name"]: c for c in h.double.commands()}
    assert sorted(synced) == sorted(
        [
            "subscription",
            "cancel",
            "resume",
            "plan",
            "topup",
            "credits",
            "refund",
            "link",
            "language",
            "reminders",
            "help",
            "privacy",  # tests/test_privacy_e2e.py
            "admin",  # the moderators' group (tests/test_admin_e2e.py)
        ]
    )
    assert synced["cancel"]["name_localizations"] == {"de": "kündigen"}
    # "Tarif wechseln" is no command name (two words): Discord would refuse the whole sync.
    assert not synced["plan"]["name_localizations"]
    assert synced["plan"]["description_localizations"]["de"] == "Tarif wechseln"
    language = next(o for o in synced["language"]["options"] if o["name"] == "language")
    assert [c["value"] for c in language["choices"]] == [
        "en",
        "fa",
        "ar",
        "es",
        "tr",
        "ru",
        "de",
        "fr",
        "pt",
        "auto",
    ]
    assert h.double.commands(guild_id=GUILD_ID) == []


async def test_guild_ids_sync_commands_to_those_guilds_only(tmp_path):
    async with Harness.open(tmp_path, GUILD_IDS=str(GUILD_ID)) as h:
        await h.start_bot()
        assert "cancel" in {c["name"] for c in h.double.commands(guild_id=GUILD_ID)}
        assert h.double.commands() == []


# -- small commands --------------------------------------------------------------------------


async def test_link_refund_and_help(h):
    account = await h.app.core.create_account("carol@example.com", key="signup:carol", plan="basic")
    code, _ = await h.app.core.issue_link_code(account.account_id, key="code:carol")
    await h.start_bot()
    wrong = await h.command(CAROL, "link", {"code": "WRONG-CODE"})
    # Carol's Discord client is German: the refusal comes in German.
    expected = locales.render(M("This link code is unknown, already used or expired. Please ask for a new one."), "de")
    assert wrong.ephemeral and wrong.content == expected
    linked = await h.command(CAROL, "link", {"code": code})
    assert "carol@example.com" in linked.content
    assert (await h.view(CAROL)).plan == "basic"

    refund = await h.command(CAROL, "refund")
    # No MOD_CHANNEL_ID here, so no refund desk (tests/test_refunds_e2e.py has one).
    assert refund.ephemeral and refund.content == locales.render(NO_DESK, "de") and labels(refund) == []
    help_ = await h.command(CAROL, "help")
    assert "/cancel:" in help_.content and "/reminders:" in help_.content


async def test_slow_answers_are_deferred_then_delivered(h, monkeypatch):
    monkeypatch.setattr(
        bot.respond, "DEFER_AFTER", 0.0
    )  # as if the core took longer than Discord waits
    await h.account(ALICE)
    await h.start_bot()
    command = await h.double.slash(ALICE, "cancel")
    assert await command.acknowledged() == 5  # "thinking…", then the follow-up fills it
    reasons = await command.response()
    assert reasons.ephemeral and "Why are you cancelling?" in reasons.content
    pressed = await h.double.select(ALICE, reasons, select_of(reasons)["custom_id"], ["other"])
    assert await pressed.acknowledged() == 6  # deferred update, then the message is edited
    assert "Add a comment" in labels(await pressed.response())


# -- renewal reminders -------------------------------------------------------------------------


async def test_reminder_dm_goes_out_once_per_period_to_opted_in_users(h):
    await h.account(ALICE)
    await h.account(BOB)  # opted in, but does not accept DMs: logged, not retried
    await h.account(CAROL)  # not opted in: never reminded
    await h.app.core.users.set_reminders(str(BOB), True)
    h.double.set_dms_open(BOB, False)
    await h.start_bot(reminder_interval=FAST_REMINDERS)
    on = await h.command(ALICE, "reminders", {"state": "on"})
    assert "3 days before each renewal" in on.content

    await h.app.advance_clock(timedelta(days=28))  # renewal on December 1; now November 29
    reminder = await h.double.next_message(dm_of=ALICE)
    assert reminder.content.startswith("Reminder: your Plus plan renews on December 1, 2026")
    assert labels(reminder) == ["Keep renewal", "Cancel renewal", "Talk to a moderator"]
    bobs_dm = f"/channels/{h.double.dm_channel(BOB).id}/messages"
    assert [r.status for r in await h.requests_made("POST", bobs_dm, 1)] == [403]
    assert await h.bot.reminders.sweep_once() == 0  # each claimed once: nothing more this period
    kept = await h.press(ALICE, reminder, "Keep renewal")
    assert kept.id == reminder.id and kept.content.startswith("Nothing was changed.")

    await h.app.advance_clock(
        timedelta(days=30)
    )  # renewed on December 1; the next renewal is January 1
    second = await h.double.next_message(dm_of=ALICE)
    assert "January 1, 2027" in second.content
    assert [r.status for r in await h.requests_made("POST", bobs_dm, 2)] == [
        403,
        403,
    ]  # one try a period
    assert len(h.dms(ALICE)) == 2 and h.dms(CAROL) == []


async def test_run_discord_refuses_to_start_half_configured(h):
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        await run_discord(replace(h.app, settings=replace(h.app.settings, discord_token=None)))
    with pytest.raises(SettingsError, match="DISCORD_API_BASE"):
        await run_discord(
            replace(
                h.app,
                settings=replace(h.app.settings, discord_api_base="http://10.1.2.3:80/api/v10"),
            )
        )
    wrong_token = replace(h.app.settings, discord_token="not-the-token-discord-knows")
    assert (
        await run_discord(replace(h.app, settings=wrong_token)) == 2
    )  # Discord said 401: a one-line how-to


async def test_the_periodic_sweep_deletes_conversations_that_expired_a_week_ago(h):
    await h.account(ALICE)
    await h.start_bot(reminder_interval=FAST_REMINDERS)
    await h.command(ALICE, "cancel")  # a conversation left open
    await h.app.advance_clock(timedelta(days=2))

    await h.bot.reminders.sweep_once()
    assert await count(h, "flows") == 1  # expired, but less than a week ago: its button still says so
    await h.app.advance_clock(timedelta(days=7))
    await h.bot.reminders.sweep_once()
    assert await count(h, "flows") == 0


async def test_the_periodic_sweep_forgets_question_decisions_no_report_can_show(h):
    await h.start_bot(reminder_interval=FAST_REMINDERS)
    now = h.app.core.clock.now()
    oldest_shown = now - timedelta(weeks=MAX_WEEKS)
    for at in (now - QUESTIONS_KEPT_FOR - timedelta(days=1), oldest_shown, now):
        await question_log.record_question(h.app.db, intent="cancel", language="fa", decision="answered", at=at)
    await h.bot.reminders.sweep_once()
    assert await count(h, "question_log") == 2


async def count(h, table: str) -> int:
    async with h.app.db.read() as tx:
        return (await tx.fetchone(f"SELECT COUNT(*) AS n FROM {table}"))["n"]
