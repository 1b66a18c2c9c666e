"""Hostile input through real discord.py and the local Discord double.

What a public server throws at the bot: 4,000-character messages, zero-width and bidi
controls, @everyone/@here/role/user mentions and markdown in text the bot echoes (cancel
comments, refund details), SQL-looking text, emoji-only and mixed-script messages, forged
and malformed custom_ids, modal fields at and over their limits, commands where they do
not belong. Each gets a clear translated message or silence; never a ping (allowed_mentions
checked on every request the bot made), never a traceback, never a change to the core.
"""

from __future__ import annotations

import pytest

from tests.bot_harness import (
    ALICE,
    BOB,
    Harness,
    labels,
    select_of,
)
from tests.conftest import TABLES, table_counts
from tests.discord_double import DoubleTimeout, Message
from tests.discord_double.interactions import new_interaction
from tests.refund_harness import MODERATOR, MODS, as_if_allowed, checked
from tests.test_hardening_kill import record_figures

ZW = "\u200b\u200c\u200d\u2060\ufeff"
BIDI = "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d"
SQL = "'; DROP TABLE accounts; -- \" OR 1=1; SELECT * FROM invoices WHERE '1'='1"
PINGS = "@everyone @here <@&{role}> <@{user}> <@!{user}> **bold** __u__ ~~s~~ ||spoiler|| `code` > quote [link](https://evil.example)"

HOSTILE_MESSAGES = [
    "x" * 4000,
    ("how can I cancel my subscription? " * 120)[:4000],
    f"how{ZW}can{ZW}I{ZW}cancel my subscription?",
    f"{BIDI}how can I cancel my subscription?{BIDI}",
    ZW * 50,
    BIDI * 20,
    "@everyone @here how can I cancel my subscription?",
    SQL,
    f"how can I cancel? {SQL}",
    "🔥🔥🔥💸💸💸",
    "😀",
    "🇮🇷🇺🇸🇩🇪",
    "how do I cancel моя подписка لغو اشتراک 解约 キャンセル?",
    "چطور اشتراکم را cancel کنم؟ DROP TABLE",
    "```py\nimport os; os.system('rm -rf /')\n```",
    "%s %d {0} {user} {{}} %(name)s \\x00 \\n",
    "\x00\x01\x02 null bytes",
    "<script>alert(1)</script> how do I buy more credits?",
    "ﷺ" * 300,
    "Z̸̡̛̗̣̬͇̦̜̻̳͎̺̘͖̻̆̋̈́̿̀̿͘͘a̸̢̩͈͍̤̘̝̣̎͜l̷g̶o̴ " * 20,
]
FORBIDDEN_IN_REPLIES = ("Traceback", 'File "', "Exception", "sqlite3", "OperationalError", "KeyError")
CORE_TABLES = [t for t in TABLES if t != "discord_users"]  # the language memory may move


@pytest.fixture
async def h(tmp_path):
    async with checked(tmp_path) as harness:
        yield harness
        for message in harness.double.world.messages.values():
            if message.author_id == harness.double.bot_user.id:
                assert not any(word in message.content for word in FORBIDDEN_IN_REPLIES), message.content
                assert not message.mention_everyone and not message.mention_ids and not message.mention_role_ids


async def core_counts(h: Harness) -> dict:
    counts = await table_counts(h.app.db)
    return {t: counts[t] for t in CORE_TABLES}


def bot_messages(h: Harness) -> list[Message]:
    return [m for m in h.double.world.messages.values() if m.author_id == h.double.bot_user.id]


async def test_hostile_messages_get_an_answer_or_silence_and_change_nothing(h):
    await h.account(ALICE)
    await h.start_bot()
    role = h.double.add_role("staff")
    before = await core_counts(h)
    users = []
    for n, text in enumerate(HOSTILE_MESSAGES):
        user = 7000 + n
        h.double.add_user(user, f"u{n}")
        users.append(user)
        await h.double.say(user, "support", text.format(role=role.id, user=BOB) if "{role}" in text else text)
        await h.double.say(user, h.double.dm_channel(user), text)
        await h.double.say(user, "general", text, mentions_bot=True)
    # Everything above has been handled once the control message is answered (in order).
    control = await h.double.say(ALICE, "support", "how do I buy more credits?")
    await h.double.world.wait_until(
        lambda: any(m.message_reference and m.message_reference.get("message_id") == control.id for m in bot_messages(h)) or None,
        10, "the control answer")
    assert await core_counts(h) == before
    replies = [m for m in bot_messages(h) if m.message_reference and m.message_reference.get("message_id") != control.id]
    assert all(len(m.content) <= 2000 for m in replies)
    record_figures(input_messages=len(HOSTILE_MESSAGES) * 3, input_message_replies=len(replies))


