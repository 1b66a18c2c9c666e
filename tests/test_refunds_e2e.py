"""Refund requests end to end: real discord.py, the real bot, flows and core (SQLite, simulated
clock) against the local Discord double. A user asks, the intake runs in their DM, the case
reaches the moderators' channel with the core's recommendation, a moderator decides, and the
user is told in their DM; the core holds the result.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import locales
from bot.refunds import CHECK_DMS, DMS_CLOSED, NO_DESK, STILL_CLOSED
from flows.answers import TOPICS
from flows.refund import charge_data, describe_charge
from flows.replies import M
from tests.bot_harness import (
    ALICE,
    BOB,
    SUPPORT,
    Harness,
    labels,
    mentions_off_everywhere,
    select_of,
)
from tests.discord_double import DoubleTimeout, Message, ShownModal
from tests.refund_harness import MODERATOR, MODS, checked, moderated


@pytest.fixture
async def h(tmp_path):
    async with checked(tmp_path) as harness:
        yield harness


ASK = "I was charged for the renewal before I cancelled and I used no credits, I want my money back"
ASK_FA = "قبل از اینکه اشتراکم را لغو کنم پول از حسابم کم شد، پولم را پس می‌خواهم"
HOUR = timedelta(hours=1)


async def count(h: Harness, sql: str, *args) -> int:
    async with h.app.db.read() as tx:
        return (await tx.fetchone(f"SELECT COUNT(*) AS n FROM {sql}", *args))["n"]


async def renewed_then_cancelled(h: Harness, user: int = ALICE) -> str:
    """Plus since November 1 with a 500-credit top-up; renewed on December 1; cancelled an hour
    later through /cancel. Returns the renewal invoice's id."""
    account = await h.account(user)
    await h.app.core.buy_topup(account.account_id, "credits_500", key=f"topup:{user}")
    await h.start_bot()
    await h.app.advance_clock(account.period_end - h.app.clock.now() + timedelta(minutes=1))
    await h.app.core.sweep()  # the renewal is charged
    await h.app.advance_clock(HOUR)
    reasons = await h.command(user, "cancel")
    offer = await h.press(user, await h.choose(user, reasons, "not_using"), "Skip")
    confirm = await h.press(user, offer, "Continue to cancel")
    assert (await h.press(user, confirm, "Cancel renewal")).content.startswith("Auto-renewal cancelled.")
    assert (await h.double.next_message(dm_of=user)).content.startswith("Auto-renewal cancelled.")  # the receipt
    [renewal] = [i for i in await h.app.core.invoices(account.account_id) if i.kind == "renewal"]
    return renewal.id


async def intake(h: Harness, dm: Message, user: int, charge: str, reason: str, details: str | None) -> Message:
    """Click through the DM intake: the charge, the reason, then details (a form) or none."""
    reasons = await h.choose(user, dm, charge)
    assert reasons.id == dm.id
    details_step = await h.choose(user, reasons, reason)
    if details is None:
        return await h.press(user, details_step, "Send without details")
    modal = await h.press(user, details_step, "Add details and send")
    assert isinstance(modal, ShownModal)
    done = await (await h.double.submit_modal(user, modal.custom_id, {"details": details})).response()
    assert isinstance(done, Message)
    return done


async def decide(h: Harness, post: Message, button: str, reason: str) -> Message:
    modal = await h.press(MODERATOR, post, button)
    assert isinstance(modal, ShownModal) and modal.title.startswith(f"{button} refund #")
    done = await (await h.double.submit_modal(MODERATOR, modal.custom_id, {"reason": reason})).response()
    assert isinstance(done, Message)
    return done


async def test_charged_before_cancelling_refund_approved_end_to_end(h):
    """The support conversation this product was built from."""
    renewal = await renewed_then_cancelled(h)
    asked = await h.double.say(ALICE, "support", ASK)
    public = await h.double.next_message("support")
    assert public.message_reference["message_id"] == asked.id and not public.ephemeral
    assert public.content == locales.render(CHECK_DMS, "en") and public.components == []

    dm = await h.double.next_message(dm_of=ALICE)
    assert "Which charge is it about?" in dm.content
    [first, *_] = select_of(dm)["options"]
    assert first["value"] == renewal and "Renewal of Plus" in first["label"] and "$19.99" in first["label"]
    done = await intake(h, dm, ALICE, renewal, "charged_before_cancel",
                        "@everyone I cancelled an hour after the renewal and used nothing")
    assert done.content.startswith("Your refund request #") and "is with the moderators" in done.content
    [case] = await h.app.core.cases.list()
    assert case.recommendation.approve and case.reason == "charged_before_cancel"

    post = await h.double.next_message(MODS)
    assert f"Refund request #{case.id[:8]}" in post.content and f"<@{ALICE}>" in post.content
    assert ("Recommendation: approve. Grounds: renewal charged 1 h before the cancellation, 0 credits used since: "
            "eligible under the error rule") in post.content
    assert "Renewal of Plus · $19.99" in post.content
    assert "Auto-renew: off" in post.content and "500 top-up" in post.content and "Restrictions: none" in post.content
    assert "@everyone I cancelled" in post.content and not post.mention_everyone and post.mention_ids == []
    assert labels(post) == ["Approve", "Deny"]

    decided = await decide(h, post, "Approve", "charged in error: cancelled an hour after the renewal")
    assert decided.id == post.id and decided.components == []
    assert f"Approved by <@{MODERATOR}>" in decided.content and "The user will be told by DM as soon as Discord accepts the message." in decided.content

    told = await h.double.next_message(dm_of=ALICE)
    assert told.content.startswith(f"Your refund request #{case.id[:8]} was approved.")
    assert "$19.99 is being refunded" in told.content and "your subscription has ended now" in told.content
    log_line = await h.double.next_message(MODS)
    assert log_line.content.startswith(f"<@{MODERATOR}> approved refund request #{case.id[:8]}")

    view = await h.view(ALICE)
    assert view.plan == "free" and view.subscription_id is None  # the subscription ended at once
    assert view.credits.topup == 500 and view.credits.subscription == 0  # the top-up stays
    assert (await h.app.core.cases.get(case.id)).status == "approved"
    assert await count(h, "invoices WHERE kind = 'refund'") == 1

    # The same form submitted again (a double click): refused by the core, nothing more happens.
    modal = next(i.modal for i in reversed(list(h.double.world.interactions.values())) if i.modal)
    await (await h.double.submit_modal(MODERATOR, modal.custom_id, {"reason": "again"})).response()
    assert await count(h, "invoices WHERE kind = 'refund'") == 1
    with pytest.raises(DoubleTimeout):
        await h.double.next_message(dm_of=ALICE, timeout=0.3)


