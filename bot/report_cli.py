"""``python -m bot report --weeks 8 --out report.png [--csv report.csv]``: the weekly report.

The numbers as a table on stdout (plain English, as the rest of the operator CLI), the chart
as a PNG to ``--out`` and, with ``--csv``, one line of numbers per week. Read-only.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TextIO

from bot.report_chart import HEIGHT, WIDTH, render_png
from bot.report_chart_data import chart_data
from bot.report_csv import report_csv
from bot.report_table import report_table
from core.report import DEFAULT_WEEKS, MAX_WEEKS, weekly_report


def add_report_parser(commands) -> None:
    """The ``report`` subcommand, on the CLI's subparsers."""
    report = commands.add_parser("report", help="the weekly report: cancellations, save offers, refunds, questions")
    report.add_argument("--weeks", type=weeks_argument, default=DEFAULT_WEEKS,
                        help=f"how many ISO weeks, ending with the current one (default {DEFAULT_WEEKS})")
    report.add_argument("--out", type=Path, required=True, metavar="PNG", help="where to write the chart")
    report.add_argument("--csv", type=Path, metavar="CSV", help="also write the numbers, one line per week")


def weeks_argument(value: str) -> int:
    """``--weeks``: a whole number of weeks, 1 to MAX_WEEKS."""
    if not (value.isascii() and value.isdecimal() and 1 <= int(value) <= MAX_WEEKS):
        raise argparse.ArgumentTypeError(f"expected a whole number of weeks from 1 to {MAX_WEEKS}, got {value!r}")
    return int(value)


def _writable(path: Path, option: str) -> Path:
    if not path.parent.is_dir():
        raise ValueError(f"{option}: no folder {path.parent} to write {path.name} in")
    return path


async def run_report(app, weeks: int, out: Path, csv_path: Path | None, stdout: TextIO) -> int:
    _writable(out, "--out")
    if csv_path is not None:
        _writable(csv_path, "--csv")
    await app.refresh_clock()  # CLOCK=simulated: the time the bot's processes share
    report = await weekly_report(app.db, app.core.clock.now(), weeks, app.catalog.currency)
    chart = await asyncio.to_thread(render_png, chart_data(report, "en"))
    try:
        out.write_bytes(chart)
        if csv_path is not None:
            csv_path.write_text(report_csv(report), encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot write {exc.filename}: {exc.strerror}") from None
    stdout.write(report_table(report) + "\n\n")
    stdout.write(f"chart: {out} ({WIDTH}x{HEIGHT} PNG)\n")
    if csv_path is not None:
        stdout.write(f"numbers: {csv_path} (CSV, one line per week)\n")
    return 0
