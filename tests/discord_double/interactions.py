"""INTERACTION_CREATE payloads as a Discord client would cause them, and the handle a test
uses to wait for the bot's answer.

Inputs are checked the way the Discord client checks them before sending (required
options, choices, lengths, disabled buttons, someone else's ephemeral message), so a
test cannot make the bot see an interaction a real user could not produce.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from . import payloads
from .components import SELECT_TYPES, STRING_SELECT, modal_submission
from .state import (
    Channel,
    Command,
    Guild,
    Interaction,
    Message,
    Role,
    ShownModal,
    User,
    World,
    check_locale,
)

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10


def new_interaction(
    world: World,
    *,
    kind: int,
    user: User,
    channel: Channel,
    data: dict,
    locale: str | None = None,
    message: Message | None = None,
) -> Interaction:
    """Build, store and return an interaction record (not yet dispatched)."""
    guild = world.guild_of(channel)
    inter_id, token = world.ids.next(), secrets.token_urlsafe(48)
    payload: dict[str, Any] = {
        "id": str(inter_id),
        "application_id": str(world.app_id),
        "type": kind,
        "token": token,
        "version": 1,
        "data": data,
        "channel_id": str(channel.id),
        "channel": payloads.channel(world, channel),
        "locale": check_locale(locale) if locale else user.locale,
        "app_permissions": str(world.member_permissions(guild, world.bot.id) if guild else 0),
        "entitlements": [],
        "attachment_size_limit": payloads.ATTACHMENT_SIZE_LIMIT,
        # Guild install: the guild's id, or "0" when used in the bot's DM.
        "authorizing_integration_owners": {"0": str(guild.id) if guild else "0"},
        "context": 0 if guild else 1,
    }
    if guild is not None:
        if user.id not in guild.members:
            raise LookupError(f"user {user.id} is not a member of guild {guild.id}")
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": guild.locale, "features": []},
            guild_locale=guild.locale,
            member=payloads.interaction_member(world, guild, user.id),
        )
    else:
        payload["user"] = payloads.user(user)
    if message is not None:
        payload["message"] = payloads.message(world, message)
    record = Interaction(
        id=inter_id,
        token=token,
        type=kind,
        user_id=user.id,
        channel_id=channel.id,
        guild_id=guild.id if guild else None,
        payload=payload,
        dispatched_at=asyncio.get_running_loop().time(),
        message_id=message.id if message else None,
    )
    world.interactions[inter_id] = record
    world.interactions_by_token[token] = record
    return record


# -- slash commands ------------------------------------------------------------------


def check_command_usable(world: World, command: Command, user: User, channel: Channel) -> None:
    """Discord's client only offers a command where its contexts and permissions allow."""
    payload, guild = command.payload, world.guild_of(channel)
    contexts = payload.get("contexts")
    if guild is None and (
        payload.get("dm_permission") is False or (contexts and 1 not in contexts)
    ):
        raise PermissionError(f"/{payload['name']} is not available in DMs")
    if guild is not None and contexts and 0 not in contexts:
        raise PermissionError(f"/{payload['name']} is not available in guilds")
    required = payload.get("default_member_permissions")
    if guild is not None and required is not None:
        needed = int(required)
        if world.member_permissions(guild, user.id) & needed != needed:
            raise PermissionError(
                f"user {user.id} lacks permissions {needed} for /{payload['name']}"
            )


def command_data(
    world: World, command: Command, path: list[str], options: dict, guild: Guild | None
) -> dict:
    """``data`` of an APPLICATION_COMMAND interaction for ``/name sub... option=value``."""
    resolved: dict[str, dict] = {}
    data: dict[str, Any] = {
        "id": str(command.id),
        "name": command.payload["name"],
        "type": command.payload.get("type", 1),
    }
    if command.guild_id is not None:
        data["guild_id"] = str(command.guild_id)
    built = _options(world, command.payload.get("options") or [], path, options, guild, resolved)
    if built:
        data["options"] = built
    if resolved:
        data["resolved"] = resolved
    return data


