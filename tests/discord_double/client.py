"""``DiscordDouble``: start the fake Discord, set up its world (world_setup.py), and play
users against a bot (playing.py)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Self

from aiohttp import web

from .faults import Fault, FaultBook
from .gateway import Gateway
from .playing import PlayingUsers
from .server import API_PREFIX, build_app
from .state import RequestRecord, User, World

DEFAULT_TIMEOUT = 5.0


class DiscordDouble(PlayingUsers):
    """A local Discord (REST + gateway) on 127.0.0.1 for one bot application.

    Create with ``await DiscordDouble.start(...)``; stop with ``await double.stop()``
    (or use ``async with``). Stop the bot first: a bot whose gateway goes away retries.
    """

    def __init__(self, world: World, gateway: Gateway, faults: FaultBook, timeout: float) -> None:
        self.world = world
        self.gateway = gateway
        self.faults = faults
        self.timeout = timeout
        self.port = 0
        self.guild_id = 0
        self._runner: web.AppRunner | None = None
        self._consumed: set[int] = set()  # message ids already returned by next_message

    # -- lifecycle --------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        *,
        app_id: int = 1_100_000_000_000_000_001,
        guild_id: int = 1_100_000_000_000_000_100,
        channels: Iterable[str | tuple[str, int]] = ("general",),
        guild_name: str = "Test Guild",
        guild_locale: str = "en-US",
        bot_id: int | None = None,
        bot_name: str = "TestBot",
        token: str = "test-token",
        shards: int = 1,
        port: int = 0,
        ack_deadline: float | None = 3.0,
        heartbeat_interval: float = 41.25,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> DiscordDouble:
        """Serve on 127.0.0.1:``port`` (0 = any free port) with one guild and its channels.

        ``shards`` is what GET /gateway/bot recommends; bots may identify with any count.
        ``ack_deadline`` is Discord's 3 s limit for the first response (None = no limit).
        """
        world = World(app_id=app_id, bot_id=bot_id or app_id, bot_name=bot_name, token=token)
        gateway = Gateway(world, heartbeat_interval_ms=int(heartbeat_interval * 1000))
        faults = FaultBook()
        double = cls(world, gateway, faults, timeout)
        double.guild_id = guild_id
        double.add_guild(guild_id, guild_name, channels=channels, locale=guild_locale)

        world.ack_deadline = ack_deadline
        app = build_app(world, gateway, faults, shard_count=shards)
        double._runner = web.AppRunner(app, handle_signals=False)
        await double._runner.setup()
        site = web.TCPSite(double._runner, "127.0.0.1", port)
        await site.start()
        double.port = double._runner.addresses[0][1]
        gateway.base_url = f"ws://127.0.0.1:{double.port}"
        return double

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """What DISCORD_API_BASE must be for a bot to use this double."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return self.gateway.base_url

    @property
    def ack_deadline(self) -> float | None:
        """Seconds the bot has to answer an interaction before 404 Unknown interaction."""
        return self.world.ack_deadline

    @ack_deadline.setter
    def ack_deadline(self, seconds: float | None) -> None:
        self.world.ack_deadline = seconds

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def app_id(self) -> int:
        return self.world.app_id

    @property
    def bot_user(self) -> User:
        return self.world.bot
    # -- bot connection ---------------------------------------------------------------------

    async def wait_ready(
        self, timeout: float | None = None, *, shard_ids: Iterable[int] | None = None
    ) -> None:
        """Until the bot has a live gateway session that got READY and its GUILD_CREATEs, for
        ``shard_ids`` or else for every shard of the count it identified with. (The bot's own
        on_ready comes later, after its guild_ready_timeout.)"""

        def check() -> bool | None:
            ready = self.gateway.ready_shards()
            wanted = set(shard_ids) if shard_ids is not None else self.gateway.expected_shards()
            return True if ready and ready >= wanted else None

        def describe() -> str:
            sessions = [
                f"shard {s.shard_id}/{s.shard_count} live={s.live} ready={s.ready}"
                for s in self.gateway.sessions.values()
            ]
            return f"the bot to connect and identify (sessions: {sessions or 'none'})"

        await self.world.wait_until(check, timeout or self.timeout, describe)

    async def wait_disconnected(self, timeout: float | None = None) -> None:
        """Until no gateway session is live (e.g. after killing the bot process)."""
        await self.world.wait_until(
            lambda: True if not self.gateway.ready_shards() else None,
            timeout or self.timeout,
            "the bot's gateway connections to close",
        )

    async def drop_connection(self, shard_id: int | None = None, code: int = 4000) -> int:
        """Close the bot's websocket(s) like a network failure; discord.py should RESUME."""
        return await self.gateway.drop(shard_id, code)
    # -- inspection and faults ---------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        """Recorded REST requests, filtered by method and a path glob (below /api/v10)."""
        return [
            r
            for r in self.world.requests
            if (method is None or r.method == method)
            and (path is None or fnmatch.fnmatchcase(r.path, path))
        ]

    async def wait_request(
        self, method: str, path: str, *, timeout: float | None = None
    ) -> RequestRecord:
        """The first answered request matching ``method`` and the ``path`` glob, waiting for it."""
        return await self.world.wait_until(
            lambda: next((r for r in self.requests(method, path) if r.status), None),
            timeout or self.timeout,
            f"the bot to call {method} {path}",
        )

    @property
    def unhandled_requests(self) -> list[RequestRecord]:
        """Requests to routes the double does not implement (answered 404/405)."""
        return list(self.world.unhandled)

    def commands(self, *, guild_id: int | None = None) -> list[dict]:
        """Synced command payloads (as the bot sent them) for a guild, or global if None."""
        return [c.payload for c in self.world.commands.values() if c.guild_id == guild_id]

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: float = 0.05,
        code: int = 0,
        message: str | None = None,
        is_global: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` (429s carry
        ``retry_after``). ``path`` is a glob below /api/v10, e.g. "/channels/*/messages"."""
        return self.faults.add(
            Fault(
                method=method,
                path=path,
                status=status,
                times=times,
                retry_after=retry_after,
                code=code,
                message=message,
                is_global=is_global,
            )
        )
