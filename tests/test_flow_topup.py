"""Buy a top-up, as docs/flows.md (flow 5) tells it."""

from __future__ import annotations

from core.money import Money
from tests.flow_helpers import World, actions, options, text


async def topups(w: World) -> list[tuple[str, int]]:
    return [(i.kind, i.amount.minor) for i in await w.invoices() if i.kind == "topup"]


async def test_choose_a_bundle_confirm_and_see_the_new_balance(core, key) -> None:
    w = await World.open(core, key, plan="basic", topup=None)
    screen = await w.start("topup")
    assert "Top-up credits never expire, and they stay when you cancel or change plan." in text(screen)
    assert "Your balance now: 1,500 credits, of which 0 are top-up credits." in text(screen)
    assert options(screen) == ["credits_500", "credits_2000", "credits_5000"]
    assert screen.reply.select.options[0].label.args["price"] == Money("USD", 499)  # a Money, formatted per language

    screen = await w.choose(screen, "credits_2000")
    assert "Buy 2,000 credits for $17.99? You're charged now." in text(screen)
    assert actions(screen) == ["confirm", "help", "close"]
    assert await topups(w) == []  # nothing charged before the confirm
    screen = await w.press(screen, "confirm")
    assert screen.step == "done" and screen.reply.receipt
    assert "Done: 2,000 credits added for $17.99." in text(screen)
    assert "Your balance: 3,500 credits, of which 2,000 are top-up credits (they never expire)." in text(screen)
    assert (await core.snapshot(w.account_id)).credits.topup == 2000
    assert await topups(w) == [("topup", 1799)]


async def test_a_declined_card_charges_nothing_and_lets_the_user_try_again(core, key) -> None:
    w = await World.open(core, key, plan="basic", topup=None)
    screen = await w.choose(await w.start("topup"), "credits_500")
    core.payments.mode = "decline"
    again = await w.press(screen, "confirm")
    assert again.step == "confirm" and text(again).startswith("The payment did not go through")
    assert await topups(w) == []
    core.payments.mode = "ok"
    assert (await w.press(again, "confirm")).step == "done"
    assert await topups(w) == [("topup", 499)]


async def test_leaving_at_any_step_changes_nothing(core, key) -> None:
    w = await World.open(core, key, plan="basic", topup=None)
    before = await w.what_the_core_holds()
    assert text(await w.press(await w.start("topup"), "close")) == "Nothing was changed."
    chosen = await w.choose(await w.start("topup"), "credits_5000")
    assert text(await w.press(chosen, "close")) == "Nothing was changed."
    assert await w.what_the_core_holds() == before
