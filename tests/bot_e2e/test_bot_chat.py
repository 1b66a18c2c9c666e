"""Chat end to end: support channels, mentions and DMs, answers and their buttons, silence,
rate limits, mentions off, and the reply language."""

from __future__ import annotations

import pytest

import locales
from flows.replies import M
from tests.bot_harness import (
    ALICE,
    BOB,
    CAROL,
    SUPPORT,
    labels,
    mentions_off_everywhere,
)
from tests.discord_double import DoubleTimeout, Message

QUESTION = "how can I cancel my subscription?"


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
    # (A mention with small talk gets the menu: test_bot_questions.py.)
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
