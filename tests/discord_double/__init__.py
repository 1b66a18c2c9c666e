"""A local Discord double: REST (/api/v10) and gateway on 127.0.0.1 for real discord.py bots.

Pointing a bot at it
--------------------
discord.py 2.7.1 takes every REST URL from ``discord.http.Route.BASE`` (webhooks and
interaction callbacks included) and, for a non-sharded client, opens the gateway at
``DiscordWebSocket.DEFAULT_GATEWAY`` without asking ``GET /gateway/bot``. Both must be
replaced in the bot process before it logs in. ``bot.discord_endpoint.apply_api_base``
does that from the ``DISCORD_API_BASE`` environment variable::

    DISCORD_API_BASE=http://127.0.0.1:PORT/api/v10     # = double.api_base

It sets Route.BASE to that value and the gateway to ``ws://127.0.0.1:PORT/`` (the double
serves its websocket at the root). READY's ``resume_gateway_url`` points at
``ws://127.0.0.1:PORT/resume``, so resumes stay local too. The bot token must equal the
double's ``token`` (default "test-token"). Auto-sharded bots get the URL and shard count
from ``GET /gateway/bot``.

Using it from a test
--------------------
::

    double = await DiscordDouble.start(app_id=..., guild_id=..., channels=["support"])
    alice = double.add_user(1001, "alice", roles=["customer"], locale="fr")
    apply_api_base(double.api_base)              # in-process bot; or pass the env var
    task = asyncio.create_task(bot.start(double.token))
    await double.wait_ready()
    inter = await double.slash(alice, "cancel", {"reason": "too expensive"})
    reply = await inter.response()               # Message (or ShownModal)
    await double.click(alice, reply, label="Confirm")

    double.fail("POST", "/channels/*/messages", status=429, retry_after=0.1)
    double.requests("POST", "/channels/*/messages")[-1].json["allowed_mentions"]

Every waiting helper takes a timeout (default 5 s) and raises ``DoubleTimeout`` (an
AssertionError) saying what it waited for. Locales are Discord's own list, which has
no Persian ("fa"): a real interaction never carries it. ``python -m tests.discord_double`` runs the
double on its own and prints its DISCORD_API_BASE.

Modules: ``state`` (records, waiting), ``payloads`` (Discord JSON), ``server`` (app,
middleware), ``channels``/``commands``/``interaction_routes`` (REST routes), ``gateway``
(websocket), ``messages``/``components`` (payload rules), ``faults``, ``httputil``,
``interactions`` (interaction payloads and handles), ``client`` (this API, with
``world_setup`` and ``playing`` for its world and its users).
"""

from .client import DEFAULT_TIMEOUT, DiscordDouble
from .faults import Fault
from .gateway import BotNotConnected
from .interactions import InteractionHandle
from .state import Channel, DoubleTimeout, Message, RequestRecord, Role, ShownModal, User

__all__ = [
    "DEFAULT_TIMEOUT",
    "BotNotConnected",
    "Channel",
    "DiscordDouble",
    "DoubleTimeout",
    "Fault",
    "InteractionHandle",
    "Message",
    "RequestRecord",
    "Role",
    "ShownModal",
    "User",
]
