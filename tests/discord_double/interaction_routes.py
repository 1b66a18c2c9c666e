"""Interaction callbacks and the interaction webhook (follow-ups, @original edits).

Discord's rules that matter to a bot are enforced: one callback per interaction, within
``ack_deadline`` seconds (3 s on Discord) of the interaction being sent; follow-ups only
after the callback; for a component's deferred update (6) or update (7) the "original"
message is the message holding the component; the first follow-up after a deferred
reply (5) fills in the loading message instead of posting a new one.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import messages, payloads
from .components import modal_errors
from .gateway import Gateway
from .httputil import BODY, FILES, discord_error, invalid_form, json_response, unknown
from .state import EPHEMERAL, LOADING, Interaction, Message, ShownModal, World

APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
TRUE_VALUES = ("true", "True", "1")


class InteractionRoutes:
    def __init__(self, world: World, gateway: Gateway) -> None:
        self.world = world
        self.gateway = gateway

    def add_to(self, app: web.Application, prefix: str) -> None:
        r = app.router
        r.add_post(prefix + "/interactions/{interaction}/{token}/callback", self.callback)
        r.add_post(prefix + "/webhooks/{app}/{token}", self.followup)
        for method in ("GET", "PATCH", "DELETE"):
            r.add_route(
                method, prefix + "/webhooks/{app}/{token}/messages/{message}", self.webhook_message
            )

    # -- the initial response ----------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        inter = self.world.interactions_by_token.get(request.match_info["token"])
        if inter is None or str(inter.id) != request.match_info["interaction"]:
            return unknown("interaction", 10062)
        if inter.callback_type is not None:
            return discord_error(400, 40060, "Interaction has already been acknowledged.")
        waited = asyncio.get_running_loop().time() - inter.dispatched_at
        deadline = self.world.ack_deadline
        if deadline is not None and waited > deadline:
            return unknown("interaction", 10062)  # what Discord answers after the 3 s window

        body = request[BODY] or {}
        kind = body.get("type")
        data = body.get("data") or {}
        problem = self._invalid_type(inter, kind)
        if problem:
            return invalid_form([problem])

        files = request[FILES]
        if kind in (4, 7):
            code, problems = messages.payload_errors(data, files, creating=kind == 4)
            if problems:
                return invalid_form(problems, code)
        if kind == 9 and (problems := modal_errors(data)):
            return invalid_form(problems)

        # Record the acknowledgement before any await, so a racing second callback sees it.
        announce: tuple[str, Message] | None = None
        if kind == 4:
            message = self._new_message(inter, data, files)
            inter.original_message_id = message.id
            announce = ("MESSAGE_CREATE", message)
        elif kind == 5:
            message = self._new_message(inter, {}, [])
            message.flags |= LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            inter.original_message_id = message.id
            announce = ("MESSAGE_CREATE", message)
        elif kind in (6, 7):
            inter.original_message_id = inter.message_id  # the message holding the component
            if kind == 7:
                target = self.world.messages[inter.message_id]
                messages.edit(self.world, target, data, files)
                announce = ("MESSAGE_UPDATE", target)
        elif kind == 9:
            inter.modal = ShownModal(
                interaction_id=inter.id,
                user_id=inter.user_id,
                custom_id=data["custom_id"],
                title=data["title"],
                components=data["components"],
            )
        inter.callback_type = kind
        inter.callback = body
        inter.events.append(("callback", kind))
        self.world.notify()
        if announce is not None:
            await self.gateway.dispatch_message(*announce)

        if request.query.get("with_response") in TRUE_VALUES:
            return json_response(payloads.callback_response(self.world, inter, kind))
        return web.Response(status=204)

    @staticmethod
    def _invalid_type(inter: Interaction, kind: int | None) -> str | None:
        allowed = {
            APPLICATION_COMMAND: {4, 5, 9},
            COMPONENT: {4, 5, 6, 7, 9},
            AUTOCOMPLETE: {8},
            MODAL_SUBMIT: {4, 5, 6, 7} if inter.message_id else {4, 5},
        }[inter.type]
        if kind not in allowed:
            return f"callback type {kind} is not valid for interaction type {inter.type}"
        return None

    def _new_message(self, inter: Interaction, data: dict, files: list[dict]) -> Message:
        message = messages.create(
            self.world,
            data,
            files,
            channel_id=inter.channel_id,
            guild_id=inter.guild_id,
            source="interaction",
            interaction_id=inter.id,
            webhook_id=self.world.app_id,
            type=20 if inter.type == APPLICATION_COMMAND else 0,  # CHAT_INPUT_COMMAND / DEFAULT
        )
        return self.world.store(message)

    # -- the interaction webhook ---------------------------------------------------

    def _interaction(self, request: web.Request) -> Interaction | web.Response:
        inter = self.world.interactions_by_token.get(request.match_info["token"])
        if str(self.world.app_id) != request.match_info["app"] or inter is None:
            return unknown("Webhook", 10015)
        if inter.callback_type is None:
            return unknown("Webhook", 10015)  # Discord has no webhook until the callback
        return inter

    async def followup(self, request: web.Request) -> web.Response:
        inter = self._interaction(request)
        if isinstance(inter, web.Response):
            return inter
        payload, files = request[BODY] or {}, request[FILES]
        code, problems = messages.payload_errors(payload, files, creating=True)
        if problems:
            return invalid_form(problems, code)
        original = self.world.messages.get(inter.original_message_id or 0)
        if inter.callback_type == 5 and original is not None and original.loading:
            # The first follow-up after "thinking" replaces the loading message; its
            # ephemeral-ness was decided by the defer.
            without_flags = {k: v for k, v in payload.items() if k != "flags"}
            message = messages.edit(self.world, original, without_flags, files)
            event = "MESSAGE_UPDATE"
        else:
            message = self._new_message(inter, payload, files)
            event = "MESSAGE_CREATE"
        inter.followup_ids.append(message.id)
        inter.events.append(("followup", message.id))
        self.world.notify()
        await self.gateway.dispatch_message(event, message)
        if request.query.get("wait") in TRUE_VALUES:
            return json_response(payloads.message(self.world, message))
        return web.Response(status=204)

    async def webhook_message(self, request: web.Request) -> web.Response:
        inter = self._interaction(request)
        if isinstance(inter, web.Response):
            return inter
        raw_id = request.match_info["message"]
        if raw_id != "@original" and not raw_id.isdigit():
            return unknown("Message", 10008)
        message_id = inter.original_message_id if raw_id == "@original" else int(raw_id)
        message = self.world.messages.get(message_id or 0)
        is_original = message_id is not None and message_id == inter.original_message_id
        if (
            message is None
            or message.deleted
            or not (is_original or message_id in inter.followup_ids)
        ):
            return unknown("Message", 10008)

        if request.method == "GET":
            return json_response(payloads.message(self.world, message))
        if request.method == "DELETE":
            message.deleted = True
            inter.events.append(("delete", message.id))
            self.world.notify()
            await self.gateway.dispatch_message_delete(message)
            return web.Response(status=204)

        payload, files = request[BODY] or {}, request[FILES]
        code, problems = messages.payload_errors(payload, files, creating=False)
        if problems:
            return invalid_form(problems, code)
        messages.edit(self.world, message, payload, files)
        inter.events.append(("edit_original" if is_original else "edit_followup", message.id))
        self.world.notify()
        await self.gateway.dispatch_message("MESSAGE_UPDATE", message)
        return json_response(payloads.message(self.world, message))
