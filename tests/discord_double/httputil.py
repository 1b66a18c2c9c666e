"""Request storage keys and JSON responses as Discord sends them (errors included).

discord.py parses a body as JSON only if Content-Type is exactly "application/json"
(no charset parameter), so aiohttp's json_response cannot be used as is.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

# Set by the server middleware on every REST request: the parsed JSON payload (or None)
# and uploaded files as {"field", "filename", "content_type", "data"} dicts.
BODY = web.RequestKey("body", object)
FILES = web.RequestKey("files", list)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=body, status=status, headers=all_headers)


def discord_error(
    status: int, code: int, message: str, problems: list[str] | None = None
) -> web.Response:
    body: dict = {"message": message, "code": code}
    if problems:
        # Discord nests field errors; one flat list keeps them readable in test output.
        body["errors"] = {"_errors": [{"code": "INVALID", "message": p} for p in problems]}
    return json_response(body, status=status)


def unknown(what: str, code: int) -> web.Response:
    return discord_error(404, code, f"Unknown {what}")


def invalid_form(problems: list[str], code: int = 50035) -> web.Response:
    message = "Cannot send an empty message" if code == 50006 else "Invalid Form Body"
    return discord_error(400, code, message, problems)
