"""Support-channel answers (docs/bot.md, Questions in chat): the rule with the catalog's numbers, personal when linked, a button on."""

from __future__ import annotations

import pytest

from core.plans import parse_catalog
from flows.answers import MENU_TOPICS, TOPICS
from flows.engine import KINDS, FlowEngine
from locales import INTENTS
from tests.conftest import make_core
from tests.flow_helpers import World, actions, text


async def test_every_intent_has_an_answer_whose_buttons_start_flows(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    for owner in (w.owner, "unlinked-5"):
        for intent in INTENTS:
            screen = await w.engine.answer(intent, owner)
            assert screen.flow_id is None and screen.reply.lines, intent
            for action in actions(screen):
                if intent == "none":  # the menu: topics to answer, and a moderator
                    assert action.removeprefix("answer:") in TOPICS or action == "start:help", action
                    continue
                assert action.startswith("start:") and action.removeprefix("start:") in KINDS, (intent, action)


async def test_the_menu_offers_the_main_topics_and_a_moderator(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    menu = await w.engine.answer("none", w.owner)
    assert actions(menu) == [*(f"answer:{i}" for i in MENU_TOPICS), "start:help"]


async def test_did_you_mean_offers_the_topics_in_the_order_given(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = w.engine.did_you_mean(("resume", "cancel", "status"), w.owner)
    assert text(screen).startswith("Did you mean…?")
    assert actions(screen) == ["answer:resume", "answer:cancel", "answer:status"]


@pytest.mark.parametrize(("intent", "kind"), [
    ("free_credits", "credits"), ("credits_missing", "credits"), ("device_limit", "credits"), ("cancel", "cancel"),
    ("resume", "resume"), ("upgrade", "plan"), ("downgrade", "plan"), ("topup", "topup"),
    ("topup_expiry", "credits"), ("refund", "help"),
])
async def test_the_button_starts_the_matching_flow(core, key, intent, kind) -> None:
    w = await World.open(core, key, plan="plus")
    if intent == "resume":  # resuming is offered to someone who cancelled
        await core.cancel(w.account_id, "other", key=key())
    assert f"start:{kind}" in actions(await w.engine.answer(intent, w.owner))


async def test_numbers_come_from_the_catalog(tmp_path) -> None:
    catalog = parse_catalog({
        "currency": "EUR",
        "plans": {
            "free": {"name": "Free", "price": "0", "daily_free_credits": 40},
            "lite": {"name": "Lite", "price": "3.50", "credits": 700},
            "max": {"name": "Max", "price": "30", "credits": 9000},
        },
        "bundles": {"small": {"credits": 250, "price": "2.25"}},
    })
    core = await make_core(f"sqlite:///{tmp_path / 'other.db'}", catalog=catalog)
    try:
        engine = FlowEngine(core, core.db)
        assert "get 40 free credits every day" in text(await engine.answer("free_credits", "x"))
        upgrade = text(await engine.answer("upgrade", "x"))
        assert "Lite: €3.50 a month, 700 credits each period" in upgrade
        assert "Max: €30.00 a month, 9,000 credits each period" in upgrade
        assert "250 credits for €2.25" in text(await engine.answer("topup", "x"))
    finally:
        await core.db.close()


async def test_credits_missing_names_the_cause_that_applies(core, key) -> None:
    paid = await World.open(core, key, plan="plus", owner="11")
    assert "Daily free credits are for the Free plan only." in text(await paid.engine.answer("credits_missing", "11"))

    used = await World.open(core, key, plan="free", topup=None, owner="12")
    await core.spend_credits(used.account_id, 100, key=key())
    assert "You've already had today's 100 free credits." in text(await used.engine.answer("credits_missing", "12"))

    for n in range(2):
        await core.create_account(f"d{n}@example.com", key=key(), device_id="tablet")
    restricted = await World.open(core, key, plan="free", owner="13", device="tablet")
    answer = await restricted.engine.answer("credits_missing", "13")
    assert "created on a device that already had 2 accounts" in text(answer)
    assert actions(answer) == ["start:credits"]  # where the review button is

    unlinked = await paid.engine.answer("credits_missing", "14")
    assert "not linked" in text(unlinked) and "/link CODE" in text(unlinked)


async def test_personal_details_when_linked(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    assert "Your Plus plan renews on February 1, 2026, 12:00 AM UTC." in text(await w.engine.answer("cancel", w.owner))
    assert "You have 500 top-up credits." in text(await w.engine.answer("topup_expiry", w.owner))
    after = text(await w.engine.answer("after_cancel", w.owner))
    assert "For you that would be on February 1, 2026, 12:00 AM UTC; your 500 top-up credits would stay." in after
    await core.cancel(w.account_id, "other", key=key())
    answer = await w.engine.answer("resume", w.owner)
    assert "Your Plus plan is set to end on February 1, 2026, 12:00 AM UTC; you can resume it now." in text(answer)
    assert "already cancelled" in text(await w.engine.answer("cancel", w.owner))


async def test_refund_gets_a_short_answer_and_a_moderator(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.engine.answer("refund", w.owner)
    assert "Refunds are decided by a moderator." in text(screen)
    assert actions(screen) == ["start:help"]


async def test_status_is_the_subscription_screen(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    assert text(await w.engine.answer("status", w.owner)) == text(await w.start("status"))


@pytest.mark.parametrize("intent", INTENTS)
async def test_a_public_answer_says_nothing_about_the_asker(core, key, intent) -> None:
    cancelled = await World.open(core, key, plan="plus", owner="21")
    await core.cancel(cancelled.account_id, "other", key=key())
    on_free = await World.open(core, key, plan="free", topup=None, owner="22")
    answers = [await cancelled.engine.answer(intent, asker, personal=False) for asker in ("21", "22", "unlinked-23")]
    # The same words whoever asks: nothing in them is about the asker.
    assert len({(text(a), tuple(actions(a))) for a in answers}) == 1
    # Buttons start a flow or answer a topic, each for whoever presses them.
    assert all(a.startswith(("start:", "answer:")) for a in actions(answers[0]))
    if intent == "cancel":  # what the asker would have given away in public
        assert "already cancelled" in text(await on_free.engine.answer(intent, "21"))
        assert "already cancelled" not in text(answers[0])


async def test_in_public_missing_credits_lists_the_causes_and_status_points_to_the_private_screen(core, key) -> None:
    w = await World.open(core, key, plan="free")
    missing = await w.engine.answer("credits_missing", w.owner, personal=False)
    assert "When they don't arrive, it is one of these:" in text(missing) and actions(missing) == ["start:credits"]
    status = await w.engine.answer("status", w.owner, personal=False)
    assert "only you will see them" in text(status) and actions(status) == ["start:status"]
