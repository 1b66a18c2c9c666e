"""Core refusals in plain words; the labels and names the flows rely on; stored screens round-trip."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import CODES, CoreError
from core.money import Money
from core.plans import load_catalog
from core.service import CANCEL_REASONS
from flows.errors import MESSAGES, describe, way_out
from flows.replies import MP, Button, Field, Form, M, Option, Reply, Select
from flows.reply_codec import reply_from_json, reply_to_json
from flows.texts import CANCEL_REASON_LABELS, SHIPPED_PLAN_NAMES
from locales import render

CATALOG = load_catalog()
AT = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
DETAILS = {"access_until": AT, "next_billing_at": AT, "plan": "pro", "effective_at": AT, "available": 12,
           "ended_at": AT, "case": "c1", "key": "k", "limit": 1000}


@pytest.mark.parametrize("code", CODES)
def test_every_core_code_has_its_own_message(code) -> None:
    assert code in MESSAGES
    for details in ({}, DETAILS):
        said = render(describe(CoreError(code, "internal wording", **details), CATALOG), "en")
        assert said and "{" not in said and "internal wording" not in said


def test_details_are_used_when_the_core_gives_them() -> None:
    err = CoreError("change_pending", "x", plan="pro", effective_at=AT)
    assert "An upgrade to Pro is scheduled for March 1, 2026" in render(describe(err, CATALOG), "en")
    assert render(describe(CoreError("something_new", "x"), CATALOG), "en").startswith("Something went wrong")


def test_refusals_point_the_way_out() -> None:
    assert [b.action for b in way_out(CoreError("already_cancelled", ""))] == ["start:resume"]
    assert [b.action for b in way_out(CoreError("resume_first", ""))] == ["start:resume"]
    assert [b.action for b in way_out(CoreError("change_pending", ""))] == ["start:scheduled_change"]
    assert [b.action for b in way_out(CoreError("already_ended", ""))] == ["start:plan"]
    assert [b.action for b in way_out(CoreError("payment_declined", ""))] == []


def test_every_cancel_reason_has_a_label_in_the_core_order() -> None:
    assert tuple(CANCEL_REASON_LABELS) == CANCEL_REASONS


def test_the_shipped_plan_names_are_in_the_catalogs() -> None:
    assert {p.name for p in CATALOG.plans.values()} <= {m.msgid for m in SHIPPED_PLAN_NAMES}


def test_a_stored_screen_comes_back_the_same() -> None:
    reply = Reply(
        lines=(M("Until {date}, {amount}, {plan}, {day}", date=AT, amount=Money("USD", 1999), plan=M("Plus"),
                 day=AT.date()), MP("{n} credit", "{n} credits", 3)),
        buttons=(Button(M("Go"), "go", "primary"),),
        select=Select(M("Pick"), "pick", (Option(M("A"), "a", M("first")), Option(M("B"), "b"))),
        form=Form(M("Tell us"), "tell", (Field("text", M("Text"), 1000, required=False, placeholder=M("…")),)),
        final=True, receipt=True,
    )
    assert reply_from_json(reply_to_json(reply)) == reply
