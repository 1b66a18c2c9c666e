"""``DiscordDouble``: start the fake Discord, set up its world, and play users against a bot."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any, Self

from aiohttp import web

from . import messages
from .faults import Fault, FaultBook
from .gateway import Gateway
from .interactions import (
    InteractionHandle,
    check_command_usable,
    command_data,
    component_data,
    modal_data,
    new_interaction,
)
from .server import API_PREFIX, build_app
from .state import (
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    Channel,
    Guild,
    Member,
    Message,
    RequestRecord,
    Role,
    ShownModal,
    User,
    World,
    check_locale,
)

DEFAULT_TIMEOUT = 5.0
ChannelRef = Channel | int | str  # record, id, or guild channel name
UserRef = User | int


class DiscordDouble:
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

    # -- the world ------------------------------------------------------------------------

    def add_guild(
        self,
        guild_id: int,
        name: str = "Guild",
        *,
        channels: Iterable[str | tuple[str, int]] = ("general",),
        locale: str = "en-US",
    ) -> Guild:
        """A guild the bot is in (sent in GUILD_CREATE to whichever shard owns it)."""
        world = self.world
        guild = Guild(
            id=guild_id, name=name, owner_id=world.ids.next(), locale=check_locale(locale)
        )
        # The @everyone role shares the guild's id.
        guild.roles[guild_id] = Role(
            id=guild_id, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS
        )
        guild.members[world.bot.id] = Member(user_id=world.bot.id)
        world.guilds[guild_id] = guild
        for channel in channels:
            channel_name, channel_id = channel if isinstance(channel, tuple) else (channel, None)
            self.add_channel(channel_name, guild_id=guild_id, channel_id=channel_id)
        return guild

    def add_channel(
        self, name: str, *, guild_id: int | None = None, channel_id: int | None = None
    ) -> Channel:
        guild = self.world.guilds[guild_id or self.guild_id]
        channel = Channel(
            id=channel_id or self.world.ids.next(),
            name=name,
            guild_id=guild.id,
            position=len(guild.channel_ids),
        )
        self.world.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_role(self, name: str, *, permissions: int = 0, guild_id: int | None = None) -> Role:
        role = self.world.ensure_role(self.world.guilds[guild_id or self.guild_id], name)
        role.permissions = permissions
        return role

    def add_user(
        self,
        user_id: int,
        name: str,
        roles: Sequence[str | int] = (),
        locale: str = "en-US",
        dms_open: bool = True,
        *,
        guild_id: int | None = None,
    ) -> User:
        """A person who is a member of the guild; ``roles`` by name (created if new) or id.

        Users added before the bot connects are in GUILD_CREATE (with the members intent).
        Later additions are not announced over the gateway; interaction payloads and
        REST member lookups still carry them.
        """
        user = self.world.users.get(user_id) or User(id=user_id, name=name)
        user.name, user.locale, user.dms_open = name, check_locale(locale), dms_open
        self.world.users[user_id] = user
        guild = self.world.guilds[guild_id or self.guild_id]
        role_ids = [
            self.world.find_role(guild, r).id
            if isinstance(r, int)
            else self.world.ensure_role(guild, r).id
            for r in roles
        ]
        guild.members[user_id] = Member(user_id=user_id, role_ids=role_ids)
        self.world.notify()
        return user

    def set_dms_open(self, user: UserRef, dms_open: bool) -> None:
        """Closed DMs make POST /channels/{dm}/messages answer 403, code 50007."""
        self.world.user(user).dms_open = dms_open

    def channel(self, channel: ChannelRef) -> Channel:
        return self.world.channel(channel)

    def dm_channel(self, user: UserRef) -> Channel:
        return self.world.dm_channel(user)

    def role(self, name_or_id: str | int, *, guild_id: int | None = None) -> Role:
        return self.world.find_role(self.world.guilds[guild_id or self.guild_id], name_or_id)

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

    # -- playing users -------------------------------------------------------------------------

    def _default_channel(self) -> Channel:
        return self.world.channels[self.world.guilds[self.guild_id].channel_ids[0]]

    async def _dispatch(self, record) -> InteractionHandle:
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload, guild_id=record.guild_id)
        return InteractionHandle(self.world, record, self.timeout)

    async def slash(
        self,
        user: UserRef,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        channel: ChannelRef | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> InteractionHandle:
        """Run ``/name`` (``"group sub"`` for subcommands) as ``user``. Waits for the bot
        to have synced the command; option values are checked against its definition."""
        target = self.channel(channel) if channel is not None else self._default_channel()
        root, *path = name.split()
        command = await self.world.wait_until(
            lambda: self.world.commands_named(root, target.guild_id),
            timeout or self.timeout,
            lambda: (
                f"command {root!r} to be synced (synced: "
                f"{sorted(c.payload['name'] for c in self.world.commands.values())})"
            ),
        )
        user = self.world.user(user)
        check_command_usable(self.world, command, user, target)
        data = command_data(self.world, command, path, options or {}, self.world.guild_of(target))
        record = new_interaction(
            self.world, kind=2, user=user, channel=target, data=data, locale=locale
        )
        return await self._dispatch(record)

    def _clickable(self, user: User, message: Message | int) -> Message:
        message = self.world.message(message)
        if message.deleted:
            raise LookupError(f"message {message.id} was deleted")
        if message.ephemeral:
            owner = self.world.interactions.get(message.interaction_id or 0)
            if owner is None or owner.user_id != user.id:
                raise PermissionError(
                    f"message {message.id} is ephemeral and not shown to user {user.id}"
                )
        return message

    async def _component(
        self,
        user: UserRef,
        message: Message | int,
        custom_id: str | None,
        label: str | None,
        values: list | None,
        locale: str | None,
    ) -> InteractionHandle:
        user = self.world.user(user)
        message = self._clickable(user, message)
        component = message.component(custom_id, label=label)
        if component.get("disabled"):
            raise ValueError(f"component {component.get('custom_id')!r} is disabled")
        if "custom_id" not in component:
            raise ValueError(f"component {component!r} has no custom_id (a link button?)")
        channel = self.world.channels[message.channel_id]
        data = component_data(self.world, message, component, values, self.world.guild_of(channel))
        record = new_interaction(
            self.world,
            kind=3,
            user=user,
            channel=channel,
            data=data,
            locale=locale,
            message=message,
        )
        return await self._dispatch(record)

    async def click(
        self,
        user: UserRef,
        message: Message | int,
        custom_id: str | None = None,
        *,
        label: str | None = None,
        locale: str | None = None,
    ) -> InteractionHandle:
        """Press a button (found by custom_id or label) on a message the bot sent."""
        return await self._component(user, message, custom_id, label, None, locale)

    async def select(
        self,
        user: UserRef,
        message: Message | int,
        custom_id: str,
        values: Sequence[Any],
        *,
        locale: str | None = None,
    ) -> InteractionHandle:
        """Choose ``values`` in a select menu (option values; users/roles/channels for
        the auto-populated select types)."""
        return await self._component(user, message, custom_id, None, list(values), locale)

    async def submit_modal(
        self,
        user: UserRef,
        modal_custom_id: str,
        values: dict[str, Any],
        *,
        locale: str | None = None,
    ) -> InteractionHandle:
        """Fill in and submit the latest modal with this custom_id that the bot showed the user."""
        user = self.world.user(user)
        shown = [
            i.modal
            for i in self.world.interactions.values()
            if i.modal is not None
            and i.modal.user_id == user.id
            and i.modal.custom_id == modal_custom_id
        ]
        if not shown:
            raise LookupError(f"the bot never showed modal {modal_custom_id!r} to user {user.id}")
        modal: ShownModal = shown[-1]
        opener = self.world.interactions[modal.interaction_id]
        source_message = self.world.messages.get(opener.message_id or 0)
        record = new_interaction(
            self.world,
            kind=5,
            user=user,
            channel=self.world.channels[opener.channel_id],
            data=modal_data(modal, values),
            locale=locale,
            message=source_message,
        )
        return await self._dispatch(record)

    async def say(
        self, user: UserRef, channel: ChannelRef, content: str, *, mentions_bot: bool = False
    ) -> Message:
        """The user posts ``content`` in a channel (a DM channel too): MESSAGE_CREATE."""
        user = self.world.user(user)
        target = self.channel(channel)
        if target.type != DM and user.id not in self.world.guilds[target.guild_id].members:
            raise LookupError(f"user {user.id} is not in the guild of channel {target.id}")
        if mentions_bot:
            content = f"<@{self.world.bot.id}> {content}"
        message = Message(
            id=self.world.ids.next(),
            channel_id=target.id,
            guild_id=target.guild_id,
            author_id=user.id,
            content=content,
            source="user",
        )
        messages.resolve_mentions(self.world, message)
        self.world.store(message)
        await self.gateway.dispatch_message("MESSAGE_CREATE", message, required=True)
        return message

    async def next_message(
        self,
        channel: ChannelRef | None = None,
        *,
        dm_of: UserRef | None = None,
        timeout: float | None = None,
    ) -> Message:
        """The oldest not-yet-returned message the bot posted itself (POST /channels/.../messages)
        in ``channel`` or in its DM with ``dm_of``. Interaction replies come from their handle."""
        if (channel is None) == (dm_of is None):
            raise ValueError("give exactly one of channel or dm_of")
        target = self.world.dm_channel(dm_of) if dm_of is not None else self.channel(channel)

        def check() -> Message | None:
            for message in self.world.messages.values():
                if (
                    message.channel_id == target.id
                    and message.source == "channel"
                    and message.author_id == self.world.bot.id
                    and message.id not in self._consumed
                ):
                    self._consumed.add(message.id)
                    return message
            return None

        return await self.world.wait_until(
            check, timeout or self.timeout, f"a bot message in channel {target.id}"
        )

    def messages_in(self, channel: ChannelRef) -> list[Message]:
        """Every message (bot, user, interaction replies) in a channel, oldest first."""
        target = self.channel(channel)
        return [m for m in self.world.messages.values() if m.channel_id == target.id]

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
