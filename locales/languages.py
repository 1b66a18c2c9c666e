"""The languages we answer in, and how their codes map to catalogs, Babel and Discord.

Our codes are the short ones the bot prints (``pt``, not ``pt_BR``); the one
place that knows Portuguese means Brazilian Portuguese is here.
"""

from __future__ import annotations

SUPPORTED: tuple[str, ...] = ("en", "fa", "ar", "es", "tr", "ru", "de", "fr", "pt")
RTL: frozenset[str] = frozenset({"fa", "ar"})
DEFAULT = "en"

# Catalog directory (locales/<dir>/LC_MESSAGES) and Babel locale, per language.
_CATALOG_DIR = {code: code for code in SUPPORTED} | {"pt": "pt_BR"}


def catalog_dir(lang: str) -> str:
    """``pt`` -> ``pt_BR``; every other code is its own directory."""
    return _CATALOG_DIR[lang]


def babel_locale(lang: str) -> str:
    """The Babel locale identifier used for dates, numbers and plural rules."""
    return _CATALOG_DIR[lang]


def from_catalog_dir(dirname: str) -> str:
    """``pt_BR`` -> ``pt``: the inverse of :func:`catalog_dir`."""
    for code, d in _CATALOG_DIR.items():
        if d == dirname:
            return code
    raise KeyError(dirname)


def normalise_code(code: str | None) -> str | None:
    """Map a locale-ish code ('pt-BR', 'es_419', 'EN-us', 'fa_IR', 'ur') to ours, or None.

    Urdu is never an answer: a Perso-Arabic message misread as Urdu is Persian.
    """
    if not code:
        return None
    base = str(code).replace("_", "-").split("-")[0].strip().lower()
    if base == "ur":
        return "fa"
    return base if base in _CATALOG_DIR else None


def from_discord_locale(locale: object) -> str | None:
    """A ``discord.Locale`` (or its value such as 'en-US', 'pt-BR', 'es-419') to our code.

    Discord has no Persian or Arabic client locale; those users only reach us
    through detection. Locales we do not translate (ja, ko, …) give None so the
    next rule in line decides.
    """
    value = getattr(locale, "value", locale)
    return normalise_code(value) if isinstance(value, str) else None
