"""The weekly report against the core's own records, for a scripted month on both backends.

A month of simulated time (2026-01-01, a Thursday, to Sunday 2026-02-01) is played through
the core's public API and the cancel flow as users play it: cancellations with and without
comments, a save offer taken and one declined, resumes, a refund approved and one denied, and
chat questions. The CSV's numbers must be those, week by week, and agree with what the core
itself holds (its audit trail and its cases).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from bot.report_csv import report_csv
from bot.report_table import report_table
from core.question_log import record_question
from core.report import week_start, weekly_report
from tests.conftest import DAY, new_account
from tests.flow_helpers import World

WEEKS = ("2025-W52", "2026-W01", "2026-W02", "2026-W03", "2026-W04", "2026-W05")
NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)


async def _cancel_in_flow(world: World, reason: str, *, take_offer: bool) -> None:
    screen = await world.choose(await world.start("cancel"), reason)
    screen = await world.press(screen, "skip")
    assert screen.step == "offer"
    if take_offer:
        screen = await world.press(await world.press(screen, "take"), "confirm")
        assert screen.step == "switched"
    else:
        screen = await world.press(await world.press(screen, "continue"), "confirm")
        assert screen.step == "done"


async def _questions(core, *entries: tuple[str, str, str, int]) -> None:
    for intent, language, decision, n in entries:
        for _ in range(n):
            await record_question(core.db, intent=intent, language=language, decision=decision, at=core.clock.now())


async def _refund(core, key, account, approve: bool) -> None:
    [charge] = await core.invoices(account.account_id)
    case = await core.cases.open_refund(account.account_id, charge.id, "charged_by_mistake", None, key=key("refund"))
    await core.cases.decide(case.id, approve, key=key("decide"), actor="moderator:1", reason="checked")


async def _play_the_month(core, key) -> dict[str, object]:
    clock = core.clock
    # 2026-W01 (Thursday 1 to Sunday 4 January)
    a = await new_account(core, key, "a", plan="plus")
    b = await new_account(core, key, "b", plan="pro")
    await core.cancel(a.account_id, "too_expensive", "Too pricey for me", key=key("cancel"))
    offered = await World.open(core, key, plan="plus", topup=None, owner="1001")
    await _cancel_in_flow(offered, "not_using", take_offer=True)  # offer shown and taken: no cancellation
    await _questions(core, ("cancel", "en", "answered", 3), ("topup", "fa", "asked", 1), ("none", "en", "quiet", 2))
    # 2026-W02
    clock.set(datetime(2026, 1, 6, 10, tzinfo=UTC))
    await core.resume(a.account_id, key=key("resume"))
    await core.cancel(b.account_id, "not_using", None, key=key("cancel"))
    basic = await World.open(core, key, plan="basic", topup=None, owner="1002")  # the cheapest plan: no offer
    screen = await basic.choose(await basic.start("cancel"), "missing_features")
    screen = await basic.submit(screen, comment="Needs an API")
    assert screen.step == "confirm"
    await basic.press(screen, "confirm")
    c = await new_account(core, key, "c", plan="plus")
    await _refund(core, key, c, approve=True)
    await _questions(core, ("refund", "de", "answered", 2), ("cancel", "fa", "answered", 1), ("none", "fa", "menu", 1))
    # 2026-W03
    clock.set(datetime(2026, 1, 14, 9, tzinfo=UTC))
    d = await new_account(core, key, "d", plan="pro")
    await _refund(core, key, d, approve=False)
    declined = await World.open(core, key, plan="pro", topup=None, owner="1003")
    await _cancel_in_flow(declined, "switching_service", take_offer=False)
    # 2026-W04: nothing at all. 2026-W05, the week of now:
    clock.set(datetime(2026, 1, 30, 18, tzinfo=UTC))
    await core.cancel(a.account_id, "other", "Moving abroad", key=key("cancel"))
    await _questions(core, ("status", "es", "answered", 2), ("none", "ru", "quiet", 1))
    clock.set(NOW)
    return {"accounts": [a, b, c, d], "worlds": [offered, basic, declined]}


def _csv_rows(text: str) -> dict[str, dict[str, str]]:
    return {row["week"]: row for row in csv.DictReader(io.StringIO(text))}


def _column(rows: dict[str, dict[str, str]], name: str) -> list[int]:
    return [int(rows[w][name]) for w in WEEKS]


async def test_the_csv_counts_a_scripted_month_as_the_core_recorded_it(core, key) -> None:
    played = await _play_the_month(core, key)
    report = await weekly_report(core.db, core.clock.now(), 6, core.catalog.currency)
    rows = _csv_rows(report_csv(report))

    assert list(rows) == list(WEEKS)
    assert [rows[w]["week_start"] for w in WEEKS] == [
        "2025-12-22", "2025-12-29", "2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    assert {rows[w]["currency"] for w in WEEKS} == {"USD"}
    assert _column(rows, "cancellations") == [0, 1, 2, 1, 0, 1]
    assert _column(rows, "cancel_too_expensive") == [0, 1, 0, 0, 0, 0]
    assert _column(rows, "cancel_not_using") == [0, 0, 1, 0, 0, 0]  # the taken offer is not a cancellation
    assert _column(rows, "cancel_missing_features") == [0, 0, 1, 0, 0, 0]
    assert _column(rows, "cancel_switching_service") == [0, 0, 0, 1, 0, 0]
    assert _column(rows, "cancel_other") == [0, 0, 0, 0, 0, 1]
    assert _column(rows, "comments") == [0, 1, 1, 0, 0, 1]
    assert _column(rows, "save_offers_shown") == [0, 1, 0, 1, 0, 0]
    assert _column(rows, "save_offers_taken") == [0, 1, 0, 0, 0, 0]
    assert _column(rows, "resumes") == [0, 0, 1, 0, 0, 0]
    assert _column(rows, "refunds_approved") == [0, 0, 1, 0, 0, 0]
    assert _column(rows, "refunds_denied") == [0, 0, 0, 1, 0, 0]
    assert _column(rows, "refunded_minor") == [0, 0, 1999, 0, 0, 0]
    assert _column(rows, "refund_denied_minor") == [0, 0, 0, 4999, 0, 0]
    assert _column(rows, "questions") == [0, 6, 4, 0, 0, 3]
    assert _column(rows, "answered") == [0, 3, 3, 0, 0, 2]
    assert _column(rows, "asked") == [0, 1, 0, 0, 0, 0]
    assert _column(rows, "menu") == [0, 0, 1, 0, 0, 0]
    assert _column(rows, "quiet") == [0, 2, 0, 0, 0, 1]
    assert _column(rows, "unplaced") == [0, 2, 1, 0, 0, 1]
    assert _column(rows, "topic_cancel") == [0, 3, 1, 0, 0, 0]
    assert _column(rows, "topic_topup") == [0, 1, 0, 0, 0, 0]
    assert _column(rows, "topic_refund") == [0, 0, 2, 0, 0, 0]
    assert _column(rows, "topic_status") == [0, 0, 0, 0, 0, 2]
    assert _column(rows, "lang_en") == [0, 5, 0, 0, 0, 0]
    assert _column(rows, "lang_fa") == [0, 1, 2, 0, 0, 0]
    assert _column(rows, "lang_de") == [0, 0, 2, 0, 0, 0]
    assert _column(rows, "lang_es") == [0, 0, 0, 0, 0, 2]
    assert _column(rows, "lang_ru") == [0, 0, 0, 0, 0, 1]

    # The same totals as the core's own records.
    trails = []
    for account_id in [a.account_id for a in played["accounts"]] + [w.account_id for w in played["worlds"]]:
        trails += await core.audit_trail(account_id, limit=200)
    assert sum(_column(rows, "cancellations")) == [t["action"] for t in trails].count("cancel")
    assert sum(_column(rows, "resumes")) == [t["action"] for t in trails].count("resume")
    assert sum(_column(rows, "refunds_approved")) == len(await core.cases.list("approved"))
    assert sum(_column(rows, "refunds_denied")) == len(await core.cases.list("denied"))
    assert (await core.snapshot(played["worlds"][0].account_id)).plan == "basic"  # the offer, taken, took effect
    # Free text never reaches the CSV, only its count.
    assert "pricey" not in report_csv(report) and "abroad" not in report_csv(report)


async def test_moderators_get_the_latest_comments_per_reason_newest_first(core, key) -> None:
    account = await new_account(core, key, "a", plan="plus")
    for comment in ("first", None, "second", "third", "fourth"):
        await core.cancel(account.account_id, "too_expensive", comment, key=key("cancel"))
        core.clock.advance(DAY)
        await core.resume(account.account_id, key=key("resume"))
    report = await weekly_report(core.db, core.clock.now(), 2, "USD", latest_comments=3)
    assert [c.text for c in report.latest_comments["too_expensive"]] == ["fourth", "third", "second"]
    assert report.summed("comments")["too_expensive"] == 4 and report.summed("cancellations")["too_expensive"] == 5
    assert (await weekly_report(core.db, core.clock.now(), 2, "USD")).latest_comments == {}


async def test_weeks_are_iso_weeks_in_utc_ending_with_the_week_of_now(core) -> None:
    assert week_start(datetime(2026, 1, 1, 12, tzinfo=UTC)) == datetime(2025, 12, 29, tzinfo=UTC)
    assert week_start(datetime(2026, 2, 2, 0, tzinfo=UTC)) == datetime(2026, 2, 2, tzinfo=UTC)
    report = await weekly_report(core.db, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=1), 3, "USD")
    assert [w.label for w in report.weeks] == ["2025-W51", "2025-W52", "2026-W01"]
    assert all(w.questions == w.cancelled == 0 for w in report.weeks)


async def test_the_operators_table_has_a_column_per_week_and_amounts_in_dollars(core, key) -> None:
    await _play_the_month(core, key)
    table = report_table(await weekly_report(core.db, core.clock.now(), 6, "USD"))
    lines = table.splitlines()
    assert all(w in lines[2] for w in WEEKS)
    [refunded] = [line for line in lines if line.startswith("Refunded (USD)")]
    assert refunded.split()[2:] == ["0.00", "0.00", "19.99", "0.00", "0.00", "0.00"]
    [reason] = [line for line in lines if line.strip().startswith("Too expensive")]
    assert reason.split()[2:] == ["0", "1", "0", "0", "0", "0"]
