"""The Discord double against the real, unmodified discord.py 2.7.1 client.

A tiny bot defined here (slash commands, a View with a button, a DynamicItem button, a
select and a modal, a prefix command echoing with mentions off) runs in the test's event
loop, or as a separate process (``python -m tests.test_discord_double`` with
DISCORD_API_BASE and DISCORD_TOKEN set) for the restart test.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from bot.discord_endpoint import apply_api_base
from tests.discord_double import DiscordDouble, DoubleTimeout, Message, ShownModal

ROOT = Path(__file__).resolve().parent.parent
APP_ID = 1_150_000_000_000_000_001
GUILD_ID = 1_150_000_000_000_000_000  # shard (GUILD_ID >> 22) % 2 == 0
GUILD_B = GUILD_ID + (1 << 22)  # lands on the other shard of two
ALICE, BOB = 2001, 2002


# -- the bot under test ---------------------------------------------------------------


class TicketButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ticket:(?P<id>[0-9]+)"):
    """Survives restarts: any process that registered it handles ``ticket:<n>`` clicks."""

    def __init__(self, ticket_id: int) -> None:
        super().__init__(discord.ui.Button(label="Open ticket", custom_id=f"ticket:{ticket_id}"))
        self.ticket_id = ticket_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"ticket {self.ticket_id} opened by pid {os.getpid()}", ephemeral=True
        )


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your feedback", custom_id="feedback:text", max_length=200)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}")


class MenuView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(TicketButton(42))

    @discord.ui.button(label="Ping", custom_id="menu:ping")
    async def ping(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="pong", view=None)

    @discord.ui.button(label="Feedback", custom_id="menu:feedback")
    async def feedback(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @discord.ui.select(
        custom_id="menu:plan",
        options=[
            discord.SelectOption(label="Basic", value="basic"),
            discord.SelectOption(label="Pro", value="pro"),
        ],
    )
    async def plan(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"plan={select.values[0]}", ephemeral=True)


class FrenchTranslator(app_commands.Translator):
    async def translate(self, string, locale, context):
        if locale is discord.Locale.french:
            return {
                "cancel": "annuler",
                "Cancel your subscription": "Résilier votre abonnement",
            }.get(string.message)
        return None


def make_bot(**options) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05, **options)

    @bot.tree.command(
        name=app_commands.locale_str("cancel"),
        description=app_commands.locale_str("Cancel your subscription"),
    )
    async def cancel(interaction: discord.Interaction, reason: str) -> None:
        await interaction.response.send_message(
            f"cancel locale={interaction.locale.value} reason={reason} shard={interaction.client.shard_id}"
        )

    @bot.tree.command(description="Show the menu")
    async def menu(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Pick one", view=MenuView())

    @bot.tree.command(description="Think, then answer")
    @app_commands.guilds(GUILD_ID)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await asyncio.sleep(0.05)
        await interaction.followup.send("done slowly")

    @bot.tree.command(description="Send me a DM")
    async def dm(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        try:
            await interaction.user.send("hello in DM")
        except discord.Forbidden as exc:
            await interaction.followup.send(f"dm failed {exc.code}")
        else:
            await interaction.followup.send("dm sent")

    @bot.tree.command(description="Staff only")
    @app_commands.default_permissions(manage_guild=True)
    async def audit(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("audit ok", ephemeral=True)

    @bot.command()
    async def echo(ctx: commands.Context, *, text: str) -> None:
        await ctx.send(text, allowed_mentions=discord.AllowedMentions.none())

    async def setup_hook() -> None:
        bot.add_dynamic_items(TicketButton)
        await bot.tree.set_translator(FrenchTranslator())
        await bot.tree.sync()
        await bot.tree.sync(guild=discord.Object(GUILD_ID))

    bot.setup_hook = setup_hook
    return bot


def _run_bot_process() -> None:
    """Entry point for the separate-process tests: the bot as production would start it."""
    apply_api_base(os.environ["DISCORD_API_BASE"])
    log_path = os.environ.get("BOT_LOG")
    handler = logging.FileHandler(log_path) if log_path else None
    make_bot().run(os.environ["DISCORD_TOKEN"], log_handler=handler)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def discord_endpoint():
    """Restore discord.py's real endpoints after a test re-pointed them."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


