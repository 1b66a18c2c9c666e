"""Text normalisation for look-ups (intent lexicons, keyword lists).

Users type the same word many ways: Persian on an Arabic keyboard (ي ك),
with or without ZWNJ, with harakat or tatweel, with Persian or Arabic-Indic
digits, with stretched letters ("pleaseeee", "خیییلی") and with or without
accents ("creditos"). Every lexicon entry goes through the same function, so
both sides meet in one spelling. Not for display, and not for language
detection, which needs the accents and letters this removes.
"""

from __future__ import annotations

import re
import unicodedata

# Bidi controls and zero-width characters that carry no meaning for look-up
# (LRM, RLM, embeddings, overrides, isolates, ZWSP, ZWJ, word joiner, BOM).
BIDI_AND_ZERO_WIDTH = dict.fromkeys(
    map(
        ord,
        "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        "\u200b\u200d\u2060\ufeff\u061c",
    ),
    None,
)
ZWNJ = "\u200c"

_CHAR_MAP = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",  # Arabic yeh, alef maksura, yeh with hamza -> Persian yeh
        "ك": "ک",  # Arabic kaf -> Persian keheh
        "ة": "ه",
        "ۀ": "ه",
        "ە": "ه",  # teh marbuta and heh forms -> heh
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ـ": None,  # tatweel
        "؟": "?",
        "،": ",",
        "؛": ";",
        "٫": ".",
        "٬": ",",
        "ı": "i",  # Turkish dotless i: users drop the dot anyway
        "ß": "ss",
        "œ": "oe",
        "æ": "ae",
        "’": "'",
        "‘": "'",
        "`": "'",
        "´": "'",
        **{chr(0x06F0 + i): str(i) for i in range(10)},  # Persian digits
        **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
    }
)

_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_SPACES = re.compile(r"\s+")
# Persian verb prefixes typed as a separate word ("می خوام", "نمی شه") join
# their verb, as they do when typed with ZWNJ or without any space.
_MI_PREFIX = re.compile(r"(?<!\S)(ن?می) (?=\S)")


def strip_marks(text: str) -> str:
    """Remove bidi controls and zero-width characters (ZWNJ kept)."""
    return text.translate(BIDI_AND_ZERO_WIDTH)


def _drop_combining(text: str) -> str:
    # NFD splits accents, harakat and hamza off their letters; drop them all.
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def normalise(text: str) -> str:
    """One spelling for look-ups: see the module docstring for what it folds."""
    text = unicodedata.normalize("NFKC", text)
    text = strip_marks(text).replace(ZWNJ, " ")
    text = text.casefold()
    text = _drop_combining(text)
    text = text.translate(_CHAR_MAP)
    text = _REPEATS.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    return _MI_PREFIX.sub(r"\1", text)
