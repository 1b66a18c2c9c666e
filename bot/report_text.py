"""The weekly report as text for a moderator, in their language (``/admin report``).

One line per week, then the totals of the whole range: cancellations by reason with how many
left a comment, save offers, resumes, refunds, and questions by decision, by topic (with the
languages each was asked in) and by language. The latest comments come separately
(``comment_lines``): user text, shown plain, bounded, newest first.
"""

from __future__ import annotations

from babel import Locale

from bot.moderation import plain
from core.money import Money
from core.report import Report
from flows.answers import TOPICS
from flows.replies import MP, M, Msg
from flows.texts import CANCEL_REASON_LABELS
from locales import RTL, render
from locales.formatting import format_number
from locales.languages import babel_locale

COMMENT_MAX = 150  # characters of one comment shown
LANGUAGES_PER_TOPIC = 3
NOT_PLACED = M("Not placed")


def _language_name(code: str, lang: str) -> str:
    try:
        return Locale.parse(babel_locale(code)).get_display_name(babel_locale(lang)) or code
    except KeyError:  # a code the records hold that we no longer answer in
        return code


def _reason(reason: str) -> Msg | str:
    return CANCEL_REASON_LABELS.get(reason, reason)


def _topic(intent: str) -> Msg | str:
    return NOT_PLACED if intent == "none" else TOPICS.get(intent, intent)


def report_lines(report: Report, lang: str) -> list[str]:
    """The report in ``lang``, one string per line (chunk them for Discord's 2,000 characters)."""
    weeks, money = report.weeks, (lambda minor: Money(report.currency, minor))
    lines: list[Msg] = [MP(
        "Report for the last {n} week, {start} to {end} (weeks start on Monday, UTC):",
        "Report for the last {n} weeks, {start} to {end} (weeks start on Monday, UTC):",
        len(weeks), start=weeks[0].start.date(), end=report.now.date())]
    for w in weeks:
        lines.append(M(
            "{week} ({date}): cancellations {cancelled}, resumes {resumed}, save offers taken {taken} of {shown}, "
            "refunds approved {approved} and denied {denied}, questions {questions} (not placed {unplaced})",
            week=w.label, date=w.start.date(), cancelled=w.cancelled, resumed=w.resumes, taken=w.offers_taken,
            shown=w.offers_shown, approved=w.refunds_approved, denied=w.refunds_denied, questions=w.questions,
            unplaced=w.unplaced))
    cancellations, comments = report.summed("cancellations"), report.summed("comments")
    lines.append(M("Cancellations by reason: {n}", n=sum(cancellations.values())))
    lines += [M("{reason}: {n}, with a comment: {comments}", reason=_reason(r), n=n, comments=comments[r])
              for r, n in cancellations.most_common()]
    lines += [
        M("Save offers: shown {shown}, taken {taken}", shown=report.total("offers_shown"),
          taken=report.total("offers_taken")),
        M("Resumes: {n}", n=report.total("resumes")),
        M("Refunds: approved {approved} ({amount}), denied {denied} ({denied_amount} asked)",
          approved=report.total("refunds_approved"), amount=money(report.total("refunded_minor")),
          denied=report.total("refunds_denied"), denied_amount=money(report.total("denied_minor"))),
    ]
    decisions = report.summed("decisions")
    lines.append(M("Questions: {n}; answered {answered}, asked which topic {asked}, not placed {unplaced} "
                   "(menu or greeting {menu}, no reply {quiet})",
                   n=sum(decisions.values()), answered=decisions["answered"], asked=decisions["asked"],
                   unplaced=decisions["menu"] + decisions["quiet"], menu=decisions["menu"], quiet=decisions["quiet"]))
    lines += _topic_lines(report, lang)
    languages = report.summed("languages")
    if languages:
        lines.append(M("By language: {languages}", languages=_joined(
            ((_language_name(code, lang), n) for code, n in languages.most_common()), lang)))
    return [render(line, lang) for line in lines]


def _topic_lines(report: Report, lang: str) -> list[Msg]:
    """Each topic with its count and the languages it was asked in most."""
    by_language = report.summed("topic_languages")
    lines: list[Msg] = []
    for intent, n in report.summed("topics").most_common():
        asked_in = sorted(((code, k) for (topic, code), k in by_language.items() if topic == intent),
                          key=lambda pair: -pair[1])[:LANGUAGES_PER_TOPIC]
        languages = _joined(((_language_name(code, lang), k) for code, k in asked_in), lang)
        lines.append(M("{topic}: {n} ({languages})", topic=_topic(intent), n=n, languages=languages))
    return lines


def _joined(pairs, lang: str) -> str:
    """``English 12, Persian 3``: names and counts, in the language's list style."""
    separator = "، " if lang in RTL else ", "
    return separator.join(f"{name} {format_number(n, lang)}" for name, n in pairs)


def comment_lines(report: Report, lang: str) -> list[str]:
    """The latest comments per reason, newest first; empty when there are none."""
    if not any(report.latest_comments.values()):
        return []
    lines: list[Msg] = [M("Latest cancellation comments, newest first:")]
    for reason, comments in report.latest_comments.items():
        lines.append(M("{reason}:", reason=_reason(reason)))
        lines += [M("{date}: {comment}", date=c.at.date(), comment=plain(c.text, COMMENT_MAX)) for c in comments]
    return [render(line, lang) for line in lines]
