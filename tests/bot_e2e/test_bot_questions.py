"""Questions in chat end to end: real discord.py and the real bot against the local Discord
double. A clear question is answered, an unclear one gets "Did you mean…?" with the likeliest
topics as buttons, a mention or DM that fits nothing gets the menu, and unprompted small talk
gets silence."""

from __future__ import annotations

import pytest

import locales
from bot.refunds import NO_DESK
from bot.render import content_of
from flows.answers import MENU_TOPICS, TOPICS
from flows.engine import FlowEngine
from flows.replies import M
from tests.bot_harness import ALICE, BOB, CAROL, Harness, labels
from tests.discord_double import DoubleTimeout

# Chosen because the shipped model is unsure between topics on them (checked first, below).
UNCLEAR_PERSIAN = "کردیتام چی میشن؟"
UNCLEAR_ENGLISH = "what about my plan?"


async def expected_answer(h: Harness, intent: str, user: int, lang: str, personal: bool = True) -> str:
    """The answer's text as the bot renders it for ``user`` in ``lang``."""
    screen = await FlowEngine(h.app.core, h.app.db, h.app.flow_timeout).answer(intent, str(user), personal)
    locales.bind_language(lang)
    return content_of(screen.reply)


def decision(text: str) -> locales.Decision:
    return locales.understand(text, locales.choose_language(text))


def topic_labels(intents, lang: str) -> list[str]:
    return [locales.render(TOPICS[i], lang) for i in intents]


async def test_an_unclear_question_gets_choices_and_the_pressed_topic_in_the_askers_language(h):
    unsure = decision(UNCLEAR_PERSIAN)
    assert unsure.kind == "ask", unsure.scores()[:4]
    await h.account(ALICE)
    await h.start_bot()
    asked = await h.double.say(ALICE, "support", UNCLEAR_PERSIAN)
    choices = await h.double.next_message("support")
    assert choices.message_reference["message_id"] == asked.id
    assert choices.content == locales.render(M("Did you mean…?"), "fa")
    assert labels(choices) == topic_labels(unsure.intents, "fa")

    # Alice's Discord client is English, but she asked in Persian: the answer is Persian.
    chosen = unsure.intents[-1]
    answer = await h.press(ALICE, choices, topic_labels([chosen], "fa")[0])
    assert answer.ephemeral
    expected = await expected_answer(h, chosen, ALICE, "fa")
    assert answer.content == expected
    # The public question stays as it was, for the next person unsure in the same way.
    assert h.double.world.messages[choices.id].content == choices.content


async def test_small_talk_gets_a_word_when_spoken_to_and_silence_unprompted(h):
    await h.start_bot()
    assert decision("thanks, that was quick!").kind == "none"
    await h.double.say(BOB, "support", "thanks, that was quick!")  # unprompted: silence
    with pytest.raises(DoubleTimeout):
        await h.double.next_message("support", timeout=0.5)
    # Spoken to: a short friendly word, not the menu.
    thanked = await h.double.say(CAROL, "general", "thanks, that was quick!", mentions_bot=True)
    welcome = await h.double.next_message("general")
    assert welcome.message_reference["message_id"] == thanked.id
    assert welcome.content == "You're welcome! If anything else comes up, just ask." and labels(welcome) == []
    await h.double.say(BOB, h.double.dm_channel(BOB), "hello there")
    hello = await h.double.next_message(dm_of=BOB)
    assert hello.content.startswith("Hi! What can I help you with?") and labels(hello) == []


async def test_a_mention_the_bot_cannot_place_gets_the_menu_and_unprompted_silence(h):
    await h.start_bot()
    unplaced = "what's the weather like on mars?"
    assert decision(unplaced).kind == "none"
    await h.double.say(BOB, "support", unplaced)  # unprompted: silence
    with pytest.raises(DoubleTimeout):
        await h.double.next_message("support", timeout=0.5)

    mention = await h.double.say(CAROL, "general", unplaced, mentions_bot=True)
    menu = await h.double.next_message("general")
    assert menu.message_reference["message_id"] == mention.id
    assert labels(menu) == [*topic_labels(MENU_TOPICS, "en"), "Talk to a moderator"]

    # A topic from the menu answers it for the presser.
    status = await h.press(CAROL, menu, locales.render(TOPICS["status"], "en"))
    assert status.ephemeral and "/link" in status.content  # Carol has no account yet
    # The refund topic asks for a refund as /refund does (here: no moderator channel is set up).
    refund = await h.press(CAROL, menu, locales.render(TOPICS["refund"], "en"))
    assert refund.ephemeral and refund.content == locales.render(NO_DESK, "en")  # she wrote in English

    # A DM that fits nothing gets the menu too: the bot was written to.
    await h.double.say(BOB, h.double.dm_channel(BOB), "-1")
    in_dm = await h.double.next_message(dm_of=BOB)
    assert labels(in_dm)[-1] == "Talk to a moderator"


async def test_an_unclear_english_question_in_a_dm_offers_its_topics(h):
    unsure = decision(UNCLEAR_ENGLISH)
    assert unsure.kind == "ask", unsure.scores()[:4]
    await h.account(ALICE)
    await h.start_bot()
    await h.double.say(ALICE, h.double.dm_channel(ALICE), UNCLEAR_ENGLISH)
    choices = await h.double.next_message(dm_of=ALICE)
    assert labels(choices) == topic_labels(unsure.intents, "en")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("does the 100 per day reset at midnight utc or my time", "free_credits"),
        ("Plus'tan Basic'e inmek iptal sayılır mı?", "downgrade"),
        ("ينفع أرجع عن الإلغاء؟", "resume"),
    ],
)
async def test_reported_questions_get_their_answer_in_the_channel(h, text, intent):
    await h.start_bot()
    await h.double.say(ALICE, "support", text)
    answer = await h.double.next_message("support")
    lang = locales.choose_language(text)
    assert answer.content == await expected_answer(h, intent, ALICE, lang, personal=False)


async def test_a_refund_question_in_english_goes_to_the_dm(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.double.say(ALICE, "support", "I want a refund because the amount had already been "
                       "debited before I cancelled")
    reply = await h.double.next_message("support")
    # No moderator channel in this server: refunds are refused with a clear message.
    assert reply.content == locales.render(NO_DESK, "en")
