"""The Discord adapter end to end: real discord.py, the real bot, real flows and core (SQLite,
simulated clock), against the local Discord double. Users type commands, press buttons,
fill in forms and chat; the tests read what Discord would show them and what the core holds.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace
from datetime import timedelta

import pytest

import bot.respond
import locales
from bot.discord_app import run_discord
from bot.refunds import NO_DESK
from bot.settings import SettingsError
from flows.replies import M
from tests.bot_harness import (
    ALICE,
    BOB,
    CAROL,
    FAST_REMINDERS,
    GUILD_ID,
    SUPPORT,
    Harness,
    labels,
    mentions_off_everywhere,
    press_from_outside,
    select_of,
)
from tests.discord_double import DoubleTimeout, Message, ShownModal

QUESTION = "how can I cancel my subscription?"


@pytest.fixture
async def h(tmp_path):
    async with Harness.open(tmp_path) as harness:
        yield harness
        # Whatever a test did: every message went out with mentions off, through routes Discord has.
        assert mentions_off_everywhere(harness.double) == []
        assert harness.double.unhandled_requests == []


async def audit_count(h: Harness, action: str) -> int:
    async with h.app.db.read() as tx:
        row = await tx.fetchone("SELECT COUNT(*) AS n FROM audit_log WHERE action = ?", action)
    return row["n"]


def followups_to(h: Harness, user: int) -> list[Message]:
    """Ephemeral follow-ups the bot sent (notices, apologies) to ``user``'s interactions."""
    world = h.double.world
    return [
        world.messages[mid]
        for i in world.interactions.values()
        if i.user_id == user
        for mid in i.followup_ids
    ]


async def to_confirm(h: Harness, user: int) -> Message:
    """/cancel clicked through to the final confirmation: reason, no comment, offer declined."""
    reasons = await h.command(user, "cancel")
    assert reasons.ephemeral and "Auto-renew is on" in reasons.content
    comment = await h.choose(user, reasons, "too_expensive")
    assert comment.id == reasons.id and "Add a comment" in labels(comment)
    offer = await h.press(user, comment, "Skip")
    assert "switch to Basic instead" in offer.content and "Continue to cancel" in labels(offer)
    confirm = await h.press(user, offer, "Continue to cancel")
    assert confirm.content.startswith("Please confirm: cancel auto-renewal of your Plus plan.")
    assert labels(confirm)[0] == "Cancel renewal"
    return confirm


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


async def test_cancel_clicked_through_then_subscription_shows_it(h):
    await h.account(ALICE)
    await h.start_bot()
    confirm = await to_confirm(h, ALICE)
    assert not (await h.view(ALICE)).cancel_at_period_end  # nothing changes before the final press
    result = await h.press(ALICE, confirm, "Cancel renewal")
    assert result.id == confirm.id and result.content.startswith("Auto-renewal cancelled.")
    assert labels(result) == ["Resume auto-renew"]
    receipt = await h.double.next_message(dm_of=ALICE)
    assert receipt.content == result.content and receipt.components == []
    view = await h.view(ALICE)
    assert view.cancel_at_period_end and view.cancel_reason == "too_expensive"

    status = await h.command(ALICE, "subscription")
    assert status.ephemeral
    assert "Auto-renew is off: you keep Plus until December 1, 2026" in status.content
    assert "Resume auto-renew" in labels(status)


async def test_final_confirm_pressed_twice_cancels_once_with_one_receipt(h):
    await h.account(ALICE)
    await h.start_bot()
    confirm = await to_confirm(h, ALICE)
    first = await h.double.click(ALICE, confirm, label="Cancel renewal")
    second = await h.double.click(ALICE, confirm, label="Cancel renewal")
    answers = [await first.response(), await second.response()]
    # One press edits the flow message with the result; the other is answered on its own.
    assert sorted(a.id == confirm.id for a in answers) == [False, True]
    assert all("Auto-renewal cancelled." in a.content for a in answers)
    assert await audit_count(h, "cancel") == 1
    await h.double.next_message(dm_of=ALICE)
    with pytest.raises(DoubleTimeout):
        await h.double.next_message(dm_of=ALICE, timeout=0.3)


