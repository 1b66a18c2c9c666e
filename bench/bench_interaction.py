"""Interaction path: 50 simulated users run the whole cancel flow at once, through the
local Discord double, against the real bot and against a baseline bot.

What it measures, and why: how long a user waits for an answer when many press at once,
and what each answer costs the bot's process, next to the floor: a bare discord.py bot
answering the same interactions with a fixed reply. Targets: p99 ≤ 2× the bare bot's (and
under 150 ms), CPU per interaction ≤ 1.5× the bare bot's. With 50 presses arriving
together, the last answer waits for nearly all the others, so the p99 follows the CPU
each interaction costs on the bot's event loop.

Each user: ``/cancel`` → choose a reason → "Skip" (no comment) → "Continue to cancel"
(decline the offer) → "Cancel renewal" (the final confirmation; the core cancels, the
bot also DMs a receipt). Latency of each of these 5 interactions: from the moment the
double dispatches INTERACTION_CREATE to the moment the bot's callback request
(``POST /interactions/{id}/{token}/callback``) reaches the double, both on the double's
event-loop clock. Ours: ``python -m bot run`` (shipped settings, SQLite, CLOCK=system)
with its own double; baseline: bare discord.py answering the same interactions with a
fixed reply (bench/baseline_bot.py fixed) on a second double; both processes stay
connected, and rounds alternate which bot the 50 users play against. p50 and p99 per
round over the 250 interactions; medians of the rounds. CPU: user + system time of each
bot's process (/proc/PID/stat) over all its rounds, divided by the interactions answered
(per round as well, where a 10 ms clock tick is a few percent of the bare bot's figure).

    python bench/bench_interaction.py [--rounds 10] [--users 50] [--quick] [--profile OUT]

``--profile OUT`` records both bots with py-spy over all the rounds (the baseline's in OUT
with .baseline before its suffix); ``python bench/profile_report.py OUT --interactions N``
(N = rounds × users × 5) compares where their event loops spend the time. A profiled run's
timings are slowed by the sampling: take the figures from a run without it.
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import tempfile
import time
from datetime import datetime
from pathlib import Path

import dataset
import discord_env
from common import arguments, emit, fmt_ratio, md_table, median, percentile, summary_row
from discord_env import cpu_seconds, latency_ms

TARGET_P99_MS = 150.0
TARGET_RATIO = 2.0
TARGET_CPU_RATIO = 1.5
STEPS = ("/cancel", "reason", "Skip", "Continue to cancel", "Cancel renewal")
USER_BASE = 5_000_000


def select_of(message) -> dict:
    for row in message.components:
        for component in row.get("components", []):
            if component.get("type") == 3:
                return component
    raise LookupError(f"no select on message {message.id}: {message.content!r}")


async def user_flow(double, user: int) -> list[dict]:
    """One user's cancel flow; a record per interaction."""
    handles = []
    handle = await double.slash(user, "cancel")
    handles.append(handle)
    message = await handle.response()
    handle = await double.select(user, message, select_of(message)["custom_id"], ["too_expensive"])
    handles.append(handle)
    message = await handle.response()
    for label in STEPS[2:]:
        handle = await double.click(user, message, label=label)
        handles.append(handle)
        message = await handle.response()
    out = []
    for step, h in zip(STEPS, handles):
        out.append({"step": step, "callback_type": h.record.callback_type, "ms": latency_ms(h.record)})
    out[-1]["final"] = message.content
    return out


async def play_round(double, users: list[int]) -> tuple[list[dict], float]:
    start = time.perf_counter()
    flows = await asyncio.gather(*(user_flow(double, u) for u in users))
    return [rec for flow in flows for rec in flow], time.perf_counter() - start


async def prepare_database(path: Path, users: list[int], background: int) -> None:
    """``background`` bulk-loaded accounts (due work swept), then a Plus account per user."""
    from core.clock import SystemClock
    from core.payments import SimulatedProvider
    from core.plans import load_catalog
    from core.service import SubscriptionCore
    from storage.db import open_database

    dataset.load(path, background, now=datetime.now(dataset.UTC).replace(microsecond=0))
    db = await open_database(f"sqlite:///{path}")
    try:
        core = SubscriptionCore(db, load_catalog(), SystemClock(), SimulatedProvider())
        await core.sweep()
        for user in users:
            await core.create_account(f"bench{user}@example.com", key=f"bench:{user}", discord_id=str(user), plan="plus")
    finally:
        await db.close()


