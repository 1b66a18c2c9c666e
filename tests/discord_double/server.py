"""The aiohttp server: REST under /api/v10, the gateway websocket at / (and /resume).

A middleware records every REST request (method, path, query, JSON body), checks the
bot token where Discord requires it, and applies injected faults before routing.
"""

from __future__ import annotations

import json

from aiohttp import web

from .channels import ChannelRoutes
from .commands import CommandRoutes
from .faults import FaultBook
from .gateway import Gateway
from .httputil import BODY, FILES, discord_error
from .interaction_routes import InteractionRoutes
from .state import RequestRecord, World

API_PREFIX = "/api/v10"


async def _read_body(request: web.Request) -> tuple[object, list[dict]]:
    """(JSON payload, uploaded files). discord.py sends files as multipart with the JSON
    in a ``payload_json`` part, everything else as a JSON body."""
    if request.content_type.startswith("multipart/"):
        payload, files = None, []
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                files.append(
                    {
                        "field": part.name,
                        "filename": part.filename,
                        "content_type": part.headers.get("Content-Type"),
                        "data": await part.read(),
                    }
                )
        return payload, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


def _needs_token(path: str) -> bool:
    # Interaction callbacks and interaction webhooks are authorised by their token in the URL.
    return not path.startswith(("/interactions/", "/webhooks/"))


def build_app(
    world: World,
    gateway: Gateway,
    faults: FaultBook,
    *,
    shard_count: int,
) -> web.Application:
    @web.middleware
    async def api_middleware(request: web.Request, handler):
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)  # the gateway websocket
        path = request.path[len(API_PREFIX) :]
        try:
            body, files = await _read_body(request)
        except ValueError:  # json.JSONDecodeError
            return discord_error(400, 50109, "The request body contains invalid JSON.")
        record = RequestRecord(request.method, path, dict(request.query), body)
        world.requests.append(record)
        request[BODY], request[FILES] = body, files

        if _needs_token(path) and request.headers.get("Authorization") != f"Bot {world.token}":
            response = discord_error(401, 0, "401: Unauthorized")
        elif (fault := faults.take(request.method, path)) is not None:
            record.fault = True
            response = fault.response()
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # no such route (404) or method (405)
                world.unhandled.append(record)
                response = discord_error(exc.status, 0, f"{exc.status}: {exc.reason}")
        record.status = response.status
        world.notify()
        return response

    app = web.Application(middlewares=[api_middleware])
    app.router.add_get("/", gateway.handle)
    app.router.add_get("/resume", gateway.handle)
    ChannelRoutes(world, gateway, shard_count).add_to(app, API_PREFIX)
    CommandRoutes(world).add_to(app, API_PREFIX)
    InteractionRoutes(world, gateway).add_to(app, API_PREFIX)
    return app