async def test_someone_elses_button_is_refused_and_changes_nothing(h):
    await h.account(ALICE)
    await h.account(BOB)
    await h.start_bot()
    confirm = await to_confirm(h, ALICE)
    refused = await (await press_from_outside(h.double, BOB, confirm, "Cancel renewal")).response()
    assert refused.ephemeral and refused.id != confirm.id
    assert "Auto-renewal cancelled" not in refused.content
    assert (
        h.double.world.messages[confirm.id].content == confirm.content
    )  # Alice's message untouched
    assert not (await h.view(ALICE)).cancel_at_period_end
    assert not (await h.view(BOB)).cancel_at_period_end
    # Alice can still finish her own flow.
    assert (await h.press(ALICE, confirm, "Cancel renewal")).content.startswith(
        "Auto-renewal cancelled."
    )


UNKNOWN_BUTTON = "This button no longer works. Nothing was changed; start again with /help."
OLD_BUTTONS = [
    "f:0123456789abcdef0123456789abcdef:confirm",  # truncated: no action
    "v1:cancel:confirm",  # a button from an older version of the bot
    "s:no_such_flow",  # a start button for a flow that no longer exists
    "q:cancel:xx",  # a topic in a language we do not have
]


@pytest.mark.parametrize("custom_id", OLD_BUTTONS)
async def test_a_button_the_bot_cannot_place_gets_a_word_and_changes_nothing(h, custom_id):
    await h.account(ALICE)
    await h.start_bot()
    shown = await h.command(ALICE, "subscription", channel=SUPPORT)
    # An old message of the bot's that carries such a button, as Discord still shows it.
    old = await h.double.say(ALICE, "support", "an old message")
    old.author_id = h.double.bot_user.id
    old.components = [{"type": 1, "components": [
        {"type": 2, "style": 2, "label": "Old button", "custom_id": custom_id}]}]
    before = await h.view(ALICE)
    reply = await h.press(ALICE, old, "Old button")
    assert reply.ephemeral and reply.content == UNKNOWN_BUTTON
    assert await h.view(ALICE) == before
    assert shown.content  # the account's own screen is untouched


@pytest.mark.parametrize("custom_id", ["f:0123456789abcdef0123456789abcdef:s:confirm", "q:cancel:en"])
async def test_a_forged_custom_id_not_on_the_message_gets_the_same_word(h, custom_id):
    from tests.discord_double.interactions import new_interaction

    await h.account(ALICE)
    await h.start_bot()
    shown = await h.command(ALICE, "subscription", channel=SUPPORT)
    world = h.double.world
    record = new_interaction(world, kind=3, user=world.user(ALICE), channel=world.channels[shown.channel_id],
                             data={"custom_id": custom_id, "component_type": 2}, message=shown)
    reply = await (await h.double._dispatch(record)).response()
    assert reply.ephemeral and reply.content == UNKNOWN_BUTTON


async def test_plan_upgrade_now_shows_proration_then_the_new_plan(h):
    await h.account(ALICE, plan="basic")
    await h.app.advance_clock(timedelta(days=10))  # a third of the period used
    await h.start_bot()
    h.double.set_dms_open(ALICE, False)  # the receipt DM fails quietly; the result is shown anyway
    choose = await h.command(ALICE, "plan")
    assert [o["value"] for o in select_of(choose)["options"]] == ["plus", "pro"]
    timing = await h.choose(ALICE, choose, "pro")
    summary = await h.press(ALICE, timing, "Now")
    assert "Credit for the unused part of your Basic period: $6.66" in summary.content
    assert "Charged now: $43.33." in summary.content
    result = await h.press(ALICE, summary, "Pay $43.33 and upgrade")
    assert result.content.startswith("You're now on Pro.")
    assert (await h.view(ALICE)).plan == "pro"
    alices_dm = f"/channels/{h.double.dm_channel(ALICE).id}/messages"
    assert [r.status for r in await h.requests_made("POST", alices_dm, 1)] == [403]
    assert [m.content for m in followups_to(h, ALICE)] == []


