"""Playing users against the bot: commands, clicks, selects, modals, messages (``DiscordDouble``'s part).

Each action is an INTERACTION_CREATE or MESSAGE_CREATE on the gateway; what the bot
answers is read from the returned ``InteractionHandle`` or with ``next_message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import messages
from .gateway import Gateway
from .interactions import (
    InteractionHandle,
    check_command_usable,
    command_data,
    component_data,
    modal_data,
    new_interaction,
)
from .state import DM, Channel, Message, ShownModal, User
from .world_setup import ChannelRef, UserRef, WorldSetup


class PlayingUsers(WorldSetup):
    gateway: Gateway
    timeout: float
    _consumed: set[int]  # message ids already returned by next_message

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
