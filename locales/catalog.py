"""Catalog files and their checks, shared by tests and ``python -m locales.update``.

Layout: ``locales/messages.pot`` (extracted from the code) and, per language,
``locales/<dir>/LC_MESSAGES/messages.po`` and its compiled ``messages.mo``.
The .mo files are committed, so a checkout runs without a compile step; a test
makes sure each one matches its .po.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo, write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from .languages import SUPPORTED, babel_locale, catalog_dir
from .render import DOMAIN, LOCALES_DIR, placeholders


def pot_path(root: Path = LOCALES_DIR) -> Path:
    return Path(root) / f"{DOMAIN}.pot"


def po_path(lang: str, root: Path = LOCALES_DIR) -> Path:
    return Path(root) / catalog_dir(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str, root: Path = LOCALES_DIR) -> Path:
    return po_path(lang, root).with_suffix(".mo")


def read_catalog(path: Path, lang: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=babel_locale(lang) if lang else None)


def plural_forms(lang: str) -> int:
    """How many plural forms gettext uses for ``lang`` (fa, tr: 1; ru: 3; ar: 6)."""
    return get_plural(babel_locale(lang)).num_plurals


def _key(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _texts(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def catalog_problems(template: Catalog, catalog: Catalog, lang: str) -> list[str]:
    """Everything that would make a reply fall back to English or break.

    A msgid of the template that the catalog lacks; a fuzzy or empty entry; a
    translation whose {placeholders} differ from its msgid's; a plural entry
    without exactly the language's number of forms.
    """
    problems: list[str] = []
    expected_forms = plural_forms(lang)
    if catalog.fuzzy:
        problems.append(
            f"{lang}: the catalog header is marked fuzzy (pybabel compile skips such a catalog)"
        )
    if catalog.num_plurals != expected_forms:
        problems.append(
            f"{lang}: header has {catalog.num_plurals} plural forms, {Locale.parse(babel_locale(lang))} has {expected_forms}"
        )
    for wanted in template:
        if not wanted.id:
            continue  # the header
        message = catalog.get(wanted.id, wanted.context)
        name = repr(_key(wanted))
        if message is None:
            problems.append(f"{lang}: missing {name}")
            continue
        if message.fuzzy:
            problems.append(f"{lang}: fuzzy {name}")
        strings = _texts(message.string)
        if not all(s.strip() for s in strings):
            problems.append(f"{lang}: untranslated {name}")
            continue
        sources = _texts(message.id)
        if isinstance(message.id, (tuple, list)) and len(strings) != expected_forms:
            problems.append(
                f"{lang}: {name} has {len(strings)} plural forms, needs {expected_forms}"
            )
        allowed = set().union(*(placeholders(s) for s in sources))
        for s in strings:
            # A plural form may leave out {n} ("one credit"), never add a name.
            used = placeholders(s)
            if used - allowed or (len(sources) == 1 and used != allowed):
                problems.append(
                    f"{lang}: {name} placeholders {sorted(used)} differ from {sorted(allowed)}"
                )
    return problems


def check_catalogs(root: Path = LOCALES_DIR) -> list[str]:
    """Problems in every language's .po against the .pot (empty list: all good)."""
    template = read_catalog(pot_path(root))
    problems: list[str] = []
    for lang in SUPPORTED:
        path = po_path(lang, root)
        if not path.exists():
            problems.append(f"{lang}: no catalog at {path}")
            continue
        problems += catalog_problems(template, read_catalog(path, lang), lang)
    return problems


def compiled(catalog: Catalog) -> dict[object, object]:
    """What a .mo made from ``catalog`` holds: msgid (or plural tuple) -> translation."""
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return {_hashable(m.id): _hashable(m.string) for m in read_mo(buffer) if m.id}


def mo_matches_po(lang: str, root: Path = LOCALES_DIR) -> bool:
    """The committed .mo says exactly what its .po says (someone forgot to compile?)."""
    mo = mo_path(lang, root)
    if not mo.exists():
        return False
    with open(mo, "rb") as f:
        on_disk = {_hashable(m.id): _hashable(m.string) for m in read_mo(f) if m.id}
    return on_disk == compiled(read_catalog(po_path(lang, root), lang))


def _hashable(value):
    """Plural entries carry lists (singular and plural ids, one string per form)."""
    return tuple(value) if isinstance(value, list) else value