async def test_a_form_and_the_buttons_survive_a_restart(h):
    """The bot as its own process, killed mid-flow, then started again: old buttons and a form
    opened before the restart work in the new process, which has sent nothing yet."""
    await h.account(ALICE)
    await h.account(BOB)
    first = await h.launch_process("bot1")
    bobs = await h.command(BOB, "cancel")
    reasons = await h.command(ALICE, "cancel")
    comment_step = await h.choose(ALICE, reasons, "not_using")
    modal = await h.press(ALICE, comment_step, "Add a comment")
    assert isinstance(modal, ShownModal) and modal.title == "Add a comment"
    first.kill()
    await first.wait()
    await h.double.wait_disconnected()

    second = await h.launch_process("bot2")
    bobs_next = await h.choose(
        BOB, bobs, "taking_break"
    )  # a button of a message the old process sent
    assert bobs_next.id == bobs.id and "Add a comment" in labels(bobs_next)
    submit = await h.double.submit_modal(ALICE, modal.custom_id, {"comment": "too pricey for me"})
    offer = await submit.response()  # the form the old process opened
    assert offer.id == reasons.id and "switch to Basic instead" in offer.content
    confirm = await h.press(ALICE, offer, "Continue to cancel")
    assert (await h.press(ALICE, confirm, "Cancel renewal")).content.startswith(
        "Auto-renewal cancelled."
    )
    view = await h.view(ALICE)
    assert view.cancel_at_period_end and view.cancel_reason == "not_using"

    second.send_signal(signal.SIGTERM)  # a clean stop: the Discord connection, then the database
    assert await asyncio.wait_for(second.wait(), 10) == 0
    await h.double.wait_disconnected()


# -- support channels ------------------------------------------------------------------------


async def test_support_question_gets_an_answer_whose_button_starts_the_pressers_flow(h):
    await h.account(ALICE)
    await h.start_bot()
    question = await h.double.say(ALICE, "support", QUESTION)
    answer = await h.double.next_message("support")
    assert answer.message_reference["message_id"] == question.id and not answer.ephemeral
    assert answer.allowed_mentions == {"parse": [], "replied_user": False}
    start = answer.button(custom_id="s:cancel")

    bobs = await h.press(
        BOB, answer, start["label"]
    )  # Bob has no account: his own answer, not Alice's
    assert bobs.ephemeral and "/link" in bobs.content and "Plus" not in bobs.content
    alices = await h.press(ALICE, answer, start["label"])
    assert alices.ephemeral and "You're on the Plus plan" in alices.content
    assert (
        h.double.world.messages[answer.id].content == answer.content
    )  # the public answer stays as it was

    await h.double.say(
        ALICE, h.double.dm_channel(ALICE), QUESTION
    )  # a DM is addressed to the bot too
    in_dm = await h.double.next_message(dm_of=ALICE)
    assert in_dm.button(custom_id="s:cancel")


