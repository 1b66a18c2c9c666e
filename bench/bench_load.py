"""Sustained load: 20 users sending /subscription back to back, 20,000 times, through the
local Discord double, against the real bot and a bare discord.py bot.

What it measures, and why: memory and latency that only show after many interactions.
A per-reply leak (a structure kept for every message sent) is invisible in a 250-press
benchmark but grows the heap without end, and a growing heap also lengthens the garbage
collector's full passes, which land on whichever interaction is in flight. So, per bot:
peak resident size (VmHWM, /proc/PID/status) after the first 200 interactions and after
20,000; p99 and worst latency over the 19,800 after the first 200 (from INTERACTION_CREATE
sent to the callback request arriving, on the double's clock, as in bench_interaction.py);
CPU time per interaction.

Ours: ``python -m bot run`` (shipped settings, SQLite, CLOCK=system), 20 linked Plus
accounts; /subscription answers with the status screen (ephemeral, with buttons).
Baseline: bare discord.py (bench/baseline_bot.py fixed) answering /subscription with a
fixed ephemeral reply carrying a select and four buttons. Each bot is its own process
with its own double (so the RSS is the bot's own); both stay connected and take the load
in alternating blocks, so a burst of load from another process falls on both. Between
blocks the doubles forget the answered interactions (the benchmark's own heap stays flat).

Targets: our peak RSS after 20,000 within 10 MB of it after 200; our p99 ≤ 2× the bare bot's.

    python bench/bench_load.py [--interactions 20000] [--users 20] [--block 2000] [--quick] [--profile OUT]

``--profile OUT`` records both bots with py-spy after the warm-up (the baseline's in OUT with
.baseline before its suffix; ``python bench/profile_report.py OUT --interactions N``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import datetime
from pathlib import Path

import dataset
import discord_env
from common import arguments, emit, fmt_ratio, md_table, percentile, summary_row

WARM = 200  # the first interactions: imports on first use, caches filling; RSS is read after them
TARGET_GROWTH_MB = 10.0
TARGET_RATIO = 2.0
USER_BASE = 6_000_000


async def prepare_database(path: Path, users: list[int]) -> None:
    from core.clock import SystemClock
    from core.payments import SimulatedProvider
    from core.plans import load_catalog
    from core.service import SubscriptionCore
    from storage.db import open_database

    dataset.load(path, 0, now=datetime.now(dataset.UTC).replace(microsecond=0))
    db = await open_database(f"sqlite:///{path}")
    try:
        core = SubscriptionCore(db, load_catalog(), SystemClock(), SimulatedProvider())
        for user in users:
            await core.create_account(f"load{user}@example.com", key=f"load:{user}", discord_id=str(user), plan="plus")
    finally:
        await db.close()


class Side:
    """One bot under load: its process, its double, what it has been measured at."""

    def __init__(self, name: str, bot: discord_env.BotProcess, double) -> None:
        self.name, self.bot, self.double = name, bot, double
        self.done = 0
        self.latencies: list[float] = []  # after the warm-up
        self.missing = 0
        self.cpu_s = 0.0
        self.seconds = 0.0
        self.contents: set[str] = set()
        self.at_warm: dict = {}
        self.at_end: dict = {}

    async def block(self, users: list[int], count: int, *, keep: bool) -> None:
        """``count`` /subscription commands, each user sending its next as soon as it has an answer."""
        left = count
        cpu_before, start = discord_env.cpu_seconds(self.bot.pid), time.perf_counter()

        async def one_user(user: int) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                handle = await self.double.slash(user, "subscription")
                reply = await handle.response(timeout=30)
                ms = discord_env.latency_ms(handle.record)
                if ms is None:
                    self.missing += 1
                elif keep:
                    self.latencies.append(ms)
                if len(self.contents) < 5:
                    self.contents.add(reply.content.split("\n", 1)[0])

        await asyncio.gather(*(one_user(u) for u in users))
        if keep:
            self.cpu_s += discord_env.cpu_seconds(self.bot.pid) - cpu_before
            self.seconds += time.perf_counter() - start
        self.done += count
        discord_env.forget_interactions(self.double)

    async def memory(self) -> dict:
        await asyncio.sleep(0.5)  # callbacks answered, the loop idle
        return {"interactions": self.done, "rss_mb": await self.bot.sample_rss(samples=3, every=0.2),
                "hwm_mb": self.bot.hwm_mb()}


async def run(total: int, n_users: int, block: int, profile: Path | None = None) -> dict:
    users = [USER_BASE + i for i in range(n_users)]
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = Path(tmp)
        db_path = work / "bot.db"
        await prepare_database(db_path, users)
        doubles = [await discord_env.start_double(), await discord_env.start_double()]
        bots: list[discord_env.BotProcess] = []
        try:
            for double in doubles:
                for user in users:
                    double.add_user(user, f"user{user}")
            ours = await discord_env.launch_bot(doubles[0], f"sqlite:///{db_path}", work, name="ours")
            bots.append(ours)
            base = await discord_env.launch_baseline(doubles[1], "fixed", work, name="baseline")
            bots.append(base)
            await discord_env.wait_connected(doubles[0], ours, commands=True)
            await discord_env.wait_connected(doubles[1], base, commands=True)
            await asyncio.sleep(3)  # on_ready (guild_ready_timeout) and the first reminder sweep
            sides = [Side("ours", ours, doubles[0]), Side("baseline", base, doubles[1])]
            for side in sides:
                await side.block(users, WARM, keep=False)
                side.at_warm = await side.memory()
            spies = discord_env.Profilers()
            if profile:
                await spies.start([(ours, profile), (base, profile.with_suffix(".baseline" + profile.suffix))])
            rest, n = total - WARM, 0
            while rest > 0:
                size = min(block, rest)
                for side in (sides if n % 2 == 0 else sides[::-1]):
                    await side.block(users, size, keep=True)
                rest -= size
                n += 1
            spies.stop()
            for side in sides:
                side.at_end = await side.memory()
            errors = [line for line in ours.log.read_text(errors="replace").splitlines()
                      if "Traceback" in line or " ERROR " in line]
        finally:
            for bot in bots:
                await bot.stop()
            for double in doubles:
                await double.stop()
    out = {"interactions": total, "users": n_users, "block": block, "ours_log_errors": errors[:20]}
    for side in sides:
        ms = side.latencies
        out[side.name] = {
            "at_warm": side.at_warm, "at_end": side.at_end,
            "growth_hwm_mb": side.at_end["hwm_mb"] - side.at_warm["hwm_mb"],
            "growth_rss_mb": side.at_end["rss_mb"] - side.at_warm["rss_mb"],
            "p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms), "measured": len(ms),
            "missing": side.missing, "cpu_ms": 1000 * side.cpu_s / max(1, len(ms)),
            "per_s": len(ms) / side.seconds if side.seconds else 0.0, "replies": sorted(side.contents),
        }
    return out


def main() -> None:
    args = arguments(__doc__.splitlines()[0], interactions={"type": int, "default": 20_000},
                     users={"type": int, "default": 20}, block={"type": int, "default": 2_000},
                     profile={"type": Path, "default": None})
    total = 2_000 if args.quick else args.interactions
    block = 450 if args.quick else args.block
    result = asyncio.run(run(total, args.users, block, args.profile))
    o, b = result["ours"], result["baseline"]
    p99_ratio = o["p99"] / b["p99"]
    grew_ok = o["growth_hwm_mb"] <= TARGET_GROWTH_MB
    end = f"after {total:,}"
    table = md_table(
        ["bot", f"peak RSS after {WARM}, MB", f"peak RSS {end}, MB", "growth, MB", "p50 ms", "p99 ms", "worst ms",
         "CPU ms per interaction", "interactions/s"],
        [[name, f"{r['at_warm']['hwm_mb']:.1f}", f"{r['at_end']['hwm_mb']:.1f}", f"{r['growth_hwm_mb']:+.1f}",
          f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['max']:.1f}", f"{r['cpu_ms']:.2f}", f"{r['per_s']:,.0f}"]
         for name, r in (("ours: `python -m bot run`", o), ("baseline: bare discord.py, fixed reply", b))]
        + [["ratio ours ÷ baseline", fmt_ratio(o["at_warm"]["hwm_mb"] / b["at_warm"]["hwm_mb"]),
            fmt_ratio(o["at_end"]["hwm_mb"] / b["at_end"]["hwm_mb"]), "", fmt_ratio(o["p50"] / b["p50"]),
            fmt_ratio(p99_ratio), fmt_ratio(o["max"] / b["max"]), fmt_ratio(o["cpu_ms"] / b["cpu_ms"]), ""]],
    )
    notes = (
        f"{args.users} users, each sending /subscription again as soon as it has its answer; {total:,} interactions "
        f"per bot, in alternating blocks of {block:,} after a warm-up of {WARM}. Latency (dispatch to callback) over "
        f"the {o['measured']:,} interactions after the warm-up; peak RSS is VmHWM of the bot's process.\n\n{table}\n\n"
        f"Checks: {o['missing'] + b['missing']} interactions without a callback; {len(result['ours_log_errors'])} "
        f"error lines in the bot's log; our replies began with: {'; '.join(repr(c) for c in o['replies'][:2])}.\n\n"
        "Reproduce: `python bench/bench_load.py` (`--interactions 40000` for a longer run)."
    )
    summary = [
        summary_row(f"bot peak RSS growth, {WARM} → {total:,} interactions", f"{o['growth_hwm_mb']:+.1f} MB",
                    f"{b['growth_hwm_mb']:+.1f} MB (bare discord.py)",
                    f"{o['at_end']['hwm_mb']:.0f} vs {b['at_end']['hwm_mb']:.0f} MB",
                    f"≤ {TARGET_GROWTH_MB:g} MB", grew_ok),
        summary_row(f"p99 under sustained load, {args.users} users", f"{o['p99']:.1f} ms (worst {o['max']:.0f})",
                    f"{b['p99']:.1f} ms (worst {b['max']:.0f})", fmt_ratio(p99_ratio), f"≤ {TARGET_RATIO:g}×",
                    p99_ratio <= TARGET_RATIO),
    ]
    emit(args, "load", "Sustained load", notes, summary, result)


if __name__ == "__main__":
    main()