async def test_a_denial_is_told_with_the_moderators_reason_and_nothing_changes(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.command(ALICE, "refund")
    dm = await h.double.next_message(dm_of=ALICE)
    charge = select_of(dm)["options"][0]["value"]
    await intake(h, dm, ALICE, charge, "other", None)
    post = await h.double.next_message(MODS)
    assert "Recommendation: deny." in post.content
    await decide(h, post, "Deny", "paid periods are not refundable")
    told = await h.double.next_message(dm_of=ALICE)
    assert "was declined" in told.content and "paid periods are not refundable" in told.content
    assert labels(told) == ["Talk to a moderator"]
    assert (await h.view(ALICE)).plan == "plus"
    assert await count(h, "invoices WHERE kind = 'refund'") == 0


async def test_slash_refund_answers_privately_and_a_second_request_points_to_the_open_one(h):
    await h.account(ALICE)
    await h.start_bot()
    reply = await h.command(ALICE, "refund")
    assert reply.ephemeral and reply.content == locales.render(CHECK_DMS, "en")
    dm = await h.double.next_message(dm_of=ALICE)
    charge = select_of(dm)["options"][0]["value"]
    await intake(h, dm, ALICE, charge, "duplicate", "twice?")
    [case] = await h.app.core.cases.list()
    await h.double.next_message(MODS)

    await h.command(ALICE, "refund")
    second = await h.double.next_message(dm_of=ALICE)
    done = await intake(h, second, ALICE, charge, "other", None)
    assert f"already open: #{case.id[:8]}" in done.content
    assert len(await h.app.core.cases.list()) == 1
    with pytest.raises(DoubleTimeout):
        await h.double.next_message(MODS, timeout=0.3)


async def test_closed_dms_keep_the_request_and_retry_continues_it(h):
    renewal = await renewed_then_cancelled(h)
    h.double.set_dms_open(ALICE, False)
    asked = await h.double.say(ALICE, "support", ASK)
    notice = await h.double.next_message("support")
    assert notice.message_reference["message_id"] == asked.id
    assert notice.content == locales.render(DMS_CLOSED, "en") and labels(notice) == ["Retry"]
    assert await count(h, "flows WHERE kind = 'refund'") == 1  # the request is kept
    assert await count(h, "cases") == 0

    still = await h.press(ALICE, notice, "Retry")  # DMs still closed: said to Alice alone
    assert still.ephemeral and still.content == locales.render(STILL_CLOSED, "en")
    bobs = await h.press(BOB, notice, "Retry")  # the notice is public; the request is Alice's
    assert bobs.ephemeral and bobs.content != locales.render(CHECK_DMS, "en")

    await h.app.advance_clock(timedelta(hours=20))  # she opens her DMs the next day
    h.double.set_dms_open(ALICE, True)
    retried = await h.press(ALICE, notice, "Retry")
    assert retried.id == notice.id and retried.content == locales.render(CHECK_DMS, "en") and retried.components == []
    dm = await h.double.next_message(dm_of=ALICE)
    assert select_of(dm)["options"][0]["value"] == renewal
    await intake(h, dm, ALICE, renewal, "charged_before_cancel", None)
    await h.double.next_message(MODS)
    [case] = await h.app.core.cases.list()
    assert case.invoice_id == renewal and await count(h, "cases") == 1
    assert await count(h, "flows WHERE kind = 'refund'") == 1  # the same request, not a new one


async def test_a_persian_speakers_refund_runs_in_persian(h):
    renewal = await renewed_then_cancelled(h)
    await h.double.say(ALICE, "support", ASK_FA)
    # "Money was taken before I cancelled, I want it back": a refund, or how to cancel? The bot
    # asks, refund first; the topic asks for the refund as /refund does, in Persian.
    choices = await h.double.next_message("support")
    assert choices.content == locales.render(M("Did you mean…?"), "fa")
    refund = locales.render(TOPICS["refund"], "fa")
    assert labels(choices)[0] == refund
    told = await h.press(ALICE, choices, refund)
    assert told.ephemeral and told.content == locales.render(CHECK_DMS, "fa")
    assert (await h.app.core.users.get(str(ALICE))).recent_language == "fa"

    dm = await h.double.next_message(dm_of=ALICE)
    assert locales.render(M("Which charge is it about?"), "fa") in dm.content
    [charge] = [i for i in await h.app.core.invoices((await h.view(ALICE)).account_id) if i.id == renewal]
    option = select_of(dm)["options"][0]
    assert option["label"] == locales.render(describe_charge(charge_data(charge), h.app.catalog), "fa")
    assert "۱۴۰۵" in option["label"]  # Persian digits, Solar Hijri year
    reasons = await h.choose(ALICE, dm, renewal)  # a press in the DM: the language is remembered
    assert locales.render(M("What happened? Choose the reason that fits best."), "fa") in reasons.content
    details = await h.choose(ALICE, reasons, "charged_before_cancel")
    done = await h.press(ALICE, details, locales.render(M("Send without details"), "fa"))
    [case] = await h.app.core.cases.list()
    assert done.content.startswith(locales.render(M("Your refund request {case} is with the moderators.",
                                                    case=f"#{case.id[:8]}"), "fa"))
    post = await h.double.next_message(MODS)
    assert "Recommendation: approve." in post.content  # the moderators read the team's language

    await decide(h, post, "Approve", "error rule")
    told = await h.double.next_message(dm_of=ALICE)
    assert told.content.startswith(locales.render(M("Your refund request {case} was approved.",
                                                    case=f"#{case.id[:8]}"), "fa"))


async def test_without_a_mod_channel_refunds_are_refused_and_no_case_is_made(tmp_path):
    async with moderated(tmp_path, MOD_CHANNEL_ID="") as h:
        await h.account(ALICE)
        await h.start_bot()
        reply = await h.command(ALICE, "refund")
        assert reply.content == locales.render(NO_DESK, "en")
        await h.double.say(ALICE, SUPPORT, ASK)
        public = await h.double.next_message("support")
        assert public.content == locales.render(NO_DESK, "en")
        with pytest.raises(DoubleTimeout):
            await h.double.next_message(dm_of=ALICE, timeout=0.3)
        assert await count(h, "cases") == 0 and await count(h, "flows WHERE kind = 'refund'") == 0
        assert mentions_off_everywhere(h.double) == []


async def test_talk_to_a_moderator_lands_in_the_same_queue(h):
    await h.account(ALICE)
    # The delivery loop's own rounds are a minute apart: the post must come from the press's poke.
    await h.start_bot(delivery_interval=60)
    reasons = await h.command(ALICE, "cancel")
    helped = await h.press(ALICE, reasons, "Talk to a moderator")
    assert helped.ephemeral
    post = await h.double.next_message(MODS)
    assert "Talk to a moderator #" in post.content and "the cancel conversation" in post.content
    assert labels(post) == ["Close"]
    await h.press(ALICE, reasons, "Talk to a moderator")  # pressed again: the same case, not posted twice
    with pytest.raises(DoubleTimeout):
        await h.double.next_message(MODS, timeout=0.3)
    [case] = await h.app.core.cases.list()
    assert case.kind == "help"
    modal = await h.press(MODERATOR, post, "Close")
    closed = await (await h.double.submit_modal(MODERATOR, modal.custom_id, {"reason": "answered by DM"})).response()
    assert f"Closed by <@{MODERATOR}>" in closed.content and closed.components == []
    assert (await h.app.core.cases.get(case.id)).status == "closed"


async def test_a_description_typed_for_a_moderator_waits_for_send(h):
    await h.account(ALICE)
    await h.start_bot()
    ask = await h.press(ALICE, await h.command(ALICE, "help"), "Talk to a moderator")
    assert labels(ask) == ["Describe the problem", "Send to a moderator", "Never mind"]
    modal = await h.press(ALICE, ask, "Describe the problem")
    review = await (await h.double.submit_modal(ALICE, modal.custom_id, {"details": "Charged twice in May."})).response()
    assert "Your message for the moderators: “Charged twice in May.”" in review.content
    assert labels(review) == ["Send to a moderator", "Write it again", "Never mind"]
    with pytest.raises(DoubleTimeout):  # typing it sent nothing
        await h.double.next_message(MODS, timeout=0.3)
    assert await h.app.core.cases.list() == []
    sent = await h.press(ALICE, review, "Send to a moderator")
    assert "A moderator will get back to you." in sent.content
    post = await h.double.next_message(MODS)
    assert "Charged twice in May." in post.content


async def test_without_a_mod_channel_talk_to_a_moderator_says_nothing_was_sent(tmp_path):
    async with moderated(tmp_path, MOD_CHANNEL_ID="") as h:
        await h.account(ALICE)
        await h.start_bot()
        told = await h.press(ALICE, await h.command(ALICE, "help"), "Talk to a moderator")
        assert told.content.startswith("No moderators' channel is set up for me here")
        assert labels(told) == []
        reasons = await h.command(ALICE, "cancel")
        noted = await h.press(ALICE, reasons, "Talk to a moderator")
        assert noted.ephemeral and noted.content.startswith("No moderators' channel is set up for me here")
        assert await count(h, "cases") == 0


async def test_an_approval_during_an_outage_reaches_the_user_once_after_a_restart(h):
    """Discord refuses every message for a while: the moderator's decision is still made and
    answered; the bot restarts while Discord is down; the user gets the decision once after."""
    from tests.discord_double.faults import Fault

    renewal = await renewed_then_cancelled(h)
    await h.command(ALICE, "refund")
    dm = await h.double.next_message(dm_of=ALICE)
    await intake(h, dm, ALICE, renewal, "charged_before_cancel", None)
    post = await h.double.next_message(MODS)

    outage = h.double.faults.add(Fault("POST", "/channels/*/messages", 503, times=10_000))
    decided = await decide(h, post, "Approve", "charged in error")
    assert "The user will be told by DM as soon as Discord accepts the message." in decided.content
    [case] = await h.app.core.cases.list("approved")
    assert await count(h, "outbox WHERE kind = 'refund_decision' AND status = 'pending'") == 1

    tried = outage.hits
    await h.stop_bot()
    await h.start_bot(delivery_interval=0.1, delivery_backoff=(0.2,))
    await asyncio.sleep(3.5)  # past the old process's next attempt time (2 s)
    assert outage.hits > tried  # the new process tried too, while Discord was down
    outage.times = 0
    told = await h.double.next_message(dm_of=ALICE, timeout=10)
    assert told.content.startswith(f"Your refund request #{case.id[:8]} was approved.")
    await asyncio.sleep(1)
    decisions = [m for m in h.dms(ALICE) if "was approved" in m.content]
    assert len(decisions) == 1