def cancelled_count(path: Path, users: list[int]) -> int:
    conn = sqlite3.connect(path)
    try:
        marks = ",".join("?" * len(users))
        return conn.execute(
            f"SELECT COUNT(*) FROM subscriptions s JOIN accounts a ON a.id = s.account_id "
            f"WHERE s.cancel_at_period_end = 1 AND a.discord_id IN ({marks})", [str(u) for u in users]).fetchone()[0]
    finally:
        conn.close()


def stats(records: list[dict]) -> dict:
    ms = [r["ms"] for r in records if r["ms"] is not None]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms), "n": len(ms),
            "missing": sum(r["ms"] is None for r in records),
            "deferred": sum(r["callback_type"] in (5, 6) for r in records),
            "per_step_p50": {s: percentile([r["ms"] for r in records if r["step"] == s and r["ms"] is not None], 50)
                             for s in STEPS}}


async def run(rounds: int, n_users: int, background: int, profile: Path | None) -> dict:
    per_round_users = [[USER_BASE + r * 1000 + i for i in range(n_users)] for r in range(rounds)]
    warm = [USER_BASE + 999_000 + i for i in range(3)]
    everyone = [u for us in per_round_users for u in us] + warm
    results: dict[str, list] = {"ours": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="bench-interaction-") as tmp:
        work = Path(tmp)
        db_path = work / "bot.db"
        await prepare_database(db_path, everyone, background)
        ours_double = await discord_env.start_double()
        base_double = await discord_env.start_double()
        bots = []
        try:
            for double in (ours_double, base_double):
                for user in everyone:
                    double.add_user(user, f"user{user}")
            ours = await discord_env.launch_bot(ours_double, f"sqlite:///{db_path}", work, name="ours")
            bots.append(ours)
            base = await discord_env.launch_baseline(base_double, "fixed", work, name="baseline")
            bots.append(base)
            await discord_env.wait_connected(ours_double, ours, commands=True)
            await discord_env.wait_connected(base_double, base, commands=True)
            await asyncio.sleep(3)  # on_ready (guild_ready_timeout) and the first reminder sweep
            # Warm-up: imports on first use, statement caches, the first DM channel.
            await play_round(ours_double, warm)
            await play_round(base_double, warm)
            spies = discord_env.Profilers()
            if profile:  # both bots over every round
                await spies.start([(ours, profile), (base, profile.with_suffix(".baseline" + profile.suffix))])
            for r, users in enumerate(per_round_users):
                order = [("baseline", base_double), ("ours", ours_double)]
                if r % 2:
                    order.reverse()
                for name, double in order:
                    pid = ours.pid if name == "ours" else base.pid
                    gc.collect()  # this process's collector pauses the doubles: not during a round
                    cpu_before = cpu_seconds(pid)
                    records, seconds = await play_round(double, users)
                    cpu_ms = 1000 * (cpu_seconds(pid) - cpu_before) / len(records)
                    results[name].append({"stats": stats(records), "seconds": seconds, "records": records,
                                          "cpu_ms_per_interaction": cpu_ms})
            spies.stop()
            cancelled = cancelled_count(db_path, [u for us in per_round_users for u in us])
            ours_errors = [line for line in ours.log.read_text(errors="replace").splitlines()
                           if "Traceback" in line or " ERROR " in line]
        finally:
            for bot in bots:
                await bot.stop()
            await ours_double.stop()
            await base_double.stop()
    finals = [rec.get("final", "") for rnd in results["ours"] for rec in rnd["records"] if rec["step"] == STEPS[-1]]
    return {
        "rounds": {k: [{"stats": v["stats"], "seconds": v["seconds"], "cpu_ms": v["cpu_ms_per_interaction"]} for v in vs]
                   for k, vs in results.items()},
        "cpu_ms_per_interaction": {k: sum(v["cpu_ms_per_interaction"] for v in vs) / len(vs) for k, vs in results.items()},
        "cpu_ms_round_median": {k: median(v["cpu_ms_per_interaction"] for v in vs) for k, vs in results.items()},
        "median": {k: {q: median(v["stats"][q] for v in vs) for q in ("p50", "p99", "max")}
                   for k, vs in results.items()},
        "per_step_p50": {k: {s: median(v["stats"]["per_step_p50"][s] for v in vs) for s in STEPS}
                         for k, vs in results.items()},
        "deferred": {k: sum(v["stats"]["deferred"] for v in vs) for k, vs in results.items()},
        "missing": {k: sum(v["stats"]["missing"] for v in vs) for k, vs in results.items()},
        "cancelled": cancelled, "users_total": rounds * n_users,
        "results_shown": sum(f.startswith("Auto-renewal cancelled.") for f in finals),
        "ours_log_errors": ours_errors[:20], "background_accounts": background,
    }


