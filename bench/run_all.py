"""Run every benchmark and rewrite the tables in BENCHMARKS.md.

    python bench/run_all.py                 # everything (about 5 minutes on 2 cores)
    python bench/run_all.py --only lang,core
    python bench/run_all.py --quick         # smaller sizes, fewer rounds: a smoke run
    python bench/run_all.py --no-write      # print, leave BENCHMARKS.md alone

Each benchmark runs as its own process (``bench/bench_<name>.py --json FILE``), so one
benchmark's memory or threads never reach another's figures. Only the text between
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->`` markers is rewritten;
everything else in BENCHMARKS.md is hand-written and kept. A benchmark that fails or
runs out of time leaves its old table in place, and the run says so. Each result is also
kept in bench/results/NAME.json (not for --quick), so the summary covers every benchmark
after a partial run (--only), with the time each figure was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import BENCH, BENCHMARKS_MD, PYTHON, ROOT, machine, md_table, rewrite_section

# name → (script, timeout seconds, heading when the section is new)
BENCHMARKS = {
    "lang": ("bench_lang.py", 240, "4. Language choice"),
    "questions": ("bench_questions.py", 240, "6. Understanding questions"),
    "core": ("bench_core.py", 240, "2. Core throughput"),
    "ab_sqlite_direct": ("ab_sqlite_direct.py", 120, "Before and after: SQLite statements"),
    "sweep": ("bench_sweep.py", 360, "3. Due-work sweep"),
    "memory": ("bench_memory.py", 240, "5. Memory at rest"),
    "interaction": ("bench_interaction.py", 240, "1. Interaction path"),
    "load": ("bench_load.py", 240, "7. Sustained load"),
}
BUDGET_S = 600
RESULTS = BENCH / "results"  # the latest result of each benchmark (JSON), behind the tables


def run_one(name: str, quick: bool, out_dir: Path) -> tuple[dict | None, str, float]:
    script, timeout, _ = BENCHMARKS[name]
    out = out_dir / f"{name}.json"
    argv = [PYTHON, str(BENCH / script), "--json", str(out)] + (["--quick"] if quick else [])
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not out.exists():
        return None, f"failed (exit {done.returncode}):\n{done.stderr[-2500:]}", seconds
    return json.loads(out.read_text(encoding="utf-8")), "", seconds


def summary_table(results: dict[str, dict], problems: dict[str, str]) -> str:
    """Every benchmark's summary rows: from this run, or from its latest stored result."""
    rows = []
    for name in ("interaction", "load", "core", "sweep", "lang", "questions", "memory"):
        result = results.get(name)
        stored = RESULTS / f"{name}.json"
        if result is None and stored.exists():
            result = json.loads(stored.read_text(encoding="utf-8"))
        if name in problems:
            rows.append([name, "not measured this run: " + problems[name].splitlines()[0], "", "", "", "–", ""])
        for row in (result or {}).get("summary", []):
            met = row["met"]
            rows.append([row["figure"], row["ours"], row["baseline"], row["ratio"], row["target"],
                         "–" if met is None else ("yes" if met else "**no**"), result.get("finished", "")])
    return md_table(["figure", "ours", "baseline (same run)", "ratio", "target", "met", "measured"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    before = machine()
    results: dict[str, dict] = {}
    problems: dict[str, str] = {}
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-results-") as tmp:
        for name in names:
            print(f"[run_all] {name} ...", file=sys.stderr, flush=True)
            result, problem, seconds = run_one(name, args.quick, Path(tmp))
            timings[name] = seconds
            if result is None:
                problems[name] = problem
                print(f"[run_all] {name}: {problem}", file=sys.stderr, flush=True)
            else:
                result["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
                result["quick"] = args.quick
                results[name] = result
                print(f"[run_all] {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    after = machine()

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    run_line = (f"Last run: {stamp}{' (--quick)' if args.quick else ''}; {before['cpus']} CPUs, Python "
                f"{before['python']}, {before['platform']}; load average {before['load_1m']} at the start, "
                f"{after['load_1m']} at the end; {total:.0f} s for {', '.join(f'{n} {timings[n]:.0f} s' for n in names)}.")
    for name in names:
        print(f"\n## {name}\n")
        print(results[name]["markdown"] if name in results else problems[name])
    if args.no_write:
        return 1 if problems else 0

    RESULTS.mkdir(exist_ok=True)
    if not args.quick:  # a smoke run never stands in for the real figures
        for name, result in results.items():
            (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    text = rewrite_section(text, "summary", f"{summary_table(results, problems)}\n\n{run_line}", "Summary")
    for name in names:
        if name in results:
            body = results[name]["markdown"]
            if args.quick:
                body = "*(quick run: smaller sizes and fewer rounds than the full run)*\n\n" + body
            text = rewrite_section(text, name, body, BENCHMARKS[name][2])
    BENCHMARKS_MD.write_text(text, encoding="utf-8")
    print(f"\n[run_all] BENCHMARKS.md rewritten ({', '.join(n for n in names if n in results)}) in {total:.0f} s"
          + (f"; failed: {', '.join(problems)}" if problems else ""), file=sys.stderr)
    if total > BUDGET_S:
        print(f"[run_all] over the {BUDGET_S} s budget", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
