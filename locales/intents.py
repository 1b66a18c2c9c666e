"""Recognise the support question in a chat message (the table in docs/bot.md, Questions in chat).

Rules over normalised text, with the lexicon kept as data in
``data/intents.toml`` (read its header for the entry syntax). The bot answers
unprompted, so a message that matches no rule is ``none``: it is better to stay
quiet on a question we half-understand than to butt in on ordinary chat.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .languages import SUPPORTED
from .normalise import normalise

INTENTS: tuple[str, ...] = (
    "free_credits",
    "credits_missing",
    "device_limit",
    "cancel",
    "resume",
    "upgrade",
    "downgrade",
    "topup",
    "topup_expiry",
    "after_cancel",
    "refund",
    "status",
    "none",
)

_DATA = Path(__file__).with_name("data") / "intents.toml"
_PLAN_ORDER = {"plan_free": 0, "plan_basic": 1, "plan_plus": 2, "plan_pro": 3}
_SHARED = ("en", "all")  # entries every language uses: English product words, plan names
_PUNCT = re.compile(r"[^\w'\s]")
_GAP = "~"  # up to four words between the two sides
_ARABIC_CLITICS = r"(?:[وفبلک]?ال|لل|[وفبل])?"


@dataclass(frozen=True)
class _Rule:
    intent: str
    all: tuple[str, ...]
    none: tuple[str, ...]


def _is_arabic_script(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def _entry_regex(entry: str, arabic: bool = False) -> tuple[bool, str]:
    """One lexicon entry to a regex fragment (syntax in data/intents.toml).

    Returns whether the entry may start inside a word ("*part"), and the
    fragment without the word-start check, which the caller puts once in
    front of all entries: checking it per entry made every look-up slow.
    Arabic writes the article and some prepositions into the word ("الرصيد",
    "بالغلط", "وحسابه"), so an Arabic entry may follow them.
    """
    parts: list[str] = []
    pending_gap = False
    starts_inside = False
    for token in normalise(entry.replace("-", " ")).split(" "):
        if token == _GAP:
            pending_gap = True
            continue
        core = re.escape(token.strip("*$"))
        if parts:
            parts.append(r"(?:\s+\S+){0,4}?\s+" if pending_gap else r"\s+")
        else:
            starts_inside = token.startswith("*")
            if not starts_inside and (arabic or _is_arabic_script(core)):
                parts.append(_ARABIC_CLITICS)
        parts.append(core + (r"(?!\w)" if token.endswith("$") else r"\w*"))
        pending_gap = False
    return starts_inside, "".join(parts)


def _compile(fragments: list[tuple[bool, str]]) -> re.Pattern[str]:
    at_word_start = [f for inside, f in fragments if not inside]
    anywhere = [f for inside, f in fragments if inside]
    alternatives = []
    if at_word_start:
        alternatives.append(r"(?<!\w)(?:" + "|".join(at_word_start) + ")")
    if anywhere:
        alternatives.append("(?:" + "|".join(anywhere) + ")")
    # (?!) never matches: a concept with no entry for this language.
    return re.compile("|".join(alternatives) or r"(?!)")


def _entries(block: str) -> list[str]:
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


@dataclass(frozen=True)
class _Lexicon:
    # (concept, languages or None for all) -> one compiled alternation, built
    # at load for every language choice so no message pays for a compile.
    patterns: dict[tuple[str, tuple[str, ...] | None], re.Pattern[str]]
    rules: tuple[_Rule, ...]


def _language_choices() -> list[tuple[str, ...] | None]:
    return [None, *((lang, *_SHARED) for lang in SUPPORTED)]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    data = tomllib.loads(_DATA.read_text(encoding="utf-8"))
    concepts = {
        name: {
            lang: [_entry_regex(e, lang == "ar") for e in _entries(block)]
            for lang, block in per_lang.items()
        }
        for name, per_lang in data["concepts"].items()
    }
    rules = tuple(
        _Rule(r["intent"], tuple(r["all"]), tuple(r.get("none", ()))) for r in data["rules"]
    )
    unknown = {c for r in rules for c in r.all + r.none} - concepts.keys()
    if unknown:
        raise ValueError(f"rules use undefined concepts: {sorted(unknown)}")
    patterns = {}
    for name, per_lang in concepts.items():
        for langs in _language_choices():
            chosen = [
                f for lang, fs in per_lang.items() if langs is None or lang in langs for f in fs
            ]
            patterns[name, langs] = _compile(chosen)
    return _Lexicon(patterns, rules)


def _pattern(concept: str, langs: tuple[str, ...] | None) -> re.Pattern[str]:
    return _lexicon().patterns[concept, langs]


def prepare(text: str) -> str:
    """The text the rules see: normalised, punctuation as spaces."""
    return " ".join(_PUNCT.sub(" ", normalise(text)).split())


class _Matcher:
    """Concept look-ups for one message, each computed at most once."""

    def __init__(self, text: str, langs: tuple[str, ...] | None) -> None:
        self.text = text
        self.langs = langs
        self._seen: dict[str, bool] = {}

    def has(self, concept: str) -> bool:
        if concept not in self._seen:
            self._seen[concept] = _pattern(concept, self.langs).search(self.text) is not None
        return self._seen[concept]

    def plans_in_order(self) -> list[int]:
        """Plan ranks in the order the message names them.

        Brazilian "pro" is also "para o" ("mudar pro plus"): a "pro" right
        before another plan name other than Pro is the preposition, not the
        plan ("do pro pro plus" is "from Pro to Plus").
        """
        found: list[tuple[int, int, int]] = []
        for concept, rank in _PLAN_ORDER.items():
            pattern = _pattern(concept, self.langs)
            found.extend((m.start(), m.end(), rank) for m in pattern.finditer(self.text))
        found.sort()
        ranks = []
        for i, (_, end, rank) in enumerate(found):
            following = found[i + 1] if i + 1 < len(found) else None
            preposition = (
                rank == _PLAN_ORDER["plan_pro"]
                and following is not None
                and following[2] != rank
                and self.text[end : following[0]].strip() == ""
            )
            if not preposition:
                ranks.append(rank)
        return ranks


def _switch_direction(matcher: _Matcher) -> str:
    """ "switch to basic" goes down, "move to pro" goes up, "from pro to plus" goes down."""
    plans = matcher.plans_in_order()
    if not plans:
        return "none"
    target = plans[-1]
    if len(plans) >= 2 and plans[0] != target:
        return "upgrade" if target > plans[0] else "downgrade"
    return "downgrade" if target <= _PLAN_ORDER["plan_basic"] else "upgrade"


def recognise_intent(text: str, lang: str | None = None) -> str:
    """The question a message asks, as one of ``INTENTS``.

    With ``lang`` (one of SUPPORTED), that language's entries and the shared
    English product words are tried first, so a word of another language
    cannot win over the message's own reading; when they find nothing (or
    without ``lang``), every language's entries are tried, since short or
    mixed messages are sometimes detected wrong.
    """
    prepared = prepare(text or "")
    if not prepared:
        return "none"
    if lang in SUPPORTED:
        intent = _recognise(_Matcher(prepared, (lang, *_SHARED)))
        if intent != "none":
            return intent
    # Unknown language, or a detection that missed (short, mixed): try every language.
    return _recognise(_Matcher(prepared, None))


def _recognise(matcher: _Matcher) -> str:
    for rule in _lexicon().rules:
        if all(matcher.has(c) for c in rule.all) and not any(matcher.has(c) for c in rule.none):
            if rule.intent == "switch_plan":
                direction = _switch_direction(matcher)
                if direction != "none":
                    return direction
                continue
            return rule.intent
    # No verb, but two different plans named ("с pro на plus"): a plan change.
    if len(set(matcher.plans_in_order())) >= 2:
        return _switch_direction(matcher)
    return "none"
