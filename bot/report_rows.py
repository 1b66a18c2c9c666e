"""The weekly report as rows of numbers: the CSV's columns and the CLI's table, in one place.

Each row has a stable key (the CSV column), a plain-English label (the operator's table) and
one number per week. Amounts are in minor units of the catalog's currency (cents for USD).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from babel import Locale

from core.question_log import DECISIONS
from core.report import Report, WeekFigures
from core.service import CANCEL_REASONS
from flows.answers import TOPICS
from flows.texts import CANCEL_REASON_LABELS
from locales import INTENTS, SUPPORTED, render
from locales.languages import babel_locale

# How the operator's table names the bot's decisions.
DECISION_LABELS = {
    "answered": "answered",
    "asked": "asked which topic",
    "menu": "not placed: menu or greeting",
    "quiet": "not placed: no reply",
}


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    values: tuple[int, ...]
    indent: int = 0  # the table shows a breakdown under its total
    money: bool = False  # minor units of the report's currency


def _row(report: Report, key: str, label: str, value: Callable[[WeekFigures], int], indent: int = 0) -> Row:
    return Row(key, label, tuple(value(w) for w in report.weeks), indent)


def _known_then_found(known: Iterable[str], found: Iterable[str]) -> list[str]:
    """The known ids in their order, then any others the records hold (a newer model's topic)."""
    known = list(known)
    return known + sorted(set(found) - set(known))


def report_rows(report: Report) -> list[Row]:
    reasons = _known_then_found(CANCEL_REASONS, report.summed("cancellations"))
    topics = _known_then_found((i for i in INTENTS if i != "none"), report.summed("topics"))
    topics = [t for t in topics if t != "none"]  # "none" is the unplaced messages, counted below
    languages = _known_then_found(SUPPORTED, report.summed("languages"))
    rows = [_row(report, "cancellations", "Cancellations", lambda w: w.cancelled)]
    rows += [_row(report, f"cancel_{r}", _english(CANCEL_REASON_LABELS.get(r), r), lambda w, r=r: w.cancellations[r], 1)
             for r in reasons]
    rows += [
        _row(report, "comments", "with a comment", lambda w: sum(w.comments.values()), 1),
        _row(report, "save_offers_shown", "Save offers shown", lambda w: w.offers_shown),
        _row(report, "save_offers_taken", "Save offers taken", lambda w: w.offers_taken),
        _row(report, "resumes", "Resumes", lambda w: w.resumes),
        _row(report, "refunds_approved", "Refunds approved", lambda w: w.refunds_approved),
        _row(report, "refunds_denied", "Refunds denied", lambda w: w.refunds_denied),
        Row("refunded_minor", "Refunded", tuple(w.refunded_minor for w in report.weeks), money=True),
        Row("refund_denied_minor", "Denied, amount asked", tuple(w.denied_minor for w in report.weeks), money=True),
        _row(report, "questions", "Questions (messages to the bot)", lambda w: w.questions),
    ]
    rows += [_row(report, d, DECISION_LABELS[d], lambda w, d=d: w.decisions[d], 1) for d in DECISIONS]
    rows.append(_row(report, "unplaced", "not placed, in all", lambda w: w.unplaced, 1))
    rows += [_row(report, f"topic_{t}", "topic: " + _english(TOPICS.get(t), t), lambda w, t=t: w.topics[t], 1)
             for t in topics]
    rows += [_row(report, f"lang_{code}", f"language: {_language_name(code)}", lambda w, c=code: w.languages[c], 1)
             for code in languages]
    return rows


def _english(msg, fallback: str) -> str:
    return render(msg, "en") if msg is not None else fallback


def _language_name(code: str) -> str:
    try:
        return Locale.parse(babel_locale(code)).get_display_name("en")
    except KeyError:  # a code the records hold that we no longer answer in
        return code
