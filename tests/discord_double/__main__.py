"""Run the double on its own: ``python -m tests.discord_double --port 0 --user 1001:alice``.

Prints ``DISCORD_API_BASE=http://127.0.0.1:PORT/api/v10`` on the first line of stdout,
then serves until interrupted. Useful for running the real bot by hand against it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from .client import DiscordDouble


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.discord_double")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--app-id", type=int, default=1_100_000_000_000_000_001)
    parser.add_argument("--guild-id", type=int, default=1_100_000_000_000_000_100)
    parser.add_argument(
        "--channel", action="append", default=None, help="channel name (repeatable)"
    )
    parser.add_argument("--user", action="append", default=[], help="ID:NAME[:LOCALE] (repeatable)")
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--shards", type=int, default=1)
    return parser.parse_args()


async def _serve(args: argparse.Namespace) -> None:
    double = await DiscordDouble.start(
        app_id=args.app_id,
        guild_id=args.guild_id,
        channels=args.channel or ["general"],
        token=args.token,
        shards=args.shards,
        port=args.port,
    )
    for spec in args.user:
        user_id, name, *locale = spec.split(":")
        double.add_user(int(user_id), name, locale=locale[0] if locale else "en-US")
    print(f"DISCORD_API_BASE={double.api_base}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await double.stop()


if __name__ == "__main__":
    asyncio.run(_serve(_parse()))
