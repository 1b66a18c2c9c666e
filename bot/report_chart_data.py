"""What the weekly report's chart shows, in a language: titles, legends and week labels.

matplotlib lays text out left to right and does not join Arabic letters, so Persian and
Arabic readers get the chart in English (their text answer stays in their language).
"""

from __future__ import annotations

from babel.dates import format_skeleton

from bot.report_chart import ChartData, Panel, Series
from core.money import Money
from core.report import Report
from flows.answers import TOPICS
from flows.replies import M, Msg
from flows.texts import CANCEL_REASON_LABELS
from locales import RTL, render
from locales.formatting import format_money
from locales.languages import babel_locale

TOP_TOPICS = 8  # the commonest topics; the rest share one bar part

TITLE = M("Cancellations, save offers, refunds and questions per week")
WEEK_AXIS = M("Week (ISO number and its Monday)")
PER_WEEK = M("Number per week")
CANCELLATIONS = M("Cancellations by reason")
SAVES = M("Save offers and resumes")
OFFERS_SHOWN = M("Save offers shown")
OFFERS_TAKEN = M("Save offers taken")
RESUMES = M("Resumes")
REFUNDS = M("Refund requests decided (amount refunded above the bars)")
APPROVED = M("Approved")
DENIED = M("Denied")
QUESTIONS = M("Questions by topic")
OTHER_TOPICS = M("Other topics")
NOT_PLACED = M("Not placed (no topic found)")


def chart_language(lang: str) -> str:
    return "en" if lang in RTL else lang


def chart_data(report: Report, lang: str) -> ChartData:
    lang = chart_language(lang)

    def text(msg: Msg) -> str:
        return render(msg, lang)

    weeks = report.weeks
    # "W05" over "1/26": the ISO week without its year (the subtitle has the dates), then its Monday,
    # short enough for 8 weeks side by side in any of our languages
    ticks = tuple(f"{w.label[5:]}\n{format_skeleton('dM', w.start.date(), locale=babel_locale(lang))}" for w in weeks)
    # The reasons in the cancel flow's order, so each keeps its colour from one report to the next
    found = report.summed("cancellations")
    reasons = [r for r in CANCEL_REASON_LABELS if found[r]] + sorted(set(found) - set(CANCEL_REASON_LABELS))
    cancellations = Panel(text(CANCELLATIONS), text(PER_WEEK), tuple(
        Series(text(CANCEL_REASON_LABELS[r]) if r in CANCEL_REASON_LABELS else r,
               tuple(w.cancellations[r] for w in weeks)) for r in reasons), stacked=True)
    saves = Panel(text(SAVES), text(PER_WEEK), (
        Series(text(OFFERS_SHOWN), tuple(w.offers_shown for w in weeks)),
        Series(text(OFFERS_TAKEN), tuple(w.offers_taken for w in weeks)),
        Series(text(RESUMES), tuple(w.resumes for w in weeks)),
    ), stacked=False)
    refunded = tuple(format_money(Money(report.currency, w.refunded_minor), lang) if w.refunded_minor else ""
                     for w in weeks)
    refunds = Panel(text(REFUNDS), text(PER_WEEK), (
        Series(text(APPROVED), tuple(w.refunds_approved for w in weeks)),
        Series(text(DENIED), tuple(w.refunds_denied for w in weeks)),
    ), stacked=False, notes=refunded)
    start, end = weeks[0].start.date(), report.now.date()
    return ChartData(
        title=text(TITLE),
        subtitle=text(M("{start} to {end}; weeks start on Monday, UTC", start=start, end=end)),
        xlabel=text(WEEK_AXIS),
        weeks=ticks,
        panels=(cancellations, saves, refunds, _questions(report, text)),
    )


def _questions(report: Report, text) -> Panel:
    weeks = report.weeks
    ranked = [t for t, _ in report.summed("topics").most_common() if t != "none"]
    top, rest = ranked[:TOP_TOPICS], ranked[TOP_TOPICS:]
    series = [Series(text(TOPICS[t]) if t in TOPICS else t, tuple(w.topics[t] for w in weeks)) for t in top]
    if rest:
        series.append(Series(text(OTHER_TOPICS), tuple(sum(w.topics[t] for t in rest) for w in weeks)))
    series.append(Series(text(NOT_PLACED), tuple(w.unplaced for w in weeks), rest=True))
    return Panel(text(QUESTIONS), text(PER_WEEK), tuple(series), stacked=True)