async def test_mentions_markdown_and_sql_in_echoed_text_round_trip_verbatim_and_ping_nobody(h):
    await h.account(ALICE)
    await h.start_bot()
    role = h.double.add_role("staff")
    hostile = f"{PINGS.format(role=role.id, user=BOB)} {SQL} {ZW}{BIDI} 🔥 سلام"
    reasons = await h.command(ALICE, "cancel")
    comment_step = await h.choose(ALICE, reasons, "other")
    modal = await h.press(ALICE, comment_step, "Add a comment")
    offer = await (await h.double.submit_modal(ALICE, modal.custom_id, {"comment": hostile})).response()
    confirm = await h.press(ALICE, offer, "Continue to cancel")
    done = await h.press(ALICE, confirm, "Cancel renewal")
    assert done.content.startswith("Auto-renewal cancelled.")
    async with h.app.db.read() as tx:
        stored = (await tx.fetchone("SELECT cancel_comment FROM subscriptions"))["cancel_comment"]
    assert stored == hostile.strip()  # verbatim: a parameter, never SQL
    assert (await tx_count(h, "accounts")) == 1  # and no table was dropped

    # A refund request's details go to the moderators' channel.
    assert "Auto-renewal cancelled." in (await h.double.next_message(dm_of=ALICE)).content  # the receipt
    await h.command(ALICE, "refund")
    dm = await h.double.next_message(dm_of=ALICE)
    reasons = await h.choose(ALICE, dm, select_of(dm)["options"][0]["value"])
    details = await h.choose(ALICE, reasons, "duplicate")
    form = await h.press(ALICE, details, "Add details and send")
    await (await h.double.submit_modal(ALICE, form.custom_id, {"details": hostile})).response()
    post = await h.double.next_message(MODS)
    assert post.allowed_mentions.get("parse") == [] and not post.mention_everyone and post.mention_role_ids == []
    [case] = await h.app.core.cases.list()
    assert case.details == hostile.strip()


async def tx_count(h: Harness, table: str) -> int:
    return (await table_counts(h.app.db))[table]


async def test_modal_fields_at_the_limit_pass_and_over_it_are_refused_plainly(h):
    await h.account(ALICE)
    await h.start_bot()
    reasons = await h.command(ALICE, "cancel")
    comment_step = await h.choose(ALICE, reasons, "other")
    modal = await h.press(ALICE, comment_step, "Add a comment")
    before = await core_counts(h)
    # Over the limit: a modified client (Discord's own would stop at max_length).
    over = await forged_modal(h, ALICE, modal.custom_id, {"comment": "é" * 1001}, comment_step)
    refused = await over.response()
    assert "the limit is 1,000" in refused.content and await core_counts(h) == before
    at_limit = await forged_modal(h, ALICE, modal.custom_id, {"comment": "ж" * 1000}, comment_step)
    offer = await at_limit.response()
    assert "Continue to cancel" in labels(offer)
    # Fields the form does not have, and a 10,000-character one: ignored or refused, never a crash.
    odd = await forged_modal(h, ALICE, modal.custom_id, {"comment": "x" * 10000, "evil": SQL}, comment_step)
    await odd.response()
    assert await core_counts(h) == before


async def forged_modal(h: Harness, user: int, custom_id: str, values: dict, message: Message):
    world = h.double.world
    data = {"custom_id": custom_id, "components": [
        {"type": 18, "id": n, "component": {"type": 4, "id": n, "custom_id": k, "value": v}}
        for n, (k, v) in enumerate(values.items(), 1)]}
    record = new_interaction(world, kind=5, user=world.user(user), channel=world.channels[message.channel_id],
                             data=data, message=message)
    return await h.double._dispatch(record)


async def forged_press(h: Harness, user: int, custom_id: str, message: Message, values: list | None = None):
    """A press with any custom_id: the payload's message is made to carry that component, as a
    modified client replaying or crafting an interaction would (discord.py looks the component
    up in the message it is given)."""
    world = h.double.world
    data = {"custom_id": custom_id, "component_type": 3 if values is not None else 2}
    if values is not None:
        data["values"] = values
        component = {"type": 3, "custom_id": custom_id, "options": [{"label": str(v)[:100], "value": str(v)} for v in values]}
    else:
        component = {"type": 2, "style": 1, "label": "forged", "custom_id": custom_id}
    record = new_interaction(world, kind=3, user=world.user(user), channel=world.channels[message.channel_id],
                             data=data, message=message)
    record.payload["message"]["components"] = [{"type": 1, "components": [component]}]
    return await h.double._dispatch(record)


