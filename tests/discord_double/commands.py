"""Application command routes (global and per guild) with Discord's name/size checks.

Ids stay stable for a command that keeps its name and type across syncs, as on Discord,
so a test can sync twice (or restart the bot) and still invoke the same command id.
"""

from __future__ import annotations

import unicodedata

from aiohttp import web

from .httputil import BODY, invalid_form, json_response, unknown
from .state import DISCORD_LOCALES, Command, World

CHAT_INPUT = 1


def _valid_name_char(char: str) -> bool:
    # Discord: ^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$ (so no spaces and no ZWNJ).
    if char in "-_'" or unicodedata.category(char)[0] in "LN":
        return True
    return "\u0900" <= char <= "\u097f" or "\u0e00" <= char <= "\u0e7f"


def _name_errors(where: str, name: str, *, chat_input: bool) -> list[str]:
    errors = []
    if not 1 <= len(name) <= 32:
        errors.append(f"{where} {name!r}: length must be 1-32")
    if chat_input:
        if not all(_valid_name_char(c) for c in name):
            errors.append(f"{where} {name!r}: invalid characters")
        if name != name.lower():
            errors.append(f"{where} {name!r}: must be lowercase")
    return errors


def _named_errors(
    where: str, item: dict, *, chat_input: bool, needs_description: bool
) -> list[str]:
    errors = _name_errors(where, item.get("name", ""), chat_input=chat_input)
    for key in ("name_localizations", "description_localizations"):
        unknown_locales = set(item.get(key) or {}) - DISCORD_LOCALES
        if unknown_locales:
            errors.append(
                f"{where} {item.get('name')!r}: {key} has invalid locales {sorted(unknown_locales)}"
            )
    for locale, localized in (item.get("name_localizations") or {}).items():
        errors += _name_errors(f"{where} [{locale}]", localized, chat_input=chat_input)
    descriptions = [item.get("description", "")] + list(
        (item.get("description_localizations") or {}).values()
    )
    for description in descriptions:
        if needs_description and not 1 <= len(description) <= 100:
            errors.append(f"{where} {item.get('name')!r}: description length must be 1-100")
    return errors


def _option_errors(options: list[dict], where: str) -> list[str]:
    errors = []
    if len(options) > 25:
        errors.append(f"{where}: more than 25 options")
    for option in options:
        path = f"{where}.{option.get('name')}"
        errors += _named_errors("option", option, chat_input=True, needs_description=True)
        choices = option.get("choices") or []
        if len(choices) > 25:
            errors.append(f"{path}: more than 25 choices")
        for choice in choices:
            for label in [choice.get("name", "")] + list(
                (choice.get("name_localizations") or {}).values()
            ):
                if not 1 <= len(label) <= 100:
                    errors.append(f"{path} choice {label!r}: length must be 1-100")
        errors += _option_errors(option.get("options") or [], path)
    return errors


def command_errors(payload: dict) -> list[str]:
    chat_input = payload.get("type", CHAT_INPUT) == CHAT_INPUT
    errors = _named_errors("command", payload, chat_input=chat_input, needs_description=chat_input)
    return errors + _option_errors(payload.get("options") or [], payload.get("name", "?"))


class CommandRoutes:
    def __init__(self, world: World) -> None:
        self.world = world

    def add_to(self, app: web.Application, prefix: str) -> None:
        for scope in (
            "/applications/{app}/commands",
            "/applications/{app}/guilds/{guild}/commands",
        ):
            app.router.add_get(prefix + scope, self.list)
            app.router.add_put(prefix + scope, self.bulk_overwrite)
            app.router.add_post(prefix + scope, self.upsert)
            app.router.add_get(prefix + scope + "/{command}", self.get_one)
            app.router.add_patch(prefix + scope + "/{command}", self.edit_one)
            app.router.add_delete(prefix + scope + "/{command}", self.delete_one)

    # -- helpers -------------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None | web.Response:
        if int(request.match_info["app"]) != self.world.app_id:
            return unknown("Application", 10002)
        guild = request.match_info.get("guild")
        if guild is not None and int(guild) not in self.world.guilds:
            return unknown("Guild", 10004)
        return int(guild) if guild is not None else None

    def _in_scope(self, guild_id: int | None) -> list[Command]:
        return [c for c in self.world.commands.values() if c.guild_id == guild_id]

    def _full(self, command: Command) -> dict:
        data = {
            "type": CHAT_INPUT,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "name_localizations": None,
            "description_localizations": None,
            **command.payload,
            "id": str(command.id),
            "application_id": str(self.world.app_id),
            "version": str(command.id),
        }
        if command.guild_id is not None:
            data["guild_id"] = str(command.guild_id)
        return data

    def _store(self, guild_id: int | None, payload: dict) -> tuple[Command, bool]:
        """Create or replace the command with this name and type; (command, created)."""
        kind = payload.get("type", CHAT_INPUT)
        for command in self._in_scope(guild_id):
            if (
                command.payload["name"] == payload["name"]
                and command.payload.get("type", CHAT_INPUT) == kind
            ):
                command.payload = payload
                return command, False
        command = Command(id=self.world.ids.next(), guild_id=guild_id, payload=payload)
        self.world.commands[command.id] = command
        return command, True

    def _find(self, request: web.Request, guild_id: int | None) -> Command | None:
        command = self.world.commands.get(int(request.match_info["command"]))
        return command if command is not None and command.guild_id == guild_id else None

    # -- handlers ------------------------------------------------------------------

    async def list(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        return json_response([self._full(c) for c in self._in_scope(scope)])

    async def bulk_overwrite(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        payloads = request[BODY] or []
        errors = [e for p in payloads for e in command_errors(p)]
        if len(payloads) > 100:
            errors.append("more than 100 commands")
        if errors:
            return invalid_form(errors)
        stored = [self._store(scope, p)[0] for p in payloads]
        kept = {c.id for c in stored}
        for command in self._in_scope(scope):
            if command.id not in kept:
                del self.world.commands[command.id]
        self.world.notify()
        return json_response([self._full(c) for c in stored])

    async def upsert(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        errors = command_errors(request[BODY])
        if errors:
            return invalid_form(errors)
        command, created = self._store(scope, request[BODY])
        self.world.notify()
        return json_response(self._full(command), status=201 if created else 200)

    async def get_one(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        command = self._find(request, scope)
        if command is None:
            return unknown("application command", 10063)
        return json_response(self._full(command))

    async def edit_one(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        command = self._find(request, scope)
        if command is None:
            return unknown("application command", 10063)
        updated = {**command.payload, **request[BODY]}
        errors = command_errors(updated)
        if errors:
            return invalid_form(errors)
        command.payload = updated
        self.world.notify()
        return json_response(self._full(command))

    async def delete_one(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        command = self._find(request, scope)
        if command is None:
            return unknown("application command", 10063)
        del self.world.commands[command.id]
        self.world.notify()
        return web.Response(status=204)