async def start_double(**options) -> DiscordDouble:
    double = await DiscordDouble.start(
        app_id=APP_ID, guild_id=GUILD_ID, channels=["general", "support"], **options
    )
    double.add_role("pro")
    double.add_user(ALICE, "alice", roles=["customer"])
    double.add_user(BOB, "bob", dms_open=False)
    return double


@pytest.fixture
async def double(discord_endpoint):
    double = await start_double()
    apply_api_base(double.api_base)
    yield double
    await double.stop()


@pytest.fixture
async def bot(double):
    bot = make_bot()
    task = asyncio.create_task(bot.start(double.token))
    try:
        await double.wait_ready()
        yield bot
    finally:
        await bot.close()
        await task  # returns once closed; re-raises anything the bot's connect loop hit
    assert double.unhandled_requests == [], "the bot used routes the double does not serve"


async def menu_message(double: DiscordDouble) -> Message:
    reply = await (await double.slash(ALICE, "menu")).response()
    assert isinstance(reply, Message)
    return reply


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


# -- interactions ---------------------------------------------------------------------------


async def test_slash_command_reply_carries_the_view(double, bot):
    reply = await menu_message(double)
    assert reply.content == "Pick one" and not reply.ephemeral
    assert reply.button("Ping")["custom_id"] == "menu:ping"
    assert reply.button(custom_id="ticket:42")["label"] == "Open ticket"
    assert [o["value"] for o in reply.component("menu:plan")["options"]] == ["basic", "pro"]
    [callback] = double.requests("POST", "/interactions/*/callback")
    assert callback.query == {"with_response": "1"} and callback.json["type"] == 4


async def test_slash_options_and_locale(double, bot):
    inter = await double.slash(ALICE, "cancel", {"reason": "too expensive"}, locale="fr")
    reply = await inter.response()
    assert reply.content == "cancel locale=fr reason=too expensive shard=None"
    with pytest.raises(ValueError, match="missing required options"):
        await double.slash(ALICE, "cancel", {})
    with pytest.raises(ValueError, match="no locale 'fa'"):
        await double.slash(ALICE, "cancel", {"reason": "x"}, locale="fa")


async def test_default_member_permissions_hide_commands(double, bot):
    with pytest.raises(PermissionError, match="lacks permissions"):
        await double.slash(ALICE, "audit")
    double.add_role("staff", permissions=1 << 5)  # MANAGE_GUILD
    double.add_user(2003, "carol", roles=["staff"])
    assert (await (await double.slash(2003, "audit")).response()).content == "audit ok"


async def test_dynamic_item_button_reaches_its_callback(double, bot):
    reply = await menu_message(double)
    answer = await (await double.click(ALICE, reply, "ticket:42")).response()
    assert answer.content == f"ticket 42 opened by pid {os.getpid()}" and answer.ephemeral
    with pytest.raises(PermissionError):  # nobody else sees alice's ephemeral message
        await double.click(BOB, answer, "anything")


async def test_button_updates_its_message(double, bot):
    reply = await menu_message(double)
    inter = await double.click(ALICE, reply, label="Ping")
    updated = await inter.response()
    assert inter.callback_type == 7 and updated.id == reply.id
    assert updated.content == "pong" and updated.components == [] and updated.edited_timestamp


async def test_select_menu(double, bot):
    reply = await menu_message(double)
    answer = await (await double.select(ALICE, reply, "menu:plan", ["pro"])).response()
    assert answer.content == "plan=pro"
    with pytest.raises(ValueError, match="not among"):
        await double.select(ALICE, reply, "menu:plan", ["gold"])


