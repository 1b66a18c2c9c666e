"""Rendering ``Msg`` values (flows/replies.py) in the reply language.

The adapter chooses the language once per event (``bind_language``) and
renders each ``Msg`` with ``render``; flows never translate. Catalogs are
Babel ``Translations`` loaded once per language. A message missing from a
catalog falls back to its English msgid (tests/test_lang_catalogs.py makes
sure none is missing).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from pathlib import Path
from string import Formatter
from typing import Any

from babel.support import NullTranslations, Translations

from flows.replies import Msg

from .bidi import isolate, rtl_lines
from .formatting import format_plain
from .languages import DEFAULT, RTL, SUPPORTED, catalog_dir, normalise_code

LOCALES_DIR = Path(__file__).parent
DOMAIN = "messages"

_language: ContextVar[str] = ContextVar("reply_language", default=DEFAULT)


def bind_language(lang: str) -> Token[str]:
    """Set the reply language for the current event (task/context); returns a reset token."""
    code = normalise_code(lang)
    if code is None:
        raise ValueError(f"unsupported language: {lang!r}")
    return _language.set(code)


def current_language() -> str:
    return _language.get()


class Catalogs:
    """Compiled catalogs under one directory (``<root>/<dir>/LC_MESSAGES/messages.mo``)."""

    def __init__(self, root: Path = LOCALES_DIR) -> None:
        self.root = Path(root)
        self._loaded: dict[str, NullTranslations] = {}

    def translations(self, lang: str) -> NullTranslations:
        if lang not in self._loaded:
            # Translations.load returns NullTranslations when the .mo is absent,
            # which renders the English msgids: the bot still answers.
            self._loaded[lang] = Translations.load(str(self.root), [catalog_dir(lang)], DOMAIN)
        return self._loaded[lang]

    def render(self, msg: Msg, lang: str | None = None) -> str:
        code = normalise_code(lang) or current_language()
        if code not in SUPPORTED:
            code = DEFAULT
        text = self._render(msg, code)
        return rtl_lines(text) if code in RTL else text

    def _render(self, msg: Msg, lang: str) -> str:
        translations = self.translations(lang)
        if msg.plural is not None:
            n = int(msg.args.get("n", 0))
            template = translations.ngettext(msg.msgid, msg.plural, n)
            source = msg.msgid if n == 1 else msg.plural
        else:
            template = translations.gettext(msg.msgid)
            source = msg.msgid
        args = {name: self._arg(value, lang) for name, value in msg.args.items()}
        try:
            return template.format_map(args)
        except (KeyError, IndexError, ValueError):
            # A translation with a broken placeholder must not cost the user
            # the answer: say it in English. The catalog test catches these.
            return source.format_map(args)

    def _arg(self, value: Any, lang: str) -> str:
        text = self._render(value, lang) if isinstance(value, Msg) else format_plain(value, lang)
        return isolate(text) if lang in RTL else text


_default = Catalogs()


def render(msg: Msg, lang: str | None = None) -> str:
    """``msg`` in ``lang`` (default: the language bound for this event)."""
    return _default.render(msg, lang)


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a message uses: 'until {date:%d}' -> {'date'}."""
    names = set()
    for _, field, _, _ in Formatter().parse(text):
        if field is not None:
            names.add(field.split(".")[0].split("[")[0])
    return names