async def test_forged_and_malformed_custom_ids_are_refused_or_ignored_and_change_nothing(h):
    await h.account(ALICE)
    await h.account(BOB)
    await h.start_bot()
    alices = await h.command(ALICE, "cancel")
    alice_flow = select_of(alices)["custom_id"].split(":")[1]
    bobs = await h.command(BOB, "topup")
    await h.command(ALICE, "refund")
    alices_dm = await h.double.next_message(dm_of=ALICE)
    refund_flow = select_of(alices_dm)["custom_id"].split(":")[1]
    before = await core_counts(h)
    forged = [
        (f"f:{alice_flow}:confirm:confirm", None),     # a step from the future
        (f"f:{alice_flow}:reason:reason", ["other"]),  # Alice's flow, pressed by Bob
        (f"f:{alice_flow}:reason:=quoted", None),      # an internal action
        (f"m:{alice_flow}:comment:comment", None),     # Alice's form
        (f"f:{'0' * 32}:reason:reason", ["other"]),    # a flow that never existed
        (f"f:{alice_flow}:reason:reason", [SQL]),      # a value no option has
        (f"f:{alice_flow}:reason:{'a' * 40}", None),
        (f"refund:{refund_flow}:retry", None),         # Alice's retry button
        (f"case:{'1' * 32}:approve", None),            # a case button, not a moderator
        ("s:nonexistent_kind", None),
        ("s:status", None),
        ("f:garbage", None), ("garbage", None), ("f:" + "A" * 97, None), ("x" * 100, None),
        ("f:::", None), ("case:::", None), (f"{SQL}"[:100], None), ("\u202e" * 10, None),
    ]
    answered = silent = 0
    for custom_id, values in forged:
        handle = await forged_press(h, BOB, custom_id, bobs, values)
        try:
            reply = await handle.response(timeout=0.7)
        except DoubleTimeout:
            print("silent:", custom_id)
            silent += 1  # no dynamic item matches: discord.py ignores it, Discord shows "failed"
            continue
        answered += 1
        print("answered:", custom_id[:60], "->", reply.content[:90])
        assert isinstance(reply, Message) and (reply.ephemeral or reply.id == bobs.id), custom_id
        assert "Auto-renewal cancelled" not in reply.content
    # The owner herself, with a step from the future, an internal action, a value no option has.
    for custom_id, values in [(f"f:{alice_flow}:confirm:confirm", None), (f"f:{alice_flow}:reason:=quoted", None),
                              (f"f:{alice_flow}:reason:reason", [SQL]), (f"f:{alice_flow}:offer:take", None)]:
        reply = await (await forged_press(h, ALICE, custom_id, alices, values)).response()
        print("owner:", custom_id[40:], "->", reply.content[:80])
        assert "cancelled" not in reply.content.lower() or "Nothing was changed" in reply.content
        forged.append((custom_id, values))
        answered += 1
    assert await core_counts(h) == before
    assert not (await h.view(ALICE)).cancel_at_period_end
    assert h.double.world.messages[alices.id].content == alices.content  # Alice's message untouched
    # Alice's own flow still works after all that.
    assert "Add a comment" in labels(await h.choose(ALICE, alices, "other"))
    record_figures(input_forged_ids=len(forged), input_forged_answered=answered, input_forged_silent=silent)


async def test_commands_in_the_wrong_place_are_refused_plainly(h):
    await h.account(ALICE)
    await h.start_bot()
    before = await core_counts(h)
    dm = h.double.dm_channel(MODERATOR)
    with pytest.raises(PermissionError):  # Discord does not offer /admin in DMs
        await h.double.slash(MODERATOR, "admin stats", channel=dm)
    forced = await (await as_if_allowed(h.double, MODERATOR, "admin credits",
                                        {"action": "grant", "user": ALICE, "amount": 5, "reason": "x"}, channel=dm)).response()
    assert "Only moderators" in forced.content
    # User commands work in a DM (they are the user's own business), and /refund there runs in place.
    status = await h.command(ALICE, "subscription", channel=h.double.dm_channel(ALICE))
    assert "Plus" in status.content
    assert await core_counts(h) == before
    # A case button pressed in a DM by its moderator: it is not a server, so not a moderator there.
    case_button = await forged_press(h, MODERATOR, f"case:{'2' * 32}:approve",
                                     await h.command(MODERATOR, "help", channel=dm))
    assert "Only moderators" in (await case_button.response()).content
    record_figures(input_wrong_place=3)


# -- the console: the same flows in a terminal -----------------------------------------------------


async def test_hostile_lines_in_the_console_get_plain_answers_and_change_nothing(tmp_path):
    import io

    from bot.bootstrap import build
    from bot.console import run_console
    from bot.settings import Settings

    app = await build(Settings(database_url=f"sqlite:///{tmp_path / 'console.db'}", clock="simulated"))
    try:
        async def session(lines: list[str]) -> tuple[int, str]:
            out = io.StringIO()
            status = await run_console(app, "eve", None, io.StringIO("\n".join(lines) + "\n"), out)
            return status, out.getvalue()

        assert (await session(["/quit"]))[0] == 0  # seeds the demo account
        before = {t: n for t, n in (await table_counts(app.db)).items() if t not in ("flows", "discord_users")}
        lines = [*HOSTILE_MESSAGES, "/language ' OR 1=1 --", "/language", "/link " + SQL, "/link", "/nope " + "x" * 4000,
                 "/cancel", "99", "-1", "0", "1e9", "", " ", "\u202e1", "١", "۱", SQL, "8", "/" + ZW, "/topup",
                 "1" * 5000, "²", "12345678901234567890", "/plan", "🔥", "/admin stats", "/quit"]
        status, out = await session(lines)
        assert status == 0
        assert not any(word in out for word in FORBIDDEN_IN_REPLIES), out[-2000:]
        after = {t: n for t, n in (await table_counts(app.db)).items() if t not in ("flows", "discord_users")}
        assert after == before
        record_figures(input_console_lines=len(lines))
    finally:
        await app.close()
