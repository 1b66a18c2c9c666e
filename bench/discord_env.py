"""Bot processes against the local Discord double (tests/discord_double), for the
memory and interaction benchmarks.

The double runs in the benchmark's own process and event loop; each bot is a separate
OS process, started as production starts it (``python -m bot run`` with its settings in
the environment, DISCORD_API_BASE pointing at the double) or, for baselines,
``bench/baseline_bot.py`` (bare discord.py). Processes are stopped with SIGTERM (then
SIGKILL after a grace period), by their own pid.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from common import BENCH, PYTHON, ROOT, median, proc_status

from tests.discord_double import DiscordDouble, interaction_routes

TOKEN = "bench-token-0123456789abcdefghij"  # bot/settings wants a token-shaped value
APP_ID = 1_300_000_000_000_000_001
GUILD_ID = 1_300_000_000_000_000_100
SUPPORT_CHANNEL = 1_300_000_000_000_000_201


# When each interaction's callback request reached a double, on the double's loop clock: an
# interaction's latency is that minus its ``dispatched_at`` (INTERACTION_CREATE sent).
CALLBACK_AT: dict[int, float] = {}
_original_callback = interaction_routes.InteractionRoutes.callback


async def _timed_callback(self, request):
    CALLBACK_AT.setdefault(int(request.match_info["interaction"]), asyncio.get_running_loop().time())
    return await _original_callback(self, request)


interaction_routes.InteractionRoutes.callback = _timed_callback  # before any double starts


def latency_ms(record) -> float | None:
    """Dispatch to callback of one interaction (a double's record), or None without a callback."""
    arrived = CALLBACK_AT.get(record.id)
    return None if arrived is None else 1000 * (arrived - record.dispatched_at)


def forget_interactions(double: DiscordDouble) -> None:
    """Drop what a double recorded of answered interactions (requests, interactions, their
    messages, and the gateway's replay buffer: the bots here never resume), then collect,
    so a long run keeps neither the benchmark's heap nor its collector's pauses growing: a
    full collection over 20,000 kept INTERACTION_CREATE payloads stops the doubles' event
    loop for 50 to 90 ms, and that lands on whichever bot is being timed."""
    for session in double.gateway.sessions.values():
        session.sent.clear()
    world = double.world
    done = [i for i in world.interactions.values() if i.callback_type is not None]
    for inter in done:
        world.interactions.pop(inter.id, None)
        world.interactions_by_token.pop(inter.token, None)
        CALLBACK_AT.pop(inter.id, None)
        for message_id in (inter.original_message_id, *inter.followup_ids):
            if message_id is not None and message_id != inter.message_id:
                world.messages.pop(message_id, None)
    world.requests.clear()
    gc.collect()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def py_spy() -> str | None:
    """py-spy if installed (optional: only ``--profile`` runs need it)."""
    beside = Path(sys.executable).parent / "py-spy"  # installed in the venv
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profilers:
    """py-spy recording bot processes (raw collapsed stacks, for bench/profile_report.py,
    flamegraph.pl or speedscope). Blocking sampling: whole stacks, at the price of pausing
    the process at each sample, so a profiled run's timings are not the benchmark's figures."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen] = []

    async def start(self, targets: list[tuple[BotProcess, Path]], rate: int = 500) -> bool:
        spy = py_spy()
        if spy is None:
            return False
        for bot, out in targets:
            command = [spy, "record", "-p", str(bot.pid), "-o", str(out), "-f", "raw", "-r", str(rate), "--threads"]
            self._running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,  # noqa: ASYNC220 (stopped below)
                                                  stderr=subprocess.DEVNULL))
        await asyncio.sleep(1)  # attached
        return True

    def stop(self) -> None:
        for spy in self._running:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            spy.wait()
        self._running.clear()


async def start_double() -> DiscordDouble:
    return await DiscordDouble.start(
        app_id=APP_ID, guild_id=GUILD_ID, channels=["general", ("support", SUPPORT_CHANNEL)], token=TOKEN,
        timeout=30.0,
    )


def bot_env(double: DiscordDouble, database_url: str, **extra: str) -> dict[str, str]:
    """The shipped defaults, plus what a deployment must set (token, database, channels)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "BENCH_"))}
    env.update({
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_BASE": double.api_base,
        "DATABASE_URL": database_url,
        "SUPPORT_CHANNEL_IDS": str(SUPPORT_CHANNEL),
        "CLOCK": "system",
        "LOG_LEVEL": "WARNING",
        **extra,
    })
    return env


@dataclass
class BotProcess:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        return proc_status(self.pid)["VmRSS"] / 1024

    def hwm_mb(self) -> float:
        return proc_status(self.pid)["VmHWM"] / 1024

    async def sample_rss(self, samples: int = 5, every: float = 0.5) -> float:
        found = []
        for _ in range(samples):
            found.append(self.rss_mb())
            await asyncio.sleep(every)
        return median(found)

    async def stop(self, grace: float = 15.0) -> int | None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


async def launch(name: str, argv: list[str], env: dict[str, str], cwd: Path, log_dir: Path) -> BotProcess:
    log = log_dir / f"{name}.log"
    with log.open("wb") as handle:  # the child keeps its own descriptor
        process = await asyncio.create_subprocess_exec(
            PYTHON, *argv, cwd=cwd, env=env, stdout=handle, stderr=asyncio.subprocess.STDOUT,
        )
    return BotProcess(name, process, log)


async def launch_bot(double: DiscordDouble, database_url: str, work: Path, name: str = "bot", **extra: str) -> BotProcess:
    """The real bot: ``python -m bot run``, from a directory without a .env file."""
    return await launch(name, ["-m", "bot", "run"], bot_env(double, database_url, **extra), work, work)


async def launch_baseline(double: DiscordDouble, mode: str, work: Path, name: str = "baseline") -> BotProcess:
    env = bot_env(double, "sqlite:///unused.db")
    return await launch(name, [str(BENCH / "baseline_bot.py"), mode], env, work, work)


async def wait_connected(double: DiscordDouble, bot: BotProcess, *, commands: bool, timeout: float = 60.0) -> None:
    """Until the bot identified (READY + GUILD_CREATE sent) and, with ``commands``, synced
    its application commands. Fails early, with the bot's log, if the process exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if bot.process.returncode is not None:
            raise RuntimeError(f"{bot.name} exited with {bot.process.returncode}:\n{tail(bot.log)}")
        ready = double.gateway.ready_shards() and (not commands or double.commands())
        if ready:
            return
        if loop.time() > deadline:
            raise RuntimeError(f"{bot.name} did not connect in {timeout:.0f} s:\n{tail(bot.log)}")
        await asyncio.sleep(0.05)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@asynccontextmanager
async def double_running() -> AsyncIterator[DiscordDouble]:
    double = await start_double()
    try:
        yield double
    finally:
        await double.stop()
