"""Setting up the double's world: guilds, channels, roles and users (``DiscordDouble``'s part)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .state import (
    DEFAULT_EVERYONE_PERMISSIONS,
    Channel,
    Guild,
    Member,
    Role,
    User,
    World,
    check_locale,
)

ChannelRef = Channel | int | str  # record, id, or guild channel name
UserRef = User | int


class WorldSetup:
    world: World
    guild_id: int

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
