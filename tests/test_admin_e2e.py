"""/admin end to end: the moderators' commands through real discord.py and the local Discord double.

A moderator's every change lands in the core (with the audit trail naming the moderator and
the reason) and in the mod-log; a non-moderator is refused and nothing runs.
"""

from __future__ import annotations

import dataclasses

import pytest

import locales
from bot.moderation import NOT_A_MODERATOR
from tests.bot_harness import ALICE, BOB, CAROL, Harness, labels, select_of
from tests.conftest import table_counts
from tests.discord_double import DoubleTimeout, Message
from tests.refund_harness import MODERATOR, MODS, ROLE_MODERATOR, as_if_allowed, checked


@pytest.fixture
async def h(tmp_path):
    async with checked(tmp_path) as harness:
        yield harness


REFUSAL = locales.render(NOT_A_MODERATOR, "en")

# Every /admin command with valid options (users by id, choices by value).
COMMANDS: list[tuple[str, dict]] = [
    ("admin lookup", {"user": ALICE}),
    ("admin cases", {}),
    ("admin decide", {"case": "#00000000", "decision": "approve", "reason": "because"}),
    ("admin credits", {"action": "grant", "user": ALICE, "amount": 1000, "reason": "because"}),
    ("admin restriction", {"user": BOB, "decision": "lift", "reason": "because"}),
    ("admin plan", {"user": ALICE, "plan": "pro", "reason": "because"}),
    ("admin link", {"user": CAROL, "email": "carol@example.com", "reason": "because"}),
    ("admin audit", {"user": ALICE}),
    ("admin stats", {}),
    ("admin report", {"weeks": 4}),
    ("admin forget", {"user": ALICE, "reason": "because"}),  # bot/privacy.py
]


async def admin(h: Harness, name: str, options: dict | None = None, user: int = MODERATOR) -> Message:
    reply = await h.command(user, f"admin {name}", options)
    assert reply.ephemeral, "moderators' answers are for the moderator alone"
    return reply


async def restricted_account(h: Harness, user: int):
    """The third account made on one device: restricted by the device limit (2)."""
    for n in (1, 2):
        await h.app.core.create_account(f"d{n}@example.com", key=f"dev:{n}", device_id="phone-1")
    return await h.app.core.create_account(f"user{user}@example.com", key=f"signup:{user}", device_id="phone-1",
                                           discord_id=str(user))


async def audit_rows(h: Harness, action: str) -> list[dict]:
    async with h.app.db.read() as tx:
        return await tx.fetchall("SELECT actor, reason FROM audit_log WHERE action = ? ORDER BY created_at", action)


async def test_admin_is_a_guild_only_group_hidden_from_members_without_manage_server(h):
    await h.start_bot()
    [group] = [c for c in h.double.commands() if c["name"] == "admin"]
    assert int(group["default_member_permissions"]) == 1 << 5  # Manage Server
    assert group.get("contexts") == [0] or group.get("dm_permission") is False
    assert sorted(o["name"] for o in group["options"]) == sorted(n.split()[1] for n, _ in COMMANDS)
    with pytest.raises(PermissionError):  # Discord does not even offer it to Alice
        await h.double.slash(ALICE, "admin stats")


async def test_a_moderators_changes_reach_the_core_the_audit_trail_and_the_mod_log(h):
    alice = await h.account(ALICE)
    await restricted_account(h, BOB)
    await h.app.core.create_account("carol@example.com", key="signup:carol", plan="basic")
    await h.start_bot()

    looked = await admin(h, "lookup", {"user": ALICE, "reason": "ticket 12"})
    assert "Account: user3001@example.com" in looked.content and "Plan: Plus, active" in looked.content
    assert "Credits: 0 free today, 4,000 subscription, 0 top-up" in looked.content
    assert "Restrictions: none" in looked.content and "Open requests: none" in looked.content
    assert "Subscription to Plus · $19.99" in looked.content
    log = await h.double.next_message(MODS)
    assert log.content == f"<@{MODERATOR}> looked up the account of <@{ALICE}>.\nReason: ticket 12"

    granted = await admin(h, "credits", {"action": "grant", "user": ALICE, "amount": 250, "reason": "goodwill"})
    assert "granted 250 credits" in granted.content and "Their balance is now 4,250 credits." in granted.content
    assert (await h.double.next_message(MODS)).content == f"<@{MODERATOR}> granted 250 credits to <@{ALICE}>. Reason: goodwill"
    await admin(h, "credits", {"action": "remove", "user": ALICE, "amount": 50, "reason": "typo"})
    assert "removed 50 credits" in (await h.double.next_message(MODS)).content
    assert [r["actor"] for r in await audit_rows(h, "adjust_credits")] == [f"moderator:{MODERATOR}"] * 2
    assert [r["reason"] for r in await audit_rows(h, "adjust_credits")] == ["goodwill", "typo"]

    lifted = await admin(h, "restriction", {"user": BOB, "decision": "lift", "reason": "one person, two phones"})
    assert "lifted the device restriction" in lifted.content
    assert not (await h.view(BOB)).restricted
    await h.double.next_message(MODS)

    moved = await admin(h, "plan", {"user": ALICE, "plan": "pro", "reason": "compensation"})
    assert f"moved <@{ALICE}> from Plus to Pro, effective now" in moved.content
    assert (await h.view(ALICE)).plan == "pro"
    await h.double.next_message(MODS)

    linked = await admin(h, "link", {"user": CAROL, "email": "carol@example.com", "reason": "verified by email"})
    assert "linked" in linked.content and (await h.view(CAROL)).plan == "basic"
    await h.double.next_message(MODS)
    unknown = await admin(h, "link", {"user": CAROL, "email": "nobody@example.com", "reason": "x"})
    assert "No account has the email address" in unknown.content

    trail = await admin(h, "audit", {"user": ALICE})
    assert "admin_change_plan" in trail.content and "adjust_credits" in trail.content and "compensation" in trail.content
    assert "read the audit trail" in (await h.double.next_message(MODS)).content

    stats = await admin(h, "stats")
    assert "Open requests: 0" in stats.content and "Refunds granted: 0, in total $0.00" in stats.content
    assert "Messages waiting to be sent: 0" in stats.content
    assert "never delivered" not in stats.content  # shown only when something was lost
    assert alice.account_id


