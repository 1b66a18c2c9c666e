"""Catalogs: complete, no fuzzy or empty entries, placeholders intact, plurals right, .mo current."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from locales import SUPPORTED
from locales.catalog import (
    catalog_problems,
    check_catalogs,
    mo_matches_po,
    plural_forms,
    po_path,
    pot_path,
    read_catalog,
)
from locales.update import extract


def _ids(catalog: Catalog) -> set:
    return {m.id for m in catalog if m.id}


def test_every_language_has_a_catalog() -> None:
    for lang in SUPPORTED:
        assert po_path(lang).exists(), lang
    assert po_path("pt").parent.parent.name == "pt_BR"


def test_catalogs_are_complete_and_sound() -> None:
    assert check_catalogs() == []


def test_the_template_lists_every_message_in_the_code(tmp_path: Path) -> None:
    # Someone added M("...") in a flow but did not run `python -m locales.update`?
    fresh = read_catalog(extract(tmp_path / "fresh.pot"))
    committed = read_catalog(pot_path())
    assert _ids(fresh) - _ids(committed) == set(), "run: python -m locales.update"


@pytest.mark.parametrize("lang", SUPPORTED)
def test_committed_mo_matches_its_po(lang: str) -> None:
    assert mo_matches_po(lang), f"{lang}: run python -m locales.update (pybabel compile)"


@pytest.mark.parametrize(
    ("lang", "forms"), [("en", 2), ("fa", 1), ("tr", 1), ("ru", 3), ("ar", 6), ("pt", 2)]
)
def test_plural_forms_per_language(lang: str, forms: int) -> None:
    assert plural_forms(lang) == forms


# The checker itself, on catalogs made to be wrong: each fault must be reported.


def _template() -> Catalog:
    template = Catalog()
    template.add("You keep access until {date}.")
    template.add(("{n} credit", "{n} credits"))
    return template


def _catalog(lang: str, entries: dict, fuzzy: set = frozenset()) -> Catalog:
    catalog = Catalog(locale={"pt": "pt_BR"}.get(lang, lang))
    catalog.fuzzy = False
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr, flags=("fuzzy",) if msgid in fuzzy else ())
    return catalog


GOOD_RU = {
    "You keep access until {date}.": "Доступ сохранится до {date}.",
    ("{n} credit", "{n} credits"): ("{n} кредит", "{n} кредита", "{n} кредитов"),
}


def test_a_sound_catalog_has_no_problems() -> None:
    assert catalog_problems(_template(), _catalog("ru", GOOD_RU), "ru") == []


def test_a_missing_message_is_reported() -> None:
    entries = dict(GOOD_RU)
    del entries["You keep access until {date}."]
    assert any("missing" in p for p in catalog_problems(_template(), _catalog("ru", entries), "ru"))


def test_a_fuzzy_message_is_reported() -> None:
    catalog = _catalog("ru", GOOD_RU, fuzzy={"You keep access until {date}."})
    assert any("fuzzy" in p for p in catalog_problems(_template(), catalog, "ru"))


def test_a_fuzzy_header_is_reported() -> None:
    catalog = _catalog("ru", GOOD_RU)
    catalog.fuzzy = True
    assert any("header" in p for p in catalog_problems(_template(), catalog, "ru"))


def test_an_empty_message_is_reported() -> None:
    entries = dict(GOOD_RU, **{"You keep access until {date}.": ""})
    assert any(
        "untranslated" in p for p in catalog_problems(_template(), _catalog("ru", entries), "ru")
    )


@pytest.mark.parametrize(
    "bad", ["Доступ сохранится до {data}.", "Доступ сохранится.", "До {date} и {plan}."]
)
def test_a_changed_placeholder_is_reported(bad: str) -> None:
    entries = dict(GOOD_RU, **{"You keep access until {date}.": bad})
    assert any(
        "placeholders" in p for p in catalog_problems(_template(), _catalog("ru", entries), "ru")
    )


def test_a_plural_may_drop_n_but_never_invent_a_name() -> None:
    ok = dict(GOOD_RU)
    ok[("{n} credit", "{n} credits")] = ("один кредит", "{n} кредита", "{n} кредитов")
    assert catalog_problems(_template(), _catalog("ru", ok), "ru") == []
    bad = dict(GOOD_RU)
    bad[("{n} credit", "{n} credits")] = ("{count} кредит", "{n} кредита", "{n} кредитов")
    assert any(
        "placeholders" in p for p in catalog_problems(_template(), _catalog("ru", bad), "ru")
    )


def test_a_wrong_number_of_plural_forms_is_reported() -> None:
    entries = dict(GOOD_RU)
    entries[("{n} credit", "{n} credits")] = ("{n} кредит", "{n} кредитов")
    assert any(
        "plural forms" in p for p in catalog_problems(_template(), _catalog("ru", entries), "ru")
    )


def test_extraction_finds_M_and_MP_messages(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "cancel.py").write_text(
        "from flows.replies import M, MP\n"
        "A = M('You keep access until {date}.', date=None)\n"
        "B = MP('{n} credit left', '{n} credits left', 3)\n"
        "C = str('not a message')\n",
        encoding="utf-8",
    )
    template = read_catalog(extract(tmp_path / "t.pot", root=tmp_path))
    assert _ids(template) == {
        "You keep access until {date}.",
        ("{n} credit left", "{n} credits left"),
    }