def main() -> None:
    args = arguments(__doc__.splitlines()[0], rounds={"type": int, "default": 10},
                     users={"type": int, "default": 50}, background={"type": int, "default": 10_000},
                     profile={"type": Path, "default": None})
    rounds = 2 if args.quick else args.rounds
    result = asyncio.run(run(rounds, args.users, args.background, args.profile))
    m = result["median"]
    ratio = m["ours"]["p99"] / m["baseline"]["p99"]
    met = ratio <= TARGET_RATIO and m["ours"]["p99"] < TARGET_P99_MS
    table = md_table(
        ["bot", "p50 ms", "p99 ms", "max ms", "deferred callbacks", "interactions"],
        [["ours: `python -m bot run`", f"{m['ours']['p50']:.1f}", f"{m['ours']['p99']:.1f}", f"{m['ours']['max']:.1f}",
          result["deferred"]["ours"], rounds * args.users * len(STEPS)],
         ["baseline: bare discord.py, fixed reply", f"{m['baseline']['p50']:.1f}", f"{m['baseline']['p99']:.1f}",
          f"{m['baseline']['max']:.1f}", result["deferred"]["baseline"], rounds * args.users * len(STEPS)],
         ["ratio ours ÷ baseline", fmt_ratio(m["ours"]["p50"] / m["baseline"]["p50"]), fmt_ratio(ratio),
          fmt_ratio(m["ours"]["max"] / m["baseline"]["max"]), "", ""]],
    )
    steps = md_table(["step", "ours p50 ms", "baseline p50 ms"],
                     [[s, f"{result['per_step_p50']['ours'][s]:.1f}", f"{result['per_step_p50']['baseline'][s]:.1f}"]
                      for s in STEPS])
    rounds_table = md_table(
        ["round", "ours p50 / p99 ms", "baseline p50 / p99 ms", "ours round s", "baseline round s",
         "ours / baseline CPU ms per interaction"],
        [[i + 1, f"{o['stats']['p50']:.1f} / {o['stats']['p99']:.1f}", f"{b['stats']['p50']:.1f} / {b['stats']['p99']:.1f}",
          f"{o['seconds']:.2f}", f"{b['seconds']:.2f}", f"{o['cpu_ms']:.2f} / {b['cpu_ms']:.2f}"]
         for i, (o, b) in enumerate(zip(result["rounds"]["ours"], result["rounds"]["baseline"]))],
    )
    cpu = result["cpu_ms_per_interaction"]
    cpu_ratio = cpu["ours"] / cpu["baseline"]
    cpu_line = (f"CPU time of each bot process per interaction (user + system, /proc/PID/stat, over all the rounds): "
                f"ours {cpu['ours']:.2f} ms, baseline {cpu['baseline']:.2f} ms, **{fmt_ratio(cpu_ratio)}** "
                f"(target ≤ {TARGET_CPU_RATIO:g}×). With {args.users} presses arriving at once, the last "
                f"callback waits for about all of them, so the p99 follows this cost.")
    checks = (f"Checks: {result['results_shown']} of {result['users_total']} users saw \"Auto-renewal cancelled.\"; "
              f"{result['cancelled']} of {result['users_total']} subscriptions are cancelled in the database; "
              f"{len(result['ours_log_errors'])} error lines in the bot's log; "
              f"{result['missing']['ours'] + result['missing']['baseline']} interactions without a callback.")
    notes = (f"{args.users} users at once, {rounds} rounds per bot, {len(STEPS)} interactions per user; the bot's "
             f"database also holds {result['background_accounts']:,} other accounts.\n\n{table}\n\n"
             f"{cpu_line}\n\nPer step (median of the rounds' p50):\n\n{steps}\n\nPer round:\n\n{rounds_table}\n\n{checks}\n\n"
             "Reproduce: `python bench/bench_interaction.py` (`--profile out.txt` adds py-spy recordings of both "
             "bots; `python bench/profile_report.py out.txt --interactions N` compares them).")
    summary = [summary_row(f"interaction p99, {args.users} users in the cancel flow", f"{m['ours']['p99']:.1f} ms",
                           f"{m['baseline']['p99']:.1f} ms (fixed reply)", fmt_ratio(ratio),
                           f"≤ {TARGET_RATIO:g}× and < {TARGET_P99_MS:g} ms", met),
               summary_row(f"CPU per interaction, {args.users} users in the cancel flow", f"{cpu['ours']:.2f} ms",
                           f"{cpu['baseline']:.2f} ms (fixed reply)", fmt_ratio(cpu_ratio),
                           f"≤ {TARGET_CPU_RATIO:g}×", cpu_ratio <= TARGET_CPU_RATIO)]
    emit(args, "interaction", "Interaction path", notes, summary, result)


if __name__ == "__main__":
    main()
