"""Shared helpers for the benchmarks: statistics, tables, results and BENCHMARKS.md.

Every benchmark script measures its figure *and* a baseline in the same process run,
repeats both several times (interleaved, so a burst of load from another process hits
both) and reports the median. A script writes a JSON result (``--json PATH``) that
``bench/run_all.py`` turns into the tables of BENCHMARKS.md; run on its own it prints
its table.

Result format (what ``emit`` writes)::

    {"name": "core", "title": "...", "markdown": "table and notes",
     "summary": [{"figure", "ours", "baseline", "ratio", "target", "met"}], "data": {...}}
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
PYTHON = sys.executable

if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere imports the project
    sys.path.insert(0, str(ROOT))


# -- statistics -----------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ratio(ours: float, baseline: float) -> float:
    return ours / baseline if baseline else math.nan


# -- formatting -----------------------------------------------------------------------


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{max(0, digits - 1 - math.floor(math.log10(magnitude)))}f}"
    return str(value)


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}×"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return (v if isinstance(v, str) else fmt(v)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_row(figure: str, ours: str, baseline: str, ratio_text: str, target: str, met: bool | None) -> dict:
    return {"figure": figure, "ours": ours, "baseline": baseline, "ratio": ratio_text, "target": target, "met": met}


# -- the machine ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_1m": round(load[0], 2),
    }


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM, ... of a process, in kB (Linux /proc)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Vm"):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def rss_mb(pid: int | str = "self") -> float:
    return proc_status(pid)["VmRSS"] / 1024


def hwm_mb(pid: int | str = "self") -> float:
    return proc_status(pid)["VmHWM"] / 1024


def reset_hwm(pid: int | str = "self") -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# -- results and BENCHMARKS.md ----------------------------------------------------------


def arguments(description: str, **extra: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="write the result here (run_all.py does)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a smoke run)")
    for flag, options in extra.items():
        parser.add_argument("--" + flag.replace("_", "-"), **options)
    return parser.parse_args()


def emit(args: argparse.Namespace, name: str, title: str, markdown: str, summary: list[dict], data: dict) -> None:
    result = {"name": name, "title": title, "markdown": markdown, "summary": summary, "data": data,
              "machine": machine()}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    print(f"## {title}\n\n{markdown}\n", flush=True)


def section_markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def rewrite_section(text: str, name: str, body: str, heading: str | None = None) -> str:
    """Replace what lies between the section's markers; append the section when absent.
    Hand-written text outside the markers is kept as is."""
    start, end = section_markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    prefix = f"\n## {heading}\n\n" if heading else "\n"
    return text.rstrip() + "\n" + prefix + block + "\n"
