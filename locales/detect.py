"""Which language a message is written in, and which language to reply in.

Detection runs cheap rules first and pays for langdetect only when they leave
the answer open:

1. Script. Cyrillic is Russian. Arabic script is Persian or Arabic, decided by
   letters and words (see ``_arabic_script``); Urdu is never an answer.
2. Latin script: Finglish words (Persian typed in Latin letters), a keyword
   list per language and telling letters (ñ, ğ, ß, ã, ...), as weights.
3. When 1-2 leave a close call or know no word: the learned Latin-script
   model (``langid.py``) and langdetect restricted to our languages, seeded.

A detection is *confident* when it may override the user's recent language:
decisive letters, or three or more words with a clear winner. Short messages
("ok", "سلام", "merci") keep the language the user was already using; see
``choose_language`` for the whole order (docs/languages.md).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import langdetect
from langdetect import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from .langid import language_model
from .languages import DEFAULT, from_discord_locale, normalise_code
from .normalise import ZWNJ, normalise, strip_marks

_DATA = Path(__file__).with_name("data") / "lang_words.toml"
_LATIN_LANGS = ("en", "es", "pt", "fr", "de", "tr")

# Discord markup and links say nothing about the language.
_NOISE = re.compile(
    r"https?://\S+|www\.\S+|<a?:\w+:\d+>|<[@#][!&]?\d+>|<t:\d+(?::\w)?>|`[^`]*`|:\w+:"
)
_TOKEN = re.compile(r"[^\W\d_][\w'\u200c]*")

_PERSIAN_LETTERS = set("پچژگ")
_PERSIAN_YEH_KEHEH = set("یک")  # U+06CC, U+06A9: Arabic keyboards never type these
_PERSIAN_DIGITS = set("۰۱۲۳۴۵۶۷۸۹")
_URDU_LETTERS = set("ےہںٹڈڑھ")  # read as Persian: we never answer in Urdu
_ARABIC_INDIC_DIGITS = set("٠١٢٣٤٥٦٧٨٩")
_ARABIC_ONLY = {"ة": 2.0, "ى": 1.0, "أ": 1.0, "إ": 1.0}
_ARABIC_YEH_KAF = set("يك")  # typed by Iranians on Arabic layouts too: weak evidence


@dataclass(frozen=True)
class Detection:
    """The message's language, if any evidence points to one.

    ``confident`` means the evidence may override the user's recent language;
    ``script`` (latin, arabic, cyrillic, other) lets a short message keep a
    recent language only when that language is written in the same script.
    """

    lang: str | None
    confident: bool
    words: int
    script: str | None = None


@dataclass(frozen=True)
class _Lexicon:
    weights: dict[str, float]
    latin: dict[str, frozenset[str]]
    finglish_strong: frozenset[str]
    finglish_weak: frozenset[str]
    fa_words: frozenset[str]
    ar_words: frozenset[str]
    al_exceptions: frozenset[str]
    letters: dict[str, dict[str, float]]
    suffixes: dict[str, tuple[tuple[re.Pattern[str], float], ...]]


def _words(block: str) -> frozenset[str]:
    return frozenset(normalise(w) for w in block.split())


@lru_cache(maxsize=1)
def lexicon() -> _Lexicon:
    data = tomllib.loads(_DATA.read_text(encoding="utf-8"))
    return _Lexicon(
        weights=data["weights"],
        latin={lang: _words(data["latin"][lang]["words"]) for lang in _LATIN_LANGS},
        finglish_strong=_words(data["finglish"]["strong"]),
        finglish_weak=_words(data["finglish"]["weak"]),
        fa_words=_words(data["arabic_script"]["fa"]),
        ar_words=_words(data["arabic_script"]["ar"]),
        al_exceptions=_words(data["arabic_script_prefix"]["persian_exceptions"]),
        letters=data["letters"],
        suffixes={
            lang: tuple((re.compile(rx), w) for rx, w in table.items())
            for lang, table in data["suffixes"].items()
        },
    )


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    """langdetect with only our Latin-script languages' profiles, seeded for repeatable answers.

    A fresh factory (not langdetect's global one): 6 profiles instead of 55 is
    several times faster and keeps Slovak, Tagalog, ... out of the answers.
    Arabic script and Cyrillic never reach langdetect (letters decide them).
    """
    profiles = Path(langdetect.__file__).parent / "profiles"
    factory = DetectorFactory()
    factory.load_json_profile(
        [(profiles / code).read_text(encoding="utf-8") for code in _LATIN_LANGS]
    )
    factory.set_seed(0)
    return factory


def langdetect_probabilities(text: str) -> dict[str, float]:
    """Restricted, seeded langdetect; empty when it finds no features (emoji, digits)."""
    detector = _factory().create()
    detector.append(text)
    try:
        return {p.lang: p.prob for p in detector.get_probabilities()}
    except LangDetectException:
        return {}


def _script_counts(text: str) -> dict[str, int]:
    counts = {"latin": 0, "arabic": 0, "cyrillic": 0, "other": 0}
    for ch in text:
        if not ch.isalpha():
            continue
        o = ord(ch)
        if o < 0x250 or 0x1E00 <= o <= 0x1EFF:
            counts["latin"] += 1
        elif 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFEFF:
            counts["arabic"] += 1
        elif 0x0400 <= o <= 0x04FF:
            counts["cyrillic"] += 1
        else:
            counts["other"] += 1
    return counts


def _arabic_script(text: str, tokens: list[str]) -> tuple[str, bool]:
    """Persian or Arabic, and whether the evidence is decisive.

    Letters first: پ چ ژ گ, Persian ی/ک, Persian digits and ZWNJ only occur in
    Persian (or Urdu, which we read as Persian); ة, ى, hamza forms, Arabic-Indic
    digits and ال-words weigh to Arabic. Arabic ي/ك weigh little, because
    Iranians on an Arabic keyboard type them too. Then whole words decide
    what letters leave open (``اين عكس رو كي ساخته`` is Persian by its words).
    """
    lex = lexicon()
    chars = set(text)
    decisive_fa = (
        bool(chars & (_PERSIAN_LETTERS | _PERSIAN_YEH_KEHEH | _PERSIAN_DIGITS | _URDU_LETTERS))
        or ZWNJ in text
    )
    fa = 3.0 if decisive_fa else 0.0
    ar = sum(w for ch, w in _ARABIC_ONLY.items() if ch in chars)
    if chars & _ARABIC_INDIC_DIGITS:
        ar += 2.0
    ar += 0.3 * min(3, sum(1 for ch in text if ch in _ARABIC_YEH_KAF))
    normal = [normalise(t) for t in tokens]
    for raw, word in zip(tokens, normal):
        if word in lex.fa_words:
            fa += 1.0
        if word in lex.ar_words:
            ar += 1.0
        if (
            raw.startswith(("ال", "وال", "بال", "فال", "لل"))
            and len(raw) >= 4
            and word not in lex.al_exceptions
        ):
            ar += 1.0
    lang = (
        "fa" if fa >= ar else "ar"
    )  # a tie ("سلام") is Persian unless the user's history says otherwise
    margin = abs(fa - ar)
    decisive_ar = ar >= 2.0 and fa == 0.0
    confident = (
        (lang == "fa" and decisive_fa)
        or (lang == "ar" and decisive_ar)
        or (len(tokens) >= 3 and margin >= 1.0)
    )
    return lang, confident


def _latin(text: str, tokens: list[str]) -> tuple[str | None, bool]:
    lex = lexicon()
    weights = lex.weights
    scores = dict.fromkeys(_LATIN_LANGS + ("fa",), 0.0)
    decisive = False
    for letter, per_lang in lex.letters.items():
        n = min(2, text.count(letter))
        if n:
            for lang, w in per_lang.items():
                scores[lang] += n * w
                decisive = decisive or w >= 3
    for word in (normalise(t) for t in tokens):
        for lang, words in lex.latin.items():
            if word in words:
                scores[lang] += weights["word"]
        for lang, patterns in lex.suffixes.items():
            scores[lang] += sum(w for rx, w in patterns if rx.search(word))
        if word in lex.finglish_strong:
            scores["fa"] += weights["finglish"]
        elif word in lex.finglish_weak:
            scores["fa"] += weights["finglish_weak"]
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    clear = top >= 2.0 and top - second >= 1.0
    if not clear:
        # Close call, or no known word: the learned model (character n-grams, accents
        # kept) weighs in for every language; restricted langdetect, which knows no
        # Finglish, only for the Latin-script languages within a word of the leader.
        lexical = dict(scores)
        for lang, prob in language_model().probabilities(text).items():
            scores[lang] += weights["learned"] * prob
        if len(tokens) >= 2 and weights["langdetect"]:
            for lang, prob in langdetect_probabilities(" ".join(tokens)).items():
                if lang in scores and lexical[lang] >= top - 1.0:
                    scores[lang] += weights["langdetect"] * prob
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -lexical[kv[0]]))
        (best, top), (_, second) = ranked[0], ranked[1]
    if top <= 0.0:
        return None, False
    confident = decisive or (len(tokens) >= 3 and top - second >= 1.0)
    return best, confident


def detect_language(text: str) -> Detection:
    """The language of one message; ``lang`` is None when nothing points anywhere."""
    clean = _NOISE.sub(" ", strip_marks(text or ""))
    tokens = _TOKEN.findall(clean)
    words = len(tokens)
    if not words:
        return Detection(None, False, 0, None)
    counts = _script_counts(clean)
    # Latin product words ("plus", "credit") sit inside Persian, Arabic and
    # Russian messages, so the other scripts count three times.
    script = max(counts, key=lambda s: counts[s] * (1 if s == "latin" else 3))
    if script == "cyrillic":
        return Detection("ru", True, words, script)
    if script == "arabic":
        arabic_tokens = [t for t in tokens if _script_counts(t)["arabic"]]
        lang, confident = _arabic_script(clean, arabic_tokens)
        return Detection(lang, confident, words, script)
    if script == "latin":
        lang, confident = _latin(clean, tokens)
        return Detection(lang, confident, words, script)
    return Detection(None, False, words, script)


def _same_script(lang: str, script: str | None) -> bool:
    if script == "arabic":
        return lang in ("fa", "ar")
    if script == "cyrillic":
        return lang == "ru"
    if script == "latin":
        return lang != "ar" and lang != "ru"  # Finglish keeps a Persian user Persian
    return True


def choose_language(
    text: str | None = None,
    *,
    saved: str | None = None,
    recent: str | None = None,
    discord_locale: object | None = None,
    guild_locale: object | None = None,
    default: str = DEFAULT,
) -> str:
    """The reply language, in the order of docs/languages.md, Choosing the reply language.

    saved choice > the message's own language (when confident) > the user's
    recent language > the message's language as a weak guess > Discord client
    locale > server locale > default. A short or unclear message keeps the
    recent language unless its script rules that language out: "سلام" after
    English is not English, but after Arabic it stays Arabic.
    """
    if (code := normalise_code(saved)) is not None:
        return code
    detection = detect_language(text) if text else None
    if detection and detection.lang and detection.confident:
        return detection.lang
    recent_code = normalise_code(recent)
    if recent_code and (
        detection is None or detection.lang is None or _same_script(recent_code, detection.script)
    ):
        return recent_code
    if detection and detection.lang:
        return detection.lang
    for locale in (discord_locale, guild_locale):
        if (code := from_discord_locale(locale)) is not None:
            return code
    return normalise_code(default) or DEFAULT