async def test_cases_lists_the_queue_and_decide_works_by_short_reference(h):
    await h.account(ALICE)
    await h.start_bot()
    assert (await admin(h, "cases")).content == "No open requests."
    await h.command(ALICE, "refund")
    dm = await h.double.next_message(dm_of=ALICE)
    reasons = await h.choose(ALICE, dm, select_of(dm)["options"][0]["value"])
    await h.press(ALICE, await h.choose(ALICE, reasons, "service_problem"), "Send without details")
    post = await h.double.next_message(MODS)
    [case] = await h.app.core.cases.list()
    ref = f"#{case.id[:8]}"
    listed = await admin(h, "cases")
    assert f"{ref} · refund · <@{ALICE}> · The service did not work · recommended: deny" in listed.content
    looked = await admin(h, "lookup", {"user": ALICE})
    assert ref in looked.content
    await h.double.next_message(MODS)  # the lookup's log line

    decided = await admin(h, "decide", {"case": ref, "decision": "deny", "reason": "no outage that day"})
    assert f"Denied by <@{MODERATOR}>" in decided.content and "The user will be told by DM as soon as Discord accepts the message." in decided.content
    assert (await h.app.core.cases.get(case.id)).status == "denied"
    assert "was declined" in (await h.double.next_message(dm_of=ALICE)).content
    assert f"denied refund request {ref}" in (await h.double.next_message(MODS)).content
    again = await admin(h, "decide", {"case": case.id, "decision": "approve", "reason": "changed my mind"})
    assert "already decided" in again.content and (await h.app.core.cases.get(case.id)).status == "denied"
    # The post's buttons, pressed after the decision, show it instead of reopening it.
    shown = await h.press(MODERATOR, post, "Approve")
    assert isinstance(shown, Message) and "Denied by" in shown.content and shown.components == []


async def test_non_moderators_are_refused_every_command_and_nothing_runs(h):
    await h.account(ALICE)
    await restricted_account(h, BOB)
    await h.app.core.create_account("carol@example.com", key="signup:carol", plan="basic")
    await h.start_bot()
    before = await table_counts(h.app.db)
    for name, options in COMMANDS:
        with pytest.raises(PermissionError):  # Discord's own gate: the command is not offered
            await h.double.slash(BOB, name, options)
        # Past Discord's gate (an admin opened /admin to everyone): the bot's own check refuses.
        reply = await (await as_if_allowed(h.double, BOB, name, options)).response()
        assert reply.ephemeral and reply.content == REFUSAL, name
    assert await table_counts(h.app.db) == before  # nothing changed, nothing audited
    assert (await h.view(BOB)).restricted and (await h.view(ALICE)).plan == "plus"
    with pytest.raises(DoubleTimeout):  # nothing posted to the mod-log
        await h.double.next_message(MODS, timeout=0.3)


async def test_a_non_moderator_cannot_decide_a_case_from_its_buttons(h):
    await h.account(ALICE)
    await h.start_bot()
    await h.command(ALICE, "refund")
    dm = await h.double.next_message(dm_of=ALICE)
    reasons = await h.choose(ALICE, dm, select_of(dm)["options"][0]["value"])
    await h.press(ALICE, await h.choose(ALICE, reasons, "duplicate"), "Send without details")
    post = await h.double.next_message(MODS)
    refused = await h.press(BOB, post, "Approve")
    assert isinstance(refused, Message) and refused.ephemeral and refused.content == REFUSAL
    assert h.double.world.messages[post.id].components == post.components
    [case] = await h.app.core.cases.list()
    assert case.status == "open"
    assert labels(post) == ["Approve", "Deny"]


async def test_a_moderator_role_without_manage_server_is_allowed(h):
    h.app.settings = dataclasses.replace(h.app.settings, moderator_role_ids=(h.double.role("helpers").id,))
    await h.account(ALICE)
    await h.start_bot()
    reply = await (await as_if_allowed(h.double, ROLE_MODERATOR, "admin credits",
                                       {"action": "grant", "user": ALICE, "amount": 10, "reason": "thanks"})).response()
    assert reply.ephemeral and "granted 10 credits" in reply.content
    assert (await audit_rows(h, "adjust_credits"))[0]["actor"] == f"moderator:{ROLE_MODERATOR}"
