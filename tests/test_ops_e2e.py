"""Health and metrics end to end: the real bot against the Discord double with METRICS_ADDR on a
free loopback port; a user runs /cancel through a save offer to the end, and /metrics, scraped
over HTTP, shows it; /healthz follows the gateway and the database.
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from datetime import timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.discord_app import make_bot
from bot.discord_endpoint import apply_api_base
from bot.settings import SettingsError
from tests.bot_harness import ALICE, BOB, TOKEN, Harness, labels, press_from_outside, select_of
from tests.refund_harness import MODS, moderated
from tests.test_refunds_e2e import decide, intake


@pytest.fixture
async def h(tmp_path):
    async with Harness.open(tmp_path, METRICS_ADDR="127.0.0.1:0") as harness:
        yield harness


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def scrape(h: Harness) -> dict[tuple[str, frozenset], float]:
    status, text = await get(h.bot.ops.url + "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def health_becomes(h: Harness, status: int, timeout: float = 10.0) -> str:
    """Poll /healthz until it answers ``status``; its body."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got, body = await get(h.bot.ops.url + "/healthz")
        if got == status:
            return body
        assert loop.time() < deadline, f"/healthz stayed {got}: {body}"
        await asyncio.sleep(0.05)


async def test_a_cancel_with_a_save_offer_shows_in_metrics(h):
    await h.account(ALICE)
    await h.start_bot()
    h.double.set_dms_open(ALICE, False)  # the receipt DM is refused: a Discord HTTP error to count
    reasons = await h.command(ALICE, "cancel")
    comment = await h.choose(ALICE, reasons, "too_expensive")
    offer = await h.press(ALICE, comment, "Skip")
    assert "switch to Basic instead" in offer.content
    refused = await (await press_from_outside(h.double, BOB, offer, "Continue to cancel")).response()
    assert refused.ephemeral  # not Bob's flow: a refusal
    confirm = await h.press(ALICE, offer, "Continue to cancel")
    assert labels(confirm)[0] == "Cancel renewal"
    result = await h.press(ALICE, confirm, "Cancel renewal")
    assert result.content.startswith("Auto-renewal cancelled.")
    await h.requests_made("POST", f"/channels/{h.double.dm_channel(ALICE).id}/messages", 1)

    m = await scrape(h)
    assert value(m, "supportbot_interactions_total", command="/cancel", outcome="ok") == 1
    # The reason, Skip, Continue to cancel, Cancel renewal; and Bob's press, refused.
    assert value(m, "supportbot_interactions_total", command="press:cancel", outcome="ok") == 4
    assert value(m, "supportbot_interactions_total", command="press:cancel", outcome="refused") == 1
    assert value(m, "supportbot_interaction_duration_seconds_count", command="/cancel") == 1
    assert value(m, "supportbot_flows_started_total", kind="cancel") == 1
    assert value(m, "supportbot_flows_completed_total", kind="cancel", end="done") == 1
    assert value(m, "supportbot_cancellations_total", reason="too_expensive") == 1
    assert value(m, "supportbot_save_offers_shown_total") == 1
    assert value(m, "supportbot_save_offers_accepted_total") == 0
    assert value(m, "supportbot_discord_http_errors_total", status="403") >= 1
    assert value(m, "supportbot_gateway_connected") == 1
    assert value(m, "supportbot_db_busy_retries_total", backend="sqlite") == 0
    assert ("supportbot_outbox_backlog", frozenset()) in m
    assert ("supportbot_outbox_oldest_age_seconds", frozenset()) in m


async def test_questions_and_a_closed_flow_are_counted(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.double.say(ALICE, "support", "how can I cancel my subscription?")
    await h.double.next_message("support")
    await h.double.say(ALICE, "support", "nice weather today, right?")  # not for us: quiet
    reasons = await h.command(ALICE, "cancel")
    await h.press(ALICE, reasons, "Never mind")

    m = await scrape(h)
    assert value(m, "supportbot_questions_total", language="en", decision="answered") == 1
    assert value(m, "supportbot_questions_total", language="en", decision="quiet") == 1
    assert value(m, "supportbot_flows_abandoned_total", kind="cancel", reason="closed") == 1
    assert value(m, "supportbot_flows_completed_total", kind="cancel", end="closed") == 0


async def test_a_refund_request_and_its_denial_are_counted_with_the_time_to_decide(tmp_path):
    async with moderated(tmp_path, METRICS_ADDR="127.0.0.1:0") as h:
        await h.account(ALICE)
        await h.start_bot()
        await h.command(ALICE, "refund")
        dm = await h.double.next_message(dm_of=ALICE)
        await intake(h, dm, ALICE, select_of(dm)["options"][0]["value"], "other", None)
        post = await h.double.next_message(MODS)
        await h.app.advance_clock(timedelta(hours=3))  # the moderators take three hours
        await decide(h, post, "Deny", "paid periods are not refundable")

        m = await scrape(h)
        assert value(m, "supportbot_refund_cases_total", event="opened") == 1
        assert value(m, "supportbot_refund_cases_total", event="denied") == 1
        assert value(m, "supportbot_refund_cases_total", event="approved") == 0
        assert value(m, "supportbot_refund_decision_seconds_count") == 1
        assert value(m, "supportbot_refund_decision_seconds_sum") == pytest.approx(3 * 3600, abs=60)
        assert value(m, "supportbot_flows_completed_total", kind="refund", end="sent") == 1
        assert value(m, "supportbot_interactions_total", command="/refund", outcome="ok") == 1


async def test_healthz_follows_the_gateway_and_the_database(h):
    await h.account(ALICE)
    await h.start_bot()
    assert await health_becomes(h, 200) == "ok\n"

    # A dropped connection is resumed by discord.py: healthy again.
    assert await h.double.drop_connection() == 1
    gateway = h.double.gateway
    await h.double.world.wait_until(
        lambda: True if any(c["op"] == "resume" for c in gateway.connections) and gateway.ready_shards() else None,
        5, "the bot to resume its gateway session")
    await health_becomes(h, 200)

    # The database does not answer: 503 with the reason, and the scrape still answers.
    real_read = h.app.db.read

    @asynccontextmanager
    async def hung_read():
        await asyncio.Event().wait()
        yield

    h.bot.ops.db_timeout = 0.2
    h.app.db.read = hung_read
    try:
        body = await health_becomes(h, 503)
        assert "database: no answer within 0.2 s" in body and "gateway" not in body
    finally:
        h.app.db.read = real_read
    await health_becomes(h, 200)

    # Discord goes away and the gateway cannot reconnect: 503, naming the gateway.
    await h.double.stop()
    body = await health_becomes(h, 503)
    assert "gateway: shard 0 not connected" in body
    assert value(await scrape(h), "supportbot_gateway_connected") == 0


async def test_a_metrics_address_in_use_stops_the_bot_at_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with Harness.open(tmp_path, METRICS_ADDR=f"127.0.0.1:{port}") as h:
            apply_api_base(h.app.settings.discord_api_base)
            bot = make_bot(h.app)
            try:
                with pytest.raises(SettingsError, match="METRICS_ADDR: cannot listen on 127.0.0.1"):
                    await bot.start(TOKEN)
            finally:
                await bot.close()
            assert h.double.gateway.sessions == {}  # it never connected to Discord


async def test_without_metrics_addr_nothing_listens(tmp_path):
    async with Harness.open(tmp_path) as h:
        await h.start_bot()
        assert h.bot.ops.url is None