async def test_modal_round_trip(double, bot):
    reply = await menu_message(double)
    modal = await (await double.click(ALICE, reply, label="Feedback")).response()
    assert isinstance(modal, ShownModal) and modal.title == "Feedback"
    answer = await (
        await double.submit_modal(ALICE, modal.custom_id, {"feedback:text": "great"})
    ).response()
    assert answer.content == "thanks: great"
    with pytest.raises(ValueError, match="required"):
        await double.submit_modal(ALICE, modal.custom_id, {})


async def test_defer_then_follow_up(double, bot):
    inter = await double.slash(ALICE, "slow")
    assert await inter.acknowledged() == 5
    answer = await inter.response()
    assert answer.content == "done slowly" and answer.ephemeral and not answer.loading
    assert answer.id == (await inter.followup()).id  # the follow-up filled the loading message


# -- messages, DMs, mentions -------------------------------------------------------------------


async def test_dm_send_and_closed_dms(double, bot):
    sent = await (await double.slash(ALICE, "dm")).response()
    assert sent.content == "dm sent"
    assert (await double.next_message(dm_of=ALICE)).content == "hello in DM"
    failed = await (await double.slash(BOB, "dm")).response()
    assert failed.content == "dm failed 50007"
    [blocked] = [r for r in double.requests("POST", "/channels/*/messages") if r.status == 403]
    assert blocked.path == f"/channels/{double.dm_channel(BOB).id}/messages"


async def test_everyone_is_sent_with_mentions_disabled(double, bot):
    await double.say(ALICE, "general", "!echo hi @everyone")
    echoed = await double.next_message("general")
    assert echoed.content == "hi @everyone" and echoed.mention_everyone is False
    assert echoed.allowed_mentions == {"parse": []}
    [request] = double.requests("POST", f"/channels/{double.channel('general').id}/messages")
    assert request.json["allowed_mentions"] == {"parse": []}


async def test_direct_messages_from_the_user(double, bot):
    dm = double.dm_channel(ALICE)
    await double.say(ALICE, dm, "!echo hi in private")
    assert (await double.next_message(dm_of=ALICE)).content == "hi in private"
    reply = await (await double.slash(ALICE, "menu", channel=dm)).response()
    assert reply.content == "Pick one" and reply.guild_id is None


async def test_rest_objects_parse_in_discord_py(double, bot):
    """The bot's REST calls, made directly: every payload must load into discord.py models."""
    guild = bot.get_guild(GUILD_ID)
    assert (await bot.fetch_guild(GUILD_ID)).name == "Test Guild"
    assert {c.name for c in await guild.fetch_channels()} == {"general", "support"}
    assert "customer" in {r.name for r in await guild.fetch_roles()}
    assert (await guild.fetch_member(ALICE)).name == "alice"
    assert (await bot.fetch_user(BOB)).name == "bob"
    general = await bot.fetch_channel(double.channel("general").id)
    sent = await general.send("to be edited")
    await sent.add_reaction("\N{WHITE HEAVY CHECK MARK}")
    async with general.typing():
        edited = await sent.edit(content="edited")
    assert (await general.fetch_message(sent.id)).content == edited.content == "edited"
    await sent.delete()
    assert double.world.messages[sent.id].deleted
    assert [m.name for m in await guild.query_members("ali")] == ["alice"]  # gateway op 8


async def test_member_role_changes(double, bot):
    guild = bot.get_guild(GUILD_ID)
    pro = double.role("pro")
    member = guild.get_member(ALICE)
    updated = asyncio.ensure_future(bot.wait_for("member_update", timeout=5))
    await member.add_roles(discord.Object(pro.id))
    before, after = await updated
    assert "pro" in {r.name for r in after.roles} and "pro" not in {r.name for r in before.roles}
    assert pro.id in double.world.guilds[GUILD_ID].members[ALICE].role_ids
    await member.remove_roles(discord.Object(pro.id))
    assert pro.id not in double.world.guilds[GUILD_ID].members[ALICE].role_ids


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
            "tests.test_discord_double",
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


if __name__ == "__main__":
    _run_bot_process()
