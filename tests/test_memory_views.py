"""Memory that must not grow with the interactions the bot answers.

Every reply the bot sends carries buttons or a select, built as a ``discord.ui.View`` whose
items are dynamic items (bot/components.py): clicks are routed by the templates registered
with ``Client.add_dynamic_items``, never by the View object. A View that is still running
when it is sent is kept by discord.py: in its view store, or, for an ephemeral reply,
behind a 15-minute timeout task each (a fully dynamic view lands in none of the store's
dicts, so counting them alone would miss it). The bot stops its views before sending
them; these tests play a few hundred commands and presses against the real bot (in this
event loop) and the local Discord double, and check that neither the view store, nor
the live View objects, nor the running tasks, nor the instances of the project's own
classes grow with them.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from pathlib import Path

import discord

from tests.bot_harness import Harness, labels

USERS = 20
COMMANDS = 300  # /subscription, 20 users at a time
CANCEL_FLOWS = 40  # 7 interactions each: /cancel, reason, Skip, Continue, Cancel renewal, Resume x2
OURS = ("bot.", "flows.", "core.", "storage.", "locales.")
SLACK = 10  # objects that may come and go with timing (a delivery pass, a reminder task)


def view_store_counts(client: discord.Client) -> dict[str, int]:
    """What discord.py keeps for views: dispatch entries, message-tracked views, modals."""
    store = client._connection._view_store
    return {
        "dispatch entries": sum(len(items) for items in store._views.values()),
        "message views": len(store._synced_message_views),
        "modals": len(store._modals),
        "dynamic item templates": len(store._dynamic_items),
    }


def live_views() -> int:
    gc.collect()
    return sum(isinstance(o, discord.ui.view.BaseView) for o in gc.get_objects())


def our_instances() -> Counter:
    """Live instances per class of the project's own modules (the double's are not counted)."""
    gc.collect()
    found: Counter = Counter()
    for o in gc.get_objects():
        module = type(o).__dict__.get("__module__")
        if isinstance(module, str) and module.startswith(OURS):
            found[f"{module}.{type(o).__qualname__}"] += 1
    return found


def measure(client: discord.Client) -> dict:
    return {
        "store": view_store_counts(client),
        "views": live_views(),
        "tasks": len(asyncio.all_tasks()),
        "ours": our_instances(),
    }


async def subscriptions(h: Harness, users: list[int], count: int) -> None:
    async def one_user(user: int, times: int) -> None:
        for _ in range(times):
            reply = await h.command(user, "subscription")
            assert reply.ephemeral and labels(reply), reply.content

    per_user = count // len(users)
    await asyncio.gather(*(one_user(u, per_user) for u in users))


async def cancel_and_resume(h: Harness, user: int) -> None:
    """The cancel flow through every press, then auto-renew back on from its last screen."""
    message = await h.command(user, "cancel")
    message = await h.choose(user, message, "too_expensive")
    for label in ("Skip", "Continue to cancel", "Cancel renewal"):
        message = await h.press(user, message, label)
    assert message.content.startswith("Auto-renewal cancelled."), message.content
    message = await h.press(user, message, "Resume auto-renew")  # s:resume, a new message
    message = await h.press(user, message, "Resume auto-renew")  # the resume flow's confirm
    assert "Resume auto-renew" not in labels(message), message.content


async def flows_from_many_users(h: Harness, users: list[int]) -> None:
    # A user may start only so many flows a minute (flows/limits.py): each flow here has its own.
    for batch in range(0, len(users), USERS):
        await asyncio.gather(*(cancel_and_resume(h, u) for u in users[batch : batch + USERS]))


def grown(before: Counter, after: Counter, limit: int) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if after[k] - before[k] > limit}


async def test_views_and_tasks_do_not_grow_with_interactions(tmp_path):
    async with Harness.open(tmp_path) as h:
        users = [4_100 + i for i in range(USERS)]
        flow_users = [5_100 + i for i in range(CANCEL_FLOWS + USERS)]
        for user in users + flow_users:
            if user not in h.double.world.users:
                h.double.add_user(user, f"user{user}")
            await h.account(user)
        client = await h.start_bot()

        # Warm-up: first imports, caches filled once, the first DM channels.
        await subscriptions(h, users, USERS)
        await flows_from_many_users(h, flow_users[:USERS])
        await asyncio.sleep(0.2)
        before = measure(client)

        await subscriptions(h, users, COMMANDS)
        await flows_from_many_users(h, flow_users[USERS:])
        await asyncio.sleep(0.2)
        # The preferences copy is bounded by time and size (core/preferences.py), not by interactions.
        client.app.core.users.drop_copies()
        after = measure(client)

        interactions = COMMANDS + 7 * CANCEL_FLOWS
        assert after["store"] == before["store"], (
            f"discord.py's view store grew over {interactions} interactions: {before['store']} -> {after['store']}"
        )
        assert after["views"] <= before["views"] + SLACK, (
            f"{after['views'] - before['views']} more View objects alive after {interactions} interactions: "
            "a view sent without being stopped is kept by discord.py"
        )
        assert after["tasks"] <= before["tasks"] + SLACK, (
            f"{after['tasks'] - before['tasks']} more tasks after {interactions} interactions "
            "(an ephemeral reply's unstopped view keeps a 15-minute timeout task)"
        )
        assert grown(before["ours"], after["ours"], SLACK) == {}, (
            "instances of the project's classes grew with the interactions"
        )


def test_every_view_the_bot_sends_is_built_stopped_in_one_place():
    # The test above drives the common screens; this keeps the rarer ones (cases, privacy,
    # refund retries) on the same path: bot/render.py's carrier_view.
    bot_dir = Path(__file__).resolve().parent.parent / "bot"
    builders = {path.name for path in bot_dir.glob("*.py") if "ui.View(" in path.read_text(encoding="utf-8")}
    assert builders == {"render.py"}
