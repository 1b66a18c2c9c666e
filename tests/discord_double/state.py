"""The fake Discord world: guilds, users, channels, messages, interactions, commands.

Plain records plus lookups. Everything runs on one event loop, so no locks; every
mutation calls ``World.notify()`` and waiters re-check their condition (see ``wait_until``).
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .components import find_component

DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Discord's channel types that the double models.
GUILD_TEXT = 0
DM = 1

T = TypeVar("T")

# The locales Discord clients send and accept in *_localizations (no Persian among them).
DISCORD_LOCALES = frozenset(
    {
        "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt",
        "hu", "nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el",
        "bg", "ru", "uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko",
    }
)  # fmt: skip


def check_locale(locale: str) -> str:
    if locale not in DISCORD_LOCALES:
        raise ValueError(
            f"Discord has no locale {locale!r}; it sends one of {sorted(DISCORD_LOCALES)}"
        )
    return locale


class DoubleTimeout(AssertionError):
    """A waiting helper gave up; the message says what it waited for and what it saw."""


class Snowflakes:
    """Real-looking snowflakes (timestamp in the top bits) so discord.py's age math works."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


@dataclass
class User:
    id: int
    name: str
    locale: str = "en-US"
    dms_open: bool = True
    bot: bool = False
    global_name: str | None = None


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 0


@dataclass
class Channel:
    id: int
    name: str
    type: int = GUILD_TEXT
    guild_id: int | None = None
    recipient_id: int | None = None  # DMs only
    position: int = 0


@dataclass
class Member:
    user_id: int
    role_ids: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_now)
    nick: str | None = None


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    locale: str = "en-US"
    roles: dict[int, Role] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)


@dataclass
class Message:
    """A message in the fake world, sent by the bot or by a simulated user."""

    id: int
    channel_id: int
    author_id: int
    content: str = ""
    components: list[dict] = field(default_factory=list)
    embeds: list[dict] = field(default_factory=list)
    attachments: list[dict] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    guild_id: int | None = None
    allowed_mentions: dict | None = None
    mention_everyone: bool = False
    mention_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    # "channel" (POST /channels/.../messages), "interaction" (callback or follow-up),
    # or "user" (a simulated user spoke).
    source: str = "channel"
    interaction_id: int | None = None
    webhook_id: int | None = None
    message_reference: dict | None = None
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    deleted: bool = False
    nonce: str | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    def component(self, custom_id: str | None = None, *, label: str | None = None) -> dict:
        """The component with this custom_id or label (searching nested rows/containers)."""
        found = find_component(self.components, custom_id=custom_id, label=label)
        if found is None:
            raise LookupError(
                f"message {self.id} has no component custom_id={custom_id!r} label={label!r}; "
                f"components: {self.components!r}"
            )
        return found

    def button(self, label: str | None = None, *, custom_id: str | None = None) -> dict:
        return self.component(custom_id, label=label)


@dataclass
class ShownModal:
    """A modal the bot opened (callback type 9) for one user."""

    interaction_id: int
    user_id: int
    custom_id: str
    title: str
    components: list[dict]


@dataclass
class Interaction:
    id: int
    token: str
    type: int  # 2 command, 3 component, 5 modal submit
    user_id: int
    channel_id: int
    guild_id: int | None
    payload: dict  # exactly what was dispatched in INTERACTION_CREATE
    dispatched_at: float
    message_id: int | None = None  # the message a component / modal came from
    callback_type: int | None = None
    callback: dict | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: ShownModal | None = None
    # ("callback", type) / ("edit_original", mid) / ("followup", mid) / ("delete_original", mid)
    events: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Command:
    id: int
    guild_id: int | None
    payload: dict  # the command as discord.py sent it, plus id/application_id/version


@dataclass
class RequestRecord:
    method: str
    path: str  # relative to /api/v10, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    status: int = 0
    fault: bool = False  # answered by an injected fault


