"""Rendering Msg values: catalogs, plurals, dates, money, numbers, Persian, bidi, context."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from core.money import Money
from flows.replies import MP, M
from locales import Catalogs, bind_language, current_language, render
from locales.bidi import FSI, PDI, RLM
from locales.formatting import format_money, format_number, jalali_date, persian_digits

UTC = dt.UTC
KEEP = "You keep access until {date}."
PLAN = "Your plan: {plan}, {amount} a month."
CREDITS = ("{n} credit left", "{n} credits left")


def _compile(root: Path, lang_dir: str, locale: str, entries: dict) -> None:
    catalog = Catalog(locale=locale)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    target = root / lang_dir / "LC_MESSAGES"
    target.mkdir(parents=True)
    with open(target / "messages.mo", "wb") as f:
        write_mo(f, catalog)


@pytest.fixture()
def catalogs(tmp_path: Path) -> Catalogs:
    _compile(
        tmp_path,
        "fa",
        "fa",
        {
            KEEP: "تا {date} دسترسی دارید.",
            PLAN: "پلن شما: {plan}، ماهی {amount}.",
            CREDITS: ("{n} کردیت مانده",),
            "Plus": "Plus",
        },
    )
    _compile(
        tmp_path,
        "ru",
        "ru",
        {
            CREDITS: ("Остался {n} кредит", "Осталось {n} кредита", "Осталось {n} кредитов"),
        },
    )
    _compile(tmp_path, "de", "de", {KEEP: "Du hast Zugang bis {datum}."})  # broken placeholder
    _compile(tmp_path, "pt_BR", "pt_BR", {KEEP: "Você mantém o acesso até {date}."})
    return Catalogs(tmp_path)


def test_jalali_date_key_fact() -> None:
    assert jalali_date(dt.date(2026, 11, 21)) == "۳۰ آبان ۱۴۰۵"
    assert jalali_date(dt.date(2026, 3, 25)) == "۵ فروردین ۱۴۰۵"  # no leading zero


def test_persian_reply_uses_the_solar_hijri_calendar(catalogs: Catalogs) -> None:
    text = catalogs.render(M(KEEP, date=dt.date(2026, 11, 21)), "fa")
    assert text == f"{RLM}تا ۳۰ آبان ۱۴۰۵ دسترسی دارید."


def test_persian_time_is_persian_digits_and_utc(catalogs: Catalogs) -> None:
    moment = dt.datetime(2026, 11, 21, 14, 5, tzinfo=UTC)
    text = catalogs.render(M(KEEP, date=moment), "fa")
    assert "۳۰ آبان ۱۴۰۵، ساعت ۱۴:۰۵ (UTC)" in text
    # An aware time in another zone is shown in UTC (22:30 in Tehran is 19:00 UTC).
    tehran = dt.timezone(dt.timedelta(hours=3, minutes=30))
    assert "۱۹:۰۰" in catalogs.render(
        M(KEEP, date=dt.datetime(2026, 11, 21, 22, 30, tzinfo=tehran)), "fa"
    )


def test_latin_plan_name_and_amount_are_isolated_in_persian(catalogs: Catalogs) -> None:
    text = catalogs.render(M(PLAN, plan=M("Plus"), amount=Money("USD", 1999)), "fa")
    assert text.startswith(RLM)
    assert f"{FSI}Plus{PDI}" in text
    assert f"{FSI}\u200e$\xa0۱۹٫۹۹{PDI}" in text


def test_arabic_isolates_user_text_and_starts_right_to_left() -> None:
    text = render(M("Your comment: {comment}", comment="hello\u202e evil"), "ar")
    assert text.startswith(RLM)
    assert f"{FSI}hello evil{PDI}" in text  # the override character is gone


def test_every_line_of_a_right_to_left_reply_starts_with_rlm() -> None:
    text = render(M("Plan {plan}\nCredits {n}", plan="Pro", n=12000), "fa")
    assert all(line.startswith(RLM) for line in text.split("\n"))
    assert f"{FSI}Pro{PDI}" in text and "Credits ۱۲٬۰۰۰" in text


def test_missing_translation_falls_back_to_english(catalogs: Catalogs) -> None:
    assert catalogs.render(M("Nothing to cancel."), "fa") == f"{RLM}Nothing to cancel."
    assert (
        catalogs.render(M(KEEP, date=dt.date(2026, 11, 21)), "es")
        == "You keep access until 21 de noviembre de 2026."
    )


def test_broken_placeholder_in_a_translation_falls_back_to_english(catalogs: Catalogs) -> None:
    assert (
        catalogs.render(M(KEEP, date=dt.date(2026, 11, 21)), "de")
        == "You keep access until 21. November 2026."
    )


def test_pt_uses_the_pt_BR_catalog(catalogs: Catalogs) -> None:
    assert (
        catalogs.render(M(KEEP, date=dt.date(2026, 11, 21)), "pt")
        == "Você mantém o acesso até 21 de novembro de 2026."
    )


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "Остался 1 кредит"),
        (3, "Осталось 3 кредита"),
        (5, "Осталось 5 кредитов"),
        (21, "Остался 21 кредит"),
        (12, "Осталось 12 кредитов"),
        (1500, "Осталось 1\xa0500 кредитов"),
    ],
)
def test_russian_plural_forms(catalogs: Catalogs, n: int, expected: str) -> None:
    assert catalogs.render(MP(*CREDITS, n), "ru") == expected


def test_english_plural_without_a_catalog() -> None:
    assert render(MP(*CREDITS, 1), "en") == "1 credit left"
    assert render(MP(*CREDITS, 4000), "en") == "4,000 credits left"


def test_nested_message_is_rendered_in_the_same_language(catalogs: Catalogs) -> None:
    text = catalogs.render(M(KEEP, date=M("{n} credits left", n=3)), "fa")
    assert "۳" in text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "$19.99"),
        ("de", "19,99\xa0$"),
        ("fr", "19,99\xa0$US"),
        ("pt", "US$\xa019,99"),
        ("ru", "19,99\xa0$"),
        ("tr", "$19,99"),
        ("es", "19,99\xa0US$"),
        ("fa", "\u200e$\xa0۱۹٫۹۹"),
    ],
)
def test_money_comes_from_babel(lang: str, expected: str) -> None:
    assert format_money(Money("USD", 1999), lang) == expected


def test_money_is_exact_not_float() -> None:
    # 0.1 + 0.2 style errors would show here; three-decimal currencies keep all digits.
    assert format_money(Money("KWD", 1), "en") == "KWD0.001"
    assert format_money(Money("USD", 10_000_000_001), "en") == "$100,000,000.01"
    assert format_money(Money("JPY", 1500), "de") == "1.500\xa0¥"


def test_numbers() -> None:
    assert format_number(12000, "en") == "12,000"
    assert format_number(12000, "de") == "12.000"
    assert format_number(Decimal("1500.5"), "fa") == "۱٬۵۰۰٫۵"
    assert persian_digits("2026") == "۲۰۲۶"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "November 21, 2026, 2:05\u202fPM UTC"),
        ("de", "21. November 2026, 14:05 UTC"),
        ("ru", "21 ноября 2026\u202fг., 14:05 UTC"),
    ],
)
def test_date_times_state_utc(lang: str, expected: str) -> None:
    assert render(M("{t}", t=dt.datetime(2026, 11, 21, 14, 5, tzinfo=UTC)), lang) == expected


def test_bound_language_is_per_task() -> None:
    async def answer(lang: str) -> tuple[str, str]:
        bind_language(lang)
        await asyncio.sleep(0)
        return current_language(), render(M("{n}", n=1000))

    async def main():
        return await asyncio.gather(answer("fa"), answer("de"), answer("en"))

    assert asyncio.run(main()) == [("fa", f"{RLM}۱٬۰۰۰"), ("de", "1.000"), ("en", "1,000")]
    assert current_language() == "en"


def test_bind_language_refuses_what_we_do_not_speak() -> None:
    with pytest.raises(ValueError):
        bind_language("ja")
    token = bind_language("pt-BR")
    assert current_language() == "pt"
    from locales.render import _language

    _language.reset(token)


def test_the_free_plan_is_isolated_in_persian_like_every_plan_name() -> None:
    from core.errors import CoreError
    from core.plans import load_catalog
    from flows.errors import describe
    from flows.texts import free_plan_name, plan_name

    catalog = load_catalog()
    on_free = render(describe(CoreError("no_subscription", "on Free"), catalog), "fa")
    on_plus = render(M("Plan: {plan}.", plan=plan_name(catalog.plan("plus"))), "fa")
    assert f"{FSI}Plus{PDI}" in on_plus
    assert f"{FSI}Free{PDI}" in on_free and "Free" not in on_free.replace(f"{FSI}Free{PDI}", "")
    assert render(free_plan_name(catalog), "en") == "Free"


def test_no_message_types_a_plan_name_into_its_text() -> None:
    """Plan names are arguments ({plan}, {free}): only then are they isolated in right-to-left
    replies, and a renamed plan (PLANS_FILE) shows its own name."""
    import ast
    import re

    root = Path(__file__).resolve().parent.parent
    named = re.compile(r"\b(Free|Basic|Plus|Pro) plan\b")
    found = []
    for path in [*root.glob("flows/*.py"), *root.glob("bot/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("M", "MP") and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and named.search(node.args[0].value)):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []
