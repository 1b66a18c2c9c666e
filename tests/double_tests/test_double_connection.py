"""The double and discord.py's connection: pointing it at the double, identify and sync,
faults and reconnects, shards and processes."""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest

from bot.discord_endpoint import apply_api_base
from tests.discord_double import DoubleTimeout
from tests.double_tests.sample_bot import (
    ALICE,
    APP_ID,
    GUILD_B,
    GUILD_ID,
    ROOT,
    make_bot,
    menu_message,
)

# -- pointing discord.py at the double --------------------------------------------------


def test_apply_api_base_sets_rest_and_gateway(discord_endpoint):
    apply_api_base("http://127.0.0.1:8123/api/v10/")
    assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:8123/api/v10/users/@me"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:8123/"
    apply_api_base(None)  # unset: nothing changes (production talks to discord.com)
    assert discord.http.Route.BASE == "http://127.0.0.1:8123/api/v10"


@pytest.mark.parametrize(
    "base",
    ["http://discord.com:80/api/v10", "http://10.0.0.5:8123/api/v10", "http://127.0.0.1:8123/api/v9",
     "http://127.0.0.1/api/v10", "ftp://127.0.0.1:8123/api/v10"],
)  # fmt: skip
def test_apply_api_base_rejects_non_loopback_or_bad_urls(discord_endpoint, base):
    with pytest.raises(ValueError):
        apply_api_base(base)


# -- connection and sync ------------------------------------------------------------------


async def test_connects_identifies_and_receives_guild(double, bot):
    await asyncio.wait_for(bot.wait_until_ready(), 5)
    assert bot.user.id == APP_ID and bot.application_id == APP_ID
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and {c.name for c in guild.text_channels} == {"general", "support"}
    assert guild.get_member(ALICE).roles[-1].name == "customer"  # members intent: full member list
    [connection] = double.gateway.connections
    assert connection["op"] == "identify" and connection["query"]["compress"] == "zlib-stream"
    assert connection["query"]["v"] == "10" and connection["query"]["encoding"] == "json"
    assert [r.path for r in double.requests("GET")][:2] == [
        "/users/@me",
        "/oauth2/applications/@me",
    ]


async def test_command_sync_is_recorded_with_localizations(double, bot):
    [cancel] = [c for c in double.commands() if c["name"] == "cancel"]
    assert cancel["name_localizations"] == {"fr": "annuler"}
    assert cancel["description_localizations"] == {"fr": "Résilier votre abonnement"}
    assert cancel["options"][0]["name"] == "reason" and cancel["options"][0]["required"] is True
    assert [c["name"] for c in double.commands(guild_id=GUILD_ID)] == ["slow"]
    assert double.requests("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")


# -- faults and reconnects ------------------------------------------------------------------------


async def test_injected_500_is_retried(double, bot):
    fault = double.fail("POST", "/channels/*/messages", status=500, times=1)
    await double.say(ALICE, "general", "!echo after a 500")
    assert (await double.next_message("general")).content == "after a 500"  # discord.py waits 1 s
    assert fault.hits == 1
    assert [r.status for r in double.requests("POST", "/channels/*/messages")] == [500, 200]


async def test_injected_429_is_waited_out(double, bot):
    double.fail("POST", "/channels/*/messages", status=429, retry_after=0.05)
    await double.say(ALICE, "general", "!echo after a 429")
    assert (await double.next_message("general")).content == "after a 429"
    assert [r.status for r in double.requests("POST", "/channels/*/messages")] == [429, 200]


async def test_dropped_gateway_resumes_and_replays(double, bot):
    assert await double.drop_connection() == 1
    # Sent while the bot is offline: kept in the session and replayed on RESUME.
    inter = await double.slash(ALICE, "menu")
    assert (await inter.response()).content == "Pick one"
    resumed = double.gateway.connections[-1]
    assert resumed["op"] == "resume" and resumed["path"] == "/resume"  # READY's resume URL
    [session] = double.gateway.sessions.values()
    assert session.replayed >= 1


async def test_clean_close(double):
    bot = make_bot()
    task = asyncio.create_task(bot.start(double.token))
    await double.wait_ready()
    await bot.close()
    await asyncio.wait_for(task, 5)
    await double.wait_disconnected()
    assert double.unhandled_requests == []
    # One socket, closed, no reconnect attempt. (discord.py's reader task answers the
    # closing socket with code 4000 before its own 1000 goes out; Discord sees the same.)
    [connection] = double.gateway.connections
    assert connection["close_code"] is not None


async def test_late_interaction_response_is_rejected(double, bot):
    double.ack_deadline = 0.0  # every answer is "too late", as after 3 s on Discord
    inter = await double.slash(ALICE, "menu")
    callback = await double.wait_request("POST", f"/interactions/{inter.id}/*/callback")
    assert callback.status == 404 and inter.callback_type is None


async def test_waiting_helpers_time_out_clearly(double, bot):
    with pytest.raises(DoubleTimeout, match="a bot message in channel"):
        await double.next_message("support", timeout=0.1)


# -- shards and processes --------------------------------------------------------------------------


async def test_two_shards_each_get_their_guild(double):
    double.add_guild(GUILD_B, "Second", channels=["b-general"])
    double.add_user(ALICE, "alice", guild_id=GUILD_B)
    bots = [make_bot(shard_id=i, shard_count=2) for i in (0, 1)]
    tasks = [asyncio.create_task(b.start(double.token)) for b in bots]
    try:
        await double.wait_ready()
        assert [[g.id for g in b.guilds] for b in bots] == [[GUILD_ID], [GUILD_B]]
        reply = await (
            await double.slash(ALICE, "cancel", {"reason": "x"}, channel="b-general")
        ).response()
        assert reply.content.endswith("shard=1")
    finally:
        for b in bots:
            await b.close()
        await asyncio.gather(*tasks)


async def test_double_runs_as_its_own_process():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.discord_double",
        "--user",
        "1001:alice",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        key, base = line.split("=", 1)
        assert key == "DISCORD_API_BASE"
        headers = {"Authorization": "Bot test-token"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(base + "/gateway/bot") as resp,
        ):
            body = await resp.json()
        assert body["url"].startswith("ws://127.0.0.1:") and body["shards"] == 1
    finally:
        proc.terminate()
        await proc.wait()


async def test_bot_process_restart_keeps_old_dynamic_buttons(double, tmp_path):
    env = {**os.environ, "DISCORD_API_BASE": double.api_base, "DISCORD_TOKEN": double.token}

    async def launch(n: int) -> asyncio.subprocess.Process:
        # The bot logs to tmp_path/bot<n>.log; look there if this test fails.
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.double_tests.sample_bot",
            cwd=ROOT,
            env={**env, "BOT_LOG": str(tmp_path / f"bot{n}.log")},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    first = await launch(1)
    try:
        await double.wait_ready(timeout=15)
        menu = await menu_message(double)
        answer = await (await double.click(ALICE, menu, "ticket:42")).response()
        assert answer.content == f"ticket 42 opened by pid {first.pid}"
    finally:
        first.kill()
        await first.wait()
    await double.wait_disconnected()

    second = await launch(2)
    try:
        await double.wait_ready(timeout=15)
        answer = await (await double.click(ALICE, menu, "ticket:42")).response()
        assert answer.content == f"ticket 42 opened by pid {second.pid}"
    finally:
        second.terminate()
        await second.wait()
