"""Is this process healthy? Connected to Discord's gateway, and its database answers.

``/healthz`` (bot/ops_endpoint.py) answers 200 only when both hold; otherwise 503 with the
reasons, one a line, so a supervisor or load balancer can act and a person can read why.
"""

from __future__ import annotations

import asyncio
import math

# A database that takes longer than this for a trivial read is as good as down to a user
# (Discord wants an answer within 3 s).
DB_TIMEOUT = 2.0


def gateway_problem(bot) -> str | None:
    """Why this process's gateway connection is not healthy, or None when it is."""
    if bot is None:
        return "gateway: the bot has not started"
    if bot.is_closed():
        return "gateway: the bot is shutting down"
    if not bot.is_ready():
        return "gateway: not ready yet (connecting to Discord)"
    down = [
        shard_id
        for shard_id, shard in sorted(bot.shards.items())
        if shard.is_closed() or not math.isfinite(shard.latency)
    ]
    if down:
        return f"gateway: shard {', '.join(map(str, down))} not connected"
    return None


async def database_problem(db, timeout: float = DB_TIMEOUT) -> str | None:
    """Why the database is not healthy (no answer within ``timeout``, or an error), or None."""

    async def trivial_read() -> None:
        async with db.read() as tx:
            await tx.fetchone("SELECT 1 AS ok")

    try:
        await asyncio.wait_for(trivial_read(), timeout)
    except TimeoutError:
        return f"database: no answer within {timeout:g} s"
    except Exception as exc:  # noqa: BLE001  # down, refused, locked: the reason is the answer
        return f"database: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return None