def _options(world, spec: list[dict], path: list[str], given: dict, guild, resolved) -> list[dict]:
    if path:
        name = path[0]
        sub = next(
            (
                o
                for o in spec
                if o["name"] == name and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)
            ),
            None,
        )
        if sub is None:
            raise ValueError(f"no subcommand {name!r}; have {[o['name'] for o in spec]}")
        inner = _options(world, sub.get("options") or [], path[1:], given, guild, resolved)
        return [{"name": name, "type": sub["type"], "options": inner}]
    subs = [o["name"] for o in spec if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if subs:
        raise ValueError(f"this command needs a subcommand, one of {subs}")
    by_name = {o["name"]: o for o in spec}
    unknown = set(given) - set(by_name)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; have {sorted(by_name)}")
    missing = [o["name"] for o in spec if o.get("required") and o["name"] not in given]
    if missing:
        raise ValueError(f"missing required options {missing}")
    return [
        {
            "name": name,
            "type": by_name[name]["type"],
            "value": _value(world, by_name[name], value, guild, resolved),
        }
        for name, value in given.items()
    ]


def _value(world: World, spec: dict, value: Any, guild: Guild | None, resolved: dict) -> Any:
    kind, name = spec["type"], spec["name"]
    if kind == STRING:
        value = str(value)
        if not spec.get("min_length", 0) <= len(value) <= spec.get("max_length", 6000):
            raise ValueError(f"option {name!r}: length {len(value)} outside limits")
    elif kind in (INTEGER, NUMBER):
        value = int(value) if kind == INTEGER else float(value)
        if (
            "min_value" in spec
            and value < spec["min_value"]
            or "max_value" in spec
            and value > spec["max_value"]
        ):
            raise ValueError(f"option {name!r}: {value} outside limits")
    elif kind == BOOLEAN:
        value = bool(value)
    elif kind in (USER, ROLE, CHANNEL, MENTIONABLE):
        return _resolve(world, kind, value, guild, resolved)
    else:
        raise ValueError(f"option {name!r}: type {kind} is not supported by the double")
    choices = spec.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise ValueError(f"option {name!r}: {value!r} is not one of the choices {choices}")
    return value


def _resolve(world: World, kind: int, value: Any, guild: Guild | None, resolved: dict) -> str:
    """Id for a user/role/channel option, adding the object to ``resolved`` like Discord."""
    if kind == CHANNEL:
        channel = world.channel(value)
        resolved.setdefault("channels", {})[str(channel.id)] = payloads.resolved_channel(
            world, channel
        )
        return str(channel.id)
    is_role = kind == ROLE or isinstance(value, Role)
    if kind == MENTIONABLE and guild is not None and not isinstance(value, User):
        is_role = is_role or (str(value).isdigit() and int(value) in guild.roles)
    if is_role:
        if guild is None:
            raise ValueError("role options only exist in guilds")
        role = world.find_role(guild, value)
        resolved.setdefault("roles", {})[str(role.id)] = payloads.role(role)
        return str(role.id)
    user = world.user(value)
    resolved.setdefault("users", {})[str(user.id)] = payloads.user(user)
    if guild is not None and user.id in guild.members:
        member = payloads.interaction_member(world, guild, user.id)
        member.pop("user")
        resolved.setdefault("members", {})[str(user.id)] = member
    return str(user.id)


# -- components and modals ------------------------------------------------------------


def component_data(
    world: World, message: Message, component: dict, values: list | None, guild
) -> dict:
    kind = component["type"]
    data: dict[str, Any] = {"custom_id": component["custom_id"], "component_type": kind}
    if kind in SELECT_TYPES:
        if values is None:
            raise ValueError(f"select {component['custom_id']!r} needs values")
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise ValueError(
                f"select {component['custom_id']!r}: pick {low}-{high} values, got {len(values)}"
            )
        if kind == STRING_SELECT:
            allowed = [o["value"] for o in component.get("options", [])]
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ValueError(f"select {component['custom_id']!r}: {bad} not among {allowed}")
            data["values"] = list(values)
        else:
            resolved: dict[str, dict] = {}
            option_kind = {5: USER, 6: ROLE, 7: MENTIONABLE, 8: CHANNEL}[kind]
            data["values"] = [_resolve(world, option_kind, v, guild, resolved) for v in values]
            data["resolved"] = resolved
    elif values is not None:
        raise ValueError(f"component {component['custom_id']!r} is not a select")
    return data


def modal_data(modal: ShownModal, values: dict[str, Any]) -> dict:
    return {"custom_id": modal.custom_id, "components": modal_submission(modal.components, values)}


# -- what the test holds ------------------------------------------------------------------


class InteractionHandle:
    """One interaction a simulated user caused; await the bot's answer through it."""

    def __init__(self, world: World, record: Interaction, default_timeout: float) -> None:
        self.world = world
        self.record = record
        self._timeout = default_timeout

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def callback_type(self) -> int | None:
        return self.record.callback_type

    def _describe(self) -> str:
        r = self.record
        return f"interaction {r.id} (type {r.type}); bot activity so far: {r.events or 'none'}"

    async def acknowledged(self, timeout: float | None = None) -> int:
        """Wait for the callback; returns its type (4, 5, 6, 7, 9...)."""
        return await self.world.wait_until(
            lambda: self.record.callback_type,
            timeout or self._timeout,
            f"a callback to {self._describe()}",
        )

    async def response(self, timeout: float | None = None) -> Message | ShownModal:
        """The message the user sees (or the modal they got). Deferred callbacks (5, 6) are
        followed to the first edit of the original message or follow-up."""

        def check() -> Message | ShownModal | None:
            for kind, value in self.record.events:
                if kind == "callback" and value in (4, 7):
                    return self.world.messages[self.record.original_message_id]
                if kind == "callback" and value == 9:
                    return self.record.modal
                if kind in ("edit_original", "followup"):
                    return self.world.messages[value]
            return None

        return await self.world.wait_until(
            check, timeout or self._timeout, lambda: f"a response to {self._describe()}"
        )

    async def followup(self, index: int = 0, timeout: float | None = None) -> Message:
        """The index-th follow-up message (0 = first)."""
        return await self.world.wait_until(
            lambda: (
                self.world.messages[self.record.followup_ids[index]]
                if len(self.record.followup_ids) > index
                else None
            ),
            timeout or self._timeout,
            lambda: f"follow-up #{index} to {self._describe()}",
        )
