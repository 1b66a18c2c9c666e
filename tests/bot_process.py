"""The bot as its own OS process, started the way production starts it, for restart tests.

``python -m tests.bot_process`` with the bot's settings in the environment (see
``tests.bot_harness.environment``); logs go to $BOT_LOG. A test kills it (SIGKILL, no
goodbye) or stops it (SIGTERM, a clean shutdown) and starts another.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from bot.bootstrap import build
from bot.discord_app import run_discord
from bot.settings import load_settings


async def main() -> int:
    app = await build(load_settings(dict(os.environ)))
    try:
        return await run_discord(
            app,
            reminder_interval=float(os.environ.get("REMINDER_INTERVAL", "3600")),
            guild_ready_timeout=0.05,
        )
    finally:
        await app.close()


if __name__ == "__main__":
    logging.basicConfig(
        filename=os.environ.get("BOT_LOG"),
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.exit(asyncio.run(main()))
