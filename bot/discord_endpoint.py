"""Point discord.py at a Discord stand-in (the local test double) instead of discord.com.

discord.py builds every REST URL from the class attribute ``discord.http.Route.BASE``
(webhook and interaction-callback routes included), and a non-sharded client opens the
gateway at ``DiscordWebSocket.DEFAULT_GATEWAY`` without asking ``GET /gateway/bot``.
That default is also where it falls back after an invalidated session, so both have to
be replaced before the bot logs in. Resumes use the ``resume_gateway_url`` sent in READY,
which the stand-in points back at itself.

The bot reads ``DISCORD_API_BASE`` (e.g. ``http://127.0.0.1:8123/api/v10``) and calls
``apply_api_base`` with it. Unset or empty means real Discord: nothing is changed.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import discord.gateway
import discord.http
import yarl

# Only loopback is accepted: this switch exists for tests, and a typo must not send the
# bot token to some other host.
_LOOPBACK_NAMES = {"localhost"}


def _check_loopback(url: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ValueError(f"{url!r}: scheme must be one of {schemes}")
    host = parts.hostname or ""
    if host not in _LOOPBACK_NAMES:
        try:
            is_loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            is_loopback = False
        if not is_loopback:
            raise ValueError(f"{url!r}: host {host!r} is not a loopback address")
    if parts.port is None:
        raise ValueError(f"{url!r}: an explicit port is required")


def apply_api_base(base: str | None, *, gateway: str | None = None) -> None:
    """Send discord.py's REST and gateway traffic to ``base`` (a loopback URL).

    ``base`` must look like ``http://127.0.0.1:PORT/api/v10``. The gateway defaults to
    the websocket served at the root of the same host and port (``ws://127.0.0.1:PORT/``),
    which is where the test double listens; pass ``gateway`` to override it.
    Raises ``ValueError`` for a non-loopback host or a wrong API version path.
    """
    if not base:
        return
    base = base.rstrip("/")
    _check_loopback(base, ("http", "https"))
    expected_path = f"/api/v{discord.http.INTERNAL_API_VERSION}"
    if urlsplit(base).path != expected_path:
        raise ValueError(f"{base!r}: path must be {expected_path!r}")

    if gateway is None:
        parts = urlsplit(base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        gateway = f"{scheme}://{parts.netloc}/"
    _check_loopback(gateway, ("ws", "wss"))

    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
