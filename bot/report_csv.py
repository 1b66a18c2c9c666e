"""The weekly report as CSV: one line per ISO week, one column per number (bot/report_rows.py).

The first columns say which week (``2026-W05``, its Monday) and the currency of the amounts,
which are in minor units. Free-text comments never appear here, only how many there were.
"""

from __future__ import annotations

import csv
import io

from bot.report_rows import report_rows
from core.report import Report


def report_csv(report: Report) -> str:
    rows = report_rows(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["week", "week_start", "currency", *(r.key for r in rows)])
    for i, week in enumerate(report.weeks):
        writer.writerow([week.label, week.start.date().isoformat(), report.currency, *(r.values[i] for r in rows)])
    return out.getvalue()
