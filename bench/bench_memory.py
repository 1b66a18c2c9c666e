"""Memory: resident size of the bot process at rest, with 100k accounts in the database.

Why: the bot must not load accounts up front nor hold more than a bare discord.py client
plus its own code and models; growth under load is bench_load.py's.

The real bot (``python -m bot run``, shipped settings: no member cache, no member
chunking, discord.py's default message cache; SQLite) connects to the local Discord
double; a database of 100k accounts (bench/dataset.py, periods relative to the real
clock, due work already swept) lies behind it. Once it is connected, has synced its
commands and has had time for on_ready and its first reminder sweep, VmRSS is read
from /proc/PID/status (median of 5 samples, 0.5 s apart). Baseline: a bare discord.py
client process (bench/baseline_bot.py idle) connected to the same double. Rounds
alternate the two; medians of the rounds. Also shown: the bot with an empty database.

    python bench/bench_memory.py [--rounds 2] [--accounts 100000] [--quick]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import datetime
from pathlib import Path

import dataset
import discord_env
from common import arguments, emit, fmt_ratio, md_table, median, summary_row

TARGET_MB = 150.0
SETTLE_S = 5.0  # on_ready comes guild_ready_timeout (2 s) after READY; then the first sweep


async def presweep(path: Path) -> int:
    from core.clock import SystemClock
    from core.payments import SimulatedProvider
    from core.plans import load_catalog
    from core.service import SubscriptionCore
    from storage.db import open_database

    db = await open_database(f"sqlite:///{path}")
    try:
        report = await SubscriptionCore(db, load_catalog(), SystemClock(), SimulatedProvider()).sweep()
        return report.renewed
    finally:
        await db.close()


async def one(double, work: Path, kind: str, db_url: str | None, tag: str) -> dict:
    if kind == "baseline":
        bot = await discord_env.launch_baseline(double, "idle", work, name=f"baseline-{tag}")
    else:
        bot = await discord_env.launch_bot(double, db_url, work, name=f"bot-{tag}")
    started = time.perf_counter()
    try:
        await discord_env.wait_connected(double, bot, commands=kind != "baseline")
        connected = time.perf_counter() - started
        await asyncio.sleep(SETTLE_S)
        if bot.process.returncode is not None:
            raise RuntimeError(f"{bot.name} exited:\n{discord_env.tail(bot.log)}")
        rss = await bot.sample_rss()
        problems = [line for line in bot.log.read_text(errors="replace").splitlines()
                    if "Traceback" in line or " ERROR " in line]
        if problems:
            raise RuntimeError(f"{bot.name} logged errors:\n{discord_env.tail(bot.log)}")
        return {"rss_mb": rss, "hwm_mb": bot.hwm_mb(), "connect_s": connected}
    finally:
        await bot.stop()
        await double.wait_disconnected(timeout=30)


async def run(rounds: int, accounts: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        big = work / "accounts.db"
        empty = work / "empty.db"
        now = datetime.now(dataset.UTC).replace(microsecond=0)
        dataset.load(big, accounts, now=now)
        swept = await presweep(big)
        dataset.load(empty, 0, now=now)
        results: dict[str, list[dict]] = {"ours": [], "baseline": [], "ours_empty": []}
        async with discord_env.double_running() as double:
            for r in range(rounds):
                order = ["baseline", "ours"] if r % 2 == 0 else ["ours", "baseline"]
                for kind in order:
                    results[kind].append(await one(double, work, kind, f"sqlite:///{big}", f"{kind}{r}"))
            results["ours_empty"].append(await one(double, work, "ours", f"sqlite:///{empty}", "empty"))
    return {"runs": results, "swept_before_start": swept, "accounts": accounts,
            "median": {k: median(x["rss_mb"] for x in v) for k, v in results.items()},
            "hwm": {k: median(x["hwm_mb"] for x in v) for k, v in results.items()}}


def main() -> None:
    args = arguments(__doc__.splitlines()[0], rounds={"type": int, "default": 2},
                     accounts={"type": int, "default": 100_000})
    rounds = 1 if args.quick else args.rounds
    accounts = 20_000 if args.quick else args.accounts
    result = asyncio.run(run(rounds, accounts))
    m, h = result["median"], result["hwm"]
    met = m["ours"] < TARGET_MB
    table = md_table(
        ["process", "VmRSS at rest, MB", "VmHWM (peak), MB", "runs"],
        [[f"ours: `python -m bot run`, {accounts:,} accounts", f"{m['ours']:.1f}", f"{h['ours']:.1f}",
          len(result["runs"]["ours"])],
         ["ours, empty database", f"{m['ours_empty']:.1f}", f"{h['ours_empty']:.1f}", len(result["runs"]["ours_empty"])],
         ["baseline: bare discord.py client", f"{m['baseline']:.1f}", f"{h['baseline']:.1f}",
          len(result["runs"]["baseline"])],
         ["ratio ours ÷ baseline", fmt_ratio(m["ours"] / m["baseline"]), fmt_ratio(h["ours"] / h["baseline"]), ""]],
    )
    notes = (f"{table}\n\nOurs minus baseline: {m['ours'] - m['baseline']:.1f} MB at rest; "
             f"{accounts:,} accounts vs an empty database: {m['ours'] - m['ours_empty']:+.1f} MB. "
             f"The database's due work ({result['swept_before_start']:,} renewals) was swept before the bot started, "
             "so \"at rest\" means connected, commands synced, first reminder sweep done and nothing to do.\n\n"
             "Reproduce: `python bench/bench_memory.py`.")
    summary = [summary_row(f"bot RSS at rest, {accounts:,} accounts", f"{m['ours']:.1f} MB",
                           f"{m['baseline']:.1f} MB (bare discord.py)", fmt_ratio(m["ours"] / m["baseline"]),
                           f"< {TARGET_MB:.0f} MB", met)]
    emit(args, "memory", "Memory at rest", notes, summary, result)


if __name__ == "__main__":
    main()
