"""Where a bot's event loop spends its time, next to the bare discord.py bot's, from the
py-spy recordings a benchmark's ``--profile OUT`` writes (OUT and OUT with .baseline).

What it shows, and why: both bots answer the same interactions, so whatever our bot's
event-loop thread spends that the bare bot does not is the cost of the product's own work
(database, flows, rendering, DMs) or of how the bot is wired. Only the main thread counts
(the event loop: the thread every interaction queues behind); samples waiting in
``select`` are idle. Reported per interaction (samples x sampling interval / interactions,
in the profiled run's slowed-down time, so compare shares more than milliseconds):

- self time by package: the innermost frame's package (SQLite statements run on the
  loop are "storage", aiohttp's client "aiohttp", and so on);
- inclusive time of the functions that matter most, ours next to the baseline's.

    python bench/profile_report.py OUT --interactions 3000 [--rate 500] [--top 40]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

PACKAGES = (
    ("storage/", "storage (SQLite on the loop)"), ("core/", "core"), ("flows/", "flows"),
    ("locales/", "locales"), ("bot/", "bot"), ("baseline_bot", "baseline_bot"), ("discord/", "discord.py"),
    ("aiohttp/", "aiohttp"), ("yarl/", "aiohttp"), ("multidict/", "aiohttp"), ("json/", "json"),
    ("asyncio/", "asyncio"), ("aiosqlite/", "aiosqlite"),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")


def load(path: Path) -> list[tuple[list[str], int]]:
    """Main-thread, non-idle samples: (frames root first as 'func (file)', count)."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or "MainThread" not in frames[0]:
            continue
        frames = [_FRAME.sub(r"\g<func> (\g<file>)", f) for f in frames[1:]]
        if frames and frames[-1].startswith("EpollSelector.select"):
            continue
        rows.append((frames, int(count)))
    return rows


def package(frame: str) -> str | None:
    file = frame.rsplit("(", 1)[-1]
    for prefix, name in PACKAGES:
        if file.startswith(prefix) or f"/{prefix}" in file:
            return name
    return None


def by_package(rows: list[tuple[list[str], int]]) -> Counter:
    found: Counter = Counter()
    for frames, count in rows:
        owner = next((p for p in map(package, reversed(frames)) if p), "other")
        found[owner] += count
    return found


def inclusive(rows: list[tuple[list[str], int]]) -> Counter:
    found: Counter = Counter()
    for frames, count in rows:
        for frame in set(frames):
            found[frame] += count
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ours", type=Path)
    parser.add_argument("--baseline", type=Path, help="default: OURS with .baseline before its suffix")
    parser.add_argument("--interactions", type=int, required=True, help="interactions each bot answered while recorded")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    baseline = args.baseline or args.ours.with_suffix(".baseline" + args.ours.suffix)
    ms = 1000 / args.rate / args.interactions  # one sample, in ms per interaction
    ours, base = load(args.ours), load(baseline)
    t_ours, t_base = sum(n for _, n in ours), sum(n for _, n in base)
    print(f"event-loop busy time per interaction: ours {t_ours * ms:.3f} ms, baseline {t_base * ms:.3f} ms, "
          f"{t_ours / max(1, t_base):.2f}x\n")
    print("self time by package            ours ms  share   baseline ms  share")
    p_ours, p_base = by_package(ours), by_package(base)
    for name, _ in (p_ours + p_base).most_common():
        print(f"  {name:30s} {p_ours[name] * ms:7.3f} {100 * p_ours[name] / t_ours:5.1f}%  "
              f"{p_base[name] * ms:9.3f} {100 * p_base[name] / max(1, t_base):5.1f}%")
    print("\ninclusive, ours (share of our loop time) next to the baseline's")
    i_ours, i_base = inclusive(ours), inclusive(base)
    skip = ("runpy", "asyncio/runners.py", "run_until_complete", "run_forever", "bot/__main__.py", "bot/cli.py",
            "<module>")
    shown = 0
    for frame, count in i_ours.most_common():
        if any(s in frame for s in skip):
            continue
        print(f"  {100 * count / t_ours:5.1f}% {count * ms:7.3f} ms | {i_base[frame] * ms:7.3f} ms  {frame}")
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    main()