async def test_public_answers_carry_no_account_facts_but_a_dm_answer_may(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.double.say(ALICE, "support", "when does my plan renew?")
    public = await h.double.next_message("support")
    assert "$19.99" not in public.content and "December 1" not in public.content
    mine = await h.press(ALICE, public, public.components[0]["components"][0]["label"])
    assert (
        mine.ephemeral and "Plus" in mine.content
    )  # the presser's own facts, for the presser alone

    await h.double.say(ALICE, h.double.dm_channel(ALICE), "when does my plan renew?")
    private = await h.double.next_message(dm_of=ALICE)
    assert "Next billing: December 1, 2026" in private.content and "$19.99" in private.content


async def test_small_talk_other_bots_and_unaddressed_messages_get_silence(h):
    await h.start_bot()
    h.double.add_user(4000, "otherbot")
    h.double.world.users[4000].bot = True
    await h.double.say(ALICE, "support", "nice weather today, right?")
    await h.double.say(4000, "support", QUESTION)
    await h.double.say(ALICE, "general", QUESTION)  # not a support channel, no mention
    # (A mention with small talk gets the menu: tests/test_questions_e2e.py.)
    # The control: a mention with a question is answered, and it is the only answer.
    asked = await h.double.say(CAROL, "general", QUESTION, mentions_bot=True)
    answer = await h.double.next_message("general")
    assert answer.message_reference["message_id"] == asked.id
    with pytest.raises(DoubleTimeout):
        await h.double.next_message("support", timeout=0.3)
    bot_id = h.double.bot_user.id
    assert [m.id for m in h.double.messages_in("general") if m.author_id == bot_id] == [answer.id]


async def test_answers_are_rate_limited_per_user(h):
    await h.start_bot()
    for _ in range(4):
        await h.double.say(BOB, "support", QUESTION)
    for _ in range(3):
        await h.double.next_message("support")
    with pytest.raises(DoubleTimeout):
        await h.double.next_message("support", timeout=0.3)
    await h.double.say(CAROL, "support", QUESTION)  # another user is not held back
    await h.double.next_message("support")


async def test_mentions_stay_off_when_users_write_them(h):
    await h.account(ALICE)
    await h.start_bot()
    role = h.double.add_role("staff")
    await h.double.say(ALICE, "support", f"@everyone <@&{role.id}> <@{BOB}> {QUESTION}")
    answer = await h.double.next_message("support")
    assert (
        not answer.mention_everyone and answer.mention_ids == [] and answer.mention_role_ids == []
    )
    status = await h.command(ALICE, "subscription", channel=SUPPORT)
    assert not status.mention_everyone
    # Every request the bot made carried allowed_mentions {"parse": []} (checked again at teardown).
    assert mentions_off_everywhere(h.double) == []
    assert len(h.double.requests()) > 5


# -- languages -------------------------------------------------------------------------------


async def test_language_choice_and_detection_decide_the_reply(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.command(ALICE, "language", {"language": "fa"})
    assert (await h.app.core.users.get(str(ALICE))).language == "fa"
    status = await h.command(ALICE, "subscription")
    assert (
        "۱۴۰۵" in status.content
    )  # Persian digits, Solar Hijri year (1 December 2026 = 10 Azar 1405)

    await h.command(ALICE, "language", {"language": "auto"})
    assert (await h.app.core.users.get(str(ALICE))).language is None
    await h.double.say(ALICE, "support", "چطور اشتراکم را لغو کنم؟")
    await h.double.next_message("support")
    assert (
        await h.app.core.users.get(str(ALICE))
    ).recent_language == "fa"  # remembered for button presses
    flow = await h.command(
        ALICE, "cancel", locale="en-US"
    )  # the client locale comes after the recent language
    assert "۱۴۰۵" in flow.content


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


async def test_a_persian_question_from_a_restricted_account_gets_the_true_cause_and_the_review(h):
    # Two accounts already came from this phone; Bob's third one is restricted by the device limit.
    for n in range(2):
        await h.app.core.create_account(f"first{n}@example.com", key=f"signup:first{n}", device_id="phone-1")
    await h.app.core.create_account("bob@example.com", key="signup:bob", device_id="phone-1", discord_id=str(BOB))
    await h.start_bot()
    # Persian typed on an Arabic keyboard (ي, ك): "I want to know why my account gets no free credit".
    # It calls credits «شارژ», which also means topping up: the bot asks, missing credits first.
    await h.double.say(BOB, h.double.dm_channel(BOB), "ميخوام بدونم چرا اكانت من شارژ رايگان نميشه؟")
    choices = await h.double.next_message(dm_of=BOB)
    assert choices.content == locales.render(M("Did you mean…?"), "fa")
    missing = locales.render(M("Credits that didn't arrive"), "fa")
    assert labels(choices)[0] == missing
    answer = await h.press(BOB, choices, missing)
    cause = M("Your account gets no daily free credits: it was created on a device that already had {max} accounts, "
              "the most allowed per device. Everything else works as usual.", max=2)
    assert locales.render(cause, "fa") != locales.render(cause, "en")  # the catalog has it in Persian
    assert locales.render(cause, "fa") in answer.content
    check = locales.render(M("Check my credits"), "fa")
    credits = await h.press(BOB, answer, check)
    review = locales.render(M("Ask for a review"), "fa")
    assert review in [b["label"] for row in credits.components for b in row["components"]]
    done = await h.press(BOB, credits, review)
    assert isinstance(done, Message)
    cases = await h.app.core.cases.list("open")
    assert [c.context.get("topic") for c in cases if c.discord_id == str(BOB)] == ["device_review"]
