"""The double and discord.py's traffic: interactions (commands, buttons, selects, modals,
deferrals), messages, DMs, mentions, and REST objects."""

from __future__ import annotations

import asyncio
import os

import discord
import pytest

from tests.discord_double import ShownModal
from tests.double_tests.sample_bot import ALICE, BOB, GUILD_ID, menu_message

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
