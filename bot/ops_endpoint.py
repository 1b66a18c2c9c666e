"""This process's metrics, and with METRICS_ADDR its HTTP endpoint for the people who run it:

- ``GET /healthz``: 200 ``ok`` when the gateway is connected and the database answers;
  503 with the reasons otherwise (bot/health.py).
- ``GET /metrics``: Prometheus text format (bot/metrics.py, bot/metrics_scrape.py).

It is served on the bot's own event loop, so /healthz sees the bot's real state, and a loop
too blocked to answer it is itself a sign of trouble. Each bot process serves its own (a
sharded deployment: one address per process). An address that cannot be bound stops the
bot at start, with the setting's name, rather than running unwatched.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from bot.health import DB_TIMEOUT, database_problem, gateway_problem
from bot.metrics import BotMetrics, install
from bot.metrics_scrape import ScrapeTime
from bot.observe import FlowEvents, discord_http_trace
from bot.settings import SettingsError

log = logging.getLogger(__name__)


class OpsEndpoint:
    def __init__(self, app, engine) -> None:
        self.app = app
        self.metrics = install(BotMetrics())  # counting starts from zero with each bot built
        self.scrape = ScrapeTime(self.metrics.registry, app.db)
        engine.observer = FlowEvents()
        self.http_trace = discord_http_trace()  # for discord.Client(http_trace=...)
        self.db_timeout = DB_TIMEOUT
        self.bot = None
        self.url: str | None = None  # where it listens, once started
        self._runner: web.AppRunner | None = None

    async def start(self, bot) -> None:
        self.bot = self.scrape.gateway.bot = bot
        if self.app.settings.metrics_addr is None:
            return
        host, port = self.app.settings.metrics_addr
        server = web.Application()
        server.router.add_get("/healthz", self.healthz)
        server.router.add_get("/metrics", self.serve_metrics)
        runner = web.AppRunner(server, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise SettingsError("METRICS_ADDR", f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                                "each bot process needs an address of its own") from None
        self._runner = runner
        bound = runner.addresses[0]
        self.url = f"http://{'[' + bound[0] + ']' if ':' in bound[0] else bound[0]}:{bound[1]}"
        log.info("health and metrics at %s/healthz and %s/metrics", self.url, self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        problems = [p for p in (gateway_problem(self.bot), await database_problem(self.app.db, self.db_timeout)) if p]
        if problems:
            return web.Response(status=503, text="\n".join(problems) + "\n")
        return web.Response(text="ok\n")

    async def serve_metrics(self, request: web.Request) -> web.Response:
        await self.scrape.outbox.refresh()
        # The format the scraper asks for (Prometheus text, or OpenMetrics), as prometheus_client's own server does.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(self.metrics.registry), headers={"Content-Type": content_type})