class World:
    """All fake Discord state plus the change notification used by waiters."""

    def __init__(self, *, app_id: int, bot_id: int, bot_name: str, token: str) -> None:
        self.ids = Snowflakes()
        self.app_id = app_id
        self.token = token
        self.bot = User(id=bot_id, name=bot_name, bot=True)
        self.users: dict[int, User] = {bot_id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        self.interactions_by_token: dict[str, Interaction] = {}
        self.commands: dict[int, Command] = {}
        self.requests: list[RequestRecord] = []
        self.uploads: dict[str, bytes] = {}  # attachment id → the file's bytes, as uploaded
        self.unhandled: list[RequestRecord] = []
        # Seconds a bot has for the first interaction response (Discord: 3); None = no limit.
        self.ack_deadline: float | None = 3.0
        self._changed = asyncio.Event()

    # -- change notification -------------------------------------------------

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self, check: Callable[[], T | None], timeout: float, what: str | Callable[[], str]
    ) -> T:
        """Return check()'s first non-None result, or raise DoubleTimeout after timeout s.
        ``what`` may be a callable so the error describes the state at the time of failure."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                described = what() if callable(what) else what
                raise DoubleTimeout(f"timed out after {timeout:.1f}s waiting for {described}")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    # -- lookups ---------------------------------------------------------------

    def user(self, user: User | int) -> User:
        user_id = user.id if isinstance(user, User) else int(user)
        try:
            return self.users[user_id]
        except KeyError:
            raise LookupError(f"unknown user {user_id}; add it with add_user()") from None

    def channel(self, channel: Channel | int | str) -> Channel:
        if isinstance(channel, Channel):
            return channel
        if isinstance(channel, str):
            for candidate in self.channels.values():
                if candidate.name == channel and candidate.type == GUILD_TEXT:
                    return candidate
            raise LookupError(f"no guild channel named {channel!r}")
        try:
            return self.channels[int(channel)]
        except KeyError:
            raise LookupError(f"unknown channel {channel}") from None

    def message(self, message: Message | int) -> Message:
        message_id = message.id if isinstance(message, Message) else int(message)
        try:
            return self.messages[message_id]
        except KeyError:
            raise LookupError(f"unknown message {message_id}") from None

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    def dm_channel(self, user: User | int) -> Channel:
        """The bot's DM channel with this user, created on first use (as Discord does)."""
        user = self.user(user)
        for channel in self.channels.values():
            if channel.type == DM and channel.recipient_id == user.id:
                return channel
        channel = Channel(id=self.ids.next(), name="", type=DM, recipient_id=user.id)
        self.channels[channel.id] = channel
        return channel

    def find_role(self, guild: Guild, role: Role | int | str) -> Role:
        """A guild role by record, id or name."""
        if isinstance(role, Role):
            return role
        if (isinstance(role, int) or role.isdigit()) and int(role) in guild.roles:
            return guild.roles[int(role)]
        for candidate in guild.roles.values():
            if candidate.name == role:
                return candidate
        raise LookupError(f"guild {guild.id} has no role {role!r}")

    def ensure_role(self, guild: Guild, name: str) -> Role:
        """The role with this name, created (without permissions) if missing."""
        for role in guild.roles.values():
            if role.name == name:
                return role
        role = Role(id=self.ids.next(), name=name, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def member_permissions(self, guild: Guild, user_id: int) -> int:
        if user_id == guild.owner_id or user_id == self.bot.id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        perms = guild.roles[guild.id].permissions  # @everyone role has the guild's id
        for role_id in member.role_ids if member else []:
            perms |= guild.roles[role_id].permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def store(self, message: Message) -> Message:
        self.messages[message.id] = message
        self.notify()
        return message

    def commands_named(self, name: str, guild_id: int | None) -> Command | None:
        """A synced command: the guild's own first, then global ones (Discord's precedence)."""
        scopes = (guild_id, None) if guild_id is not None else (None,)
        for scope in scopes:
            for command in self.commands.values():
                if command.guild_id == scope and command.payload["name"] == name:
                    return command
        return None


ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1
# What Discord gives @everyone in a new guild (view, send, read history, use commands, ...).
DEFAULT_EVERYONE_PERMISSIONS = 2248473465835073
