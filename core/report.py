"""Weekly figures for the product team, read from the records the core and the bot keep.

Read-only. Per ISO week (UTC, Monday 00:00 to Monday 00:00), for the last N weeks up to the
week holding the clock's now:
- cancellations by reason, and how many came with a comment (audit_log 'cancel': it keeps the
  reason after a resume, when the subscription row forgets it);
- the cancel flow's save offer, shown and taken (save_offers);
- resumes (audit_log 'resume');
- refund requests decided, approved and denied, with the amounts charged (cases, invoices);
- chat messages addressed to the bot: topic, reply language and decision (question_log).
Comment text is read only when asked for (``latest_comments``: the moderators' view).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.clock import UTC, from_ts, to_ts
from core.question_log import UNPLACED
from storage.db import Database, Tx

WEEK = timedelta(days=7)
WEEK_SECONDS = int(WEEK.total_seconds())
DEFAULT_WEEKS, MAX_WEEKS = 8, 104

# Each query takes (first week's start, range start, range end); ``week`` is the week's index.
_RESUMES = (
    "SELECT (created_at - ?) / 604800 AS week, COUNT(*) AS n FROM audit_log "
    "WHERE action = 'resume' AND created_at >= ? AND created_at < ? GROUP BY week"
)
_OFFERS_SHOWN = (
    "SELECT (shown_at - ?) / 604800 AS week, COUNT(*) AS n FROM save_offers "
    "WHERE shown_at >= ? AND shown_at < ? GROUP BY week"
)
_OFFERS_TAKEN = (
    "SELECT (taken_at - ?) / 604800 AS week, COUNT(*) AS n FROM save_offers "
    "WHERE taken_at >= ? AND taken_at < ? GROUP BY week"
)
_REFUNDS = (
    "SELECT (c.decided_at - ?) / 604800 AS week, c.status AS status, COUNT(*) AS n, "
    "COALESCE(SUM(i.amount), 0) AS amount FROM cases c JOIN invoices i ON i.id = c.invoice_id "
    "WHERE c.kind = 'refund' AND c.status IN ('approved', 'denied') AND c.decided_at >= ? AND c.decided_at < ? "
    "GROUP BY week, c.status"
)
_QUESTIONS = (
    "SELECT (created_at - ?) / 604800 AS week, intent, language, decision, COUNT(*) AS n FROM question_log "
    "WHERE created_at >= ? AND created_at < ? GROUP BY week, intent, language, decision"
)
# Cancellations one by one: whether a comment came with one is inside the audit record's JSON,
# which the two databases read differently; a few thousand rows a week are cheap to read here.
_CANCELS = (
    "SELECT reason, details, created_at FROM audit_log "
    "WHERE action = 'cancel' AND created_at >= ? AND created_at < ? ORDER BY created_at DESC, id DESC"
)


@dataclass(frozen=True)
class Comment:
    at: datetime
    text: str


@dataclass
class WeekFigures:
    start: datetime  # Monday 00:00 UTC
    cancellations: Counter[str] = field(default_factory=Counter)  # reason → cancellations
    comments: Counter[str] = field(default_factory=Counter)  # reason → of those, with a comment
    offers_shown: int = 0
    offers_taken: int = 0
    resumes: int = 0
    refunds_approved: int = 0
    refunds_denied: int = 0
    refunded_minor: int = 0  # the approved requests' charges
    denied_minor: int = 0  # the denied requests' charges
    topics: Counter[str] = field(default_factory=Counter)  # likeliest question ("none" when not placed)
    languages: Counter[str] = field(default_factory=Counter)  # reply language → messages
    decisions: Counter[str] = field(default_factory=Counter)  # answered, asked, menu, quiet
    topic_languages: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        """The ISO week, e.g. ``2026-W05``."""
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def cancelled(self) -> int:
        return sum(self.cancellations.values())

    @property
    def questions(self) -> int:
        return sum(self.decisions.values())

    @property
    def unplaced(self) -> int:
        return sum(self.decisions[d] for d in UNPLACED)


@dataclass
class Report:
    weeks: list[WeekFigures]
    now: datetime
    currency: str
    latest_comments: dict[str, list[Comment]] = field(default_factory=dict)  # reason → newest first

    @property
    def start(self) -> datetime:
        return self.weeks[0].start

    def total(self, name: str) -> int:
        return sum(getattr(w, name) for w in self.weeks)

    def summed(self, name: str) -> Counter:
        """A per-week counter (``cancellations``, ``topics``…) over the whole range."""
        out: Counter = Counter()
        for w in self.weeks:
            out.update(getattr(w, name))
        return out


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of ``moment``'s ISO week."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def week_starts(now: datetime, weeks: int) -> list[datetime]:
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be 1 to {MAX_WEEKS}, got {weeks}")
    last = week_start(now)
    return [last - WEEK * (weeks - 1 - i) for i in range(weeks)]


async def weekly_report(db: Database, now: datetime, weeks: int, currency: str,
                        latest_comments: int = 0) -> Report:
    """The last ``weeks`` ISO weeks up to ``now``'s; with ``latest_comments``, that many of the newest
    cancellation comments per reason."""
    figures = [WeekFigures(start) for start in week_starts(now, weeks)]
    first = to_ts(figures[0].start)
    window = (first, first, first + WEEK_SECONDS * weeks)
    comments: dict[str, list[Comment]] = defaultdict(list)
    async with db.read() as tx:
        await _count_cancellations(tx, figures, window, comments, latest_comments)
        for sql, name in ((_RESUMES, "resumes"), (_OFFERS_SHOWN, "offers_shown"), (_OFFERS_TAKEN, "offers_taken")):
            for row in await tx.fetchall(sql, *window):
                setattr(figures[int(row["week"])], name, int(row["n"]))
        for row in await tx.fetchall(_REFUNDS, *window):
            week, n, amount = figures[int(row["week"])], int(row["n"]), int(row["amount"])
            if row["status"] == "approved":
                week.refunds_approved, week.refunded_minor = n, amount
            else:
                week.refunds_denied, week.denied_minor = n, amount
        for row in await tx.fetchall(_QUESTIONS, *window):
            week, n = figures[int(row["week"])], int(row["n"])
            week.topics[row["intent"]] += n
            week.languages[row["language"]] += n
            week.decisions[row["decision"]] += n
            week.topic_languages[(row["intent"], row["language"])] += n
    return Report(figures, now, currency, dict(comments))


async def _count_cancellations(tx: Tx, figures: list[WeekFigures], window: tuple[int, int, int],
                               comments: dict[str, list[Comment]], keep: int) -> None:
    first, start, end = window
    for row in await tx.fetchall(_CANCELS, start, end):
        week = figures[(row["created_at"] - first) // WEEK_SECONDS]
        reason = row["reason"] or "other"
        week.cancellations[reason] += 1
        text = (json.loads(row["details"]).get("request") or {}).get("comment")
        if text:
            week.comments[reason] += 1
            if keep and len(comments[reason]) < keep:  # rows come newest first
                comments[reason].append(Comment(from_ts(row["created_at"]), text))
