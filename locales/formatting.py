"""Formatting message arguments in the reply's language.

Numbers, money and (except in Persian) dates come from Babel. Persian uses the
Solar Hijri calendar and Persian digits, which Babel 2.18 does not offer
(babel #810, #1020, #1036), so those come from persiantools. Money is always
formatted from its exact decimal string, never through a float.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cache, lru_cache

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal
from persiantools import digits
from persiantools.jdatetime import JalaliDate

from core.money import Money

from .languages import babel_locale as _babel_id
from .normalise import strip_marks

UTC = dt.UTC
# The same few prices, dates and counts are formatted again on every screen; Babel parses
# the locale and its patterns anew each call. Cached per (value, its type, language).
FORMAT_CACHE = 4096


@cache
def babel_locale(lang: str) -> Locale:
    return Locale.parse(_babel_id(lang))
_PERSIAN_SEPARATORS = str.maketrans({",": "٬", ".": "٫"})


def persian_digits(text: str) -> str:
    """Latin digits and separators as Persian ones: '1,500.5' -> '۱٬۵۰۰٫۵'."""
    return digits.en_to_fa(text.translate(_PERSIAN_SEPARATORS))


@lru_cache(maxsize=FORMAT_CACHE, typed=True)
def format_number(value: Decimal | float, lang: str) -> str:
    if isinstance(value, float):  # never hand Babel a float: its repr is the exact value we mean
        value = Decimal(repr(value))
    text = format_decimal(value, locale=babel_locale(lang))
    return persian_digits(text) if lang == "fa" else text


@lru_cache(maxsize=FORMAT_CACHE, typed=True)
def format_money(money: Money, lang: str) -> str:
    text = format_currency(
        Decimal(money.as_decimal_str()), money.currency, locale=babel_locale(lang)
    )
    return persian_digits(text) if lang == "fa" else text


def jalali_date(day: dt.date) -> str:
    """2026-11-21 -> '۳۰ آبان ۱۴۰۵' (day without a leading zero, as Persian writes it)."""
    j = JalaliDate(day)
    month = j.strftime("%B", locale="fa")
    return f"{digits.en_to_fa(str(j.day))} {month} {digits.en_to_fa(str(j.year))}"


@lru_cache(maxsize=FORMAT_CACHE, typed=True)
def format_day(day: dt.date, lang: str) -> str:
    if lang == "fa":
        return jalali_date(day)
    return format_date(day, format="long", locale=babel_locale(lang))


@lru_cache(maxsize=FORMAT_CACHE, typed=True)
def format_moment(moment: dt.datetime, lang: str) -> str:
    """A date and time in UTC, saying so: the core's clock is UTC and so are its period ends."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the core only hands out UTC; a naive value is UTC
    moment = moment.astimezone(UTC)
    if lang == "fa":
        time = digits.en_to_fa(moment.strftime("%H:%M"))
        return f"{jalali_date(moment.date())}، ساعت {time} (UTC)"
    locale = babel_locale(lang)
    date_part = format_date(moment.date(), format="long", locale=locale)
    time_part = format_time(moment, format="short", tzinfo=UTC, locale=locale)
    pattern = _unquote(get_datetime_format("long", locale=locale))
    return pattern.format(f"{time_part} UTC", date_part)


def _unquote(pattern: str) -> str:
    # CLDR quotes literal text ("{1} 'at' {0}") and doubles a literal apostrophe.
    return re.sub(r"'([^']*)'", lambda m: m.group(1) or "'", pattern)


def format_plain(value: object, lang: str) -> str:
    """Any argument but a nested message (render.py handles those)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Money):
        return format_money(value, lang)
    if isinstance(value, dt.datetime):  # before date: a datetime is also a date
        return format_moment(value, lang)
    if isinstance(value, dt.date):
        return format_day(value, lang)
    if isinstance(value, (int, Decimal, float)):
        return format_number(value, lang)
    # User-typed or product text, used verbatim; bidi controls in it could
    # reorder the rest of our line, so they go.
    return strip_marks(str(value))
