"""Talk to a moderator: from any flow step with its context, or on its own."""

from __future__ import annotations

from flows.engine import FlowEngine
from tests.flow_helpers import World, actions, text


async def test_every_live_step_of_every_flow_offers_a_moderator(core, key) -> None:
    w = await World.open(core, key, plan="pro")
    for kind in ("cancel", "resume", "plan", "topup", "credits"):
        screen = await w.start(kind)
        if screen.flow_id:
            assert "help" in actions(screen), kind


async def test_talk_to_a_moderator_opens_a_case_with_the_flow_context_and_the_flow_goes_on(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.choose(await w.start("cancel"), "too_expensive")
    before, counts = await w.what_the_core_holds()
    noted = await w.press(screen, "help")
    assert noted.notice and text(noted).startswith("A moderator will get back to you.")
    again = await w.press(screen, "help")  # a double click opens one case
    assert again.notice
    [case] = await core.cases.list()
    assert case.kind == "help" and case.discord_id == w.owner and case.account_id == w.account_id
    assert case.context["kind"] == "cancel" and case.context["step"] == "comment"
    assert case.context["data"] == {"reason": "too_expensive"}
    # The account itself is untouched, and the flow carries on from where it was.
    after, after_counts = await w.what_the_core_holds()
    assert after == before and after_counts["subscriptions"] == counts["subscriptions"]
    assert (await w.press(screen, "skip")).step == "offer"


async def test_the_help_flow_shows_what_the_user_wrote_and_sends_it_on_send(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.start("help")
    assert screen.reply.form is not None and actions(screen) == ["send", "close"]
    review = await w.submit(screen, details="My invoice shows two charges.")
    # Typing it sends nothing: it is shown back, with Send beside it and a way to write it again.
    assert not review.reply.final and review.step == "review"
    assert "Your message for the moderators: “My invoice shows two charges.”" in text(review)
    assert actions(review) == ["send", "describe", "close"] and review.reply.form.action == "describe"
    assert await core.cases.list() == []
    rewritten = await w.submit(review, details="  My invoice shows\ntwo charges of $19.99.  ")
    assert "“My invoice shows two charges of $19.99.”" in text(rewritten)
    done = await w.press(rewritten, "send")
    assert done.reply.final and "A moderator will get back to you." in text(done)
    [case] = await core.cases.list()
    assert case.context["details"] == "My invoice shows\ntwo charges of $19.99." and case.context["topic"] == "help"


async def test_an_empty_description_is_nothing_typed_and_send_alone_still_works(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    screen = await w.submit(await w.start("help"), details="   ")
    assert screen.step == "ask" and actions(screen) == ["send", "close"]
    done = await w.press(screen, "send")
    [case] = await core.cases.list()
    assert done.reply.final and case.context["details"] is None


async def test_without_a_moderators_channel_the_user_is_told_nothing_was_sent(core, key) -> None:
    w = await World.open(core, key, plan="plus")
    w.engine = FlowEngine(core, core.db, w.engine.timeout, moderators=False)
    alone = await w.start("help")
    assert alone.reply.final and alone.flow_id is None
    assert text(alone).startswith("No moderators' channel is set up for me here, so I can't pass a request on")
    assert "Nothing was sent" in text(alone)
    # The button inside a flow says the same, and the flow carries on.
    screen = await w.choose(await w.start("cancel"), "too_expensive")
    noted = await w.press(screen, "help")
    assert noted.notice and text(noted).startswith("No moderators' channel is set up for me here")
    assert "A moderator will get back to you." not in text(noted)
    assert await core.cases.list() == []
    assert (await w.press(screen, "skip")).step == "offer"


async def test_an_unlinked_user_can_reach_a_moderator_too(core, key) -> None:
    w = await World.open(core, key, plan="free")
    screen = await w.engine.start("help", "4242")
    done = await w.engine.handle(screen.flow_id, screen.step, "4242", "send")
    assert "A moderator will get back to you." in text(done)
    [case] = await core.cases.list()
    assert case.account_id is None and case.discord_id == "4242"
