"""The weekly report as a plain-English table for the operator's terminal (``python -m bot report``).

Weeks are columns (ISO week and its Monday), numbers are rows; a breakdown is indented under
its total. Amounts are shown in the currency's major unit (the CSV keeps minor units).
"""

from __future__ import annotations

from bot.report_rows import Row, report_rows
from core.money import Money
from core.report import Report

LABEL_WIDTH = 40
COLUMN_WIDTH = 10


def _cell(row: Row, value: int, currency: str) -> str:
    return Money(currency, value).as_decimal_str() if row.money else str(value)


def _label(row: Row, currency: str) -> str:
    text = "  " * row.indent + row.label + (f" ({currency})" if row.money else "")
    return text[:LABEL_WIDTH - 1].ljust(LABEL_WIDTH)


def report_table(report: Report) -> str:
    weeks = report.weeks
    first, last = weeks[0].start, report.now
    lines = [
        f"Weekly report: {len(weeks)} ISO weeks (Monday 00:00 UTC), {first:%Y-%m-%d} to {last:%Y-%m-%d %H:%M} UTC",
        "",
        " " * LABEL_WIDTH + "".join(w.label.rjust(COLUMN_WIDTH) for w in weeks),
        " " * LABEL_WIDTH + "".join(f"{w.start:%b %d}".rjust(COLUMN_WIDTH) for w in weeks),
    ]
    for row in report_rows(report):
        lines.append(_label(row, report.currency) + "".join(_cell(row, v, report.currency).rjust(COLUMN_WIDTH) for v in row.values))
    return "\n".join(lines)
