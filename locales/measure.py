"""Accuracy and speed of language choice and question recognition on labelled sets.

``measure(samples)`` is what the tests assert on and what the benchmark script
prints into BENCHMARKS.md. Each message is judged as the first message of a
user we know nothing about (``choose_language(text)``), the strictest case.
The baseline is bare langdetect: all 55 profiles, seeded, as a project would
use it out of the box.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import langdetect
from langdetect.lang_detect_exception import LangDetectException

from .detect import choose_language, detect_language
from .intents import recognise_intent

DATA_DIR = Path(__file__).with_name("data")


@dataclass(frozen=True)
class Sample:
    text: str
    lang: str
    category: str | None = None  # general | single_word | support_chat
    intent: str | None = None


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_lang_samples(path: Path = DATA_DIR / "lang_samples.tsv") -> list[Sample]:
    return [Sample(r["text"], r["expected_lang"], category=r["category"]) for r in _read_tsv(path)]


def load_intent_samples(path: Path = DATA_DIR / "train" / "lexicon_samples.tsv") -> list[Sample]:
    return [Sample(r["text"], r["lang"], intent=r["intent"]) for r in _read_tsv(path)]


def word_count(text: str) -> int:
    return detect_language(text).words


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _percentiles_ms(durations_ns: list[int]) -> dict[str, float]:
    ordered = sorted(durations_ns)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) / 1e6, "p99_ms": p99 / 1e6}


def _bare_langdetect(text: str) -> str | None:
    try:
        return langdetect.detect(text)
    except LangDetectException:
        return None


def _timed(fn, texts: list[str]) -> tuple[list[object], list[int]]:
    results, durations = [], []
    for text in texts:
        start = time.perf_counter_ns()
        results.append(fn(text))
        durations.append(time.perf_counter_ns() - start)
    return results, durations


def _language_report(samples: list[Sample], chosen: list[str], bare: list[str | None]) -> dict:
    per_lang: dict[str, list[bool]] = defaultdict(list)
    per_category: dict[str, list[bool]] = defaultdict(list)
    per_category_lang: dict[str, list[bool]] = defaultdict(list)
    confusion: Counter[str] = Counter()
    bare_confusion: Counter[str] = Counter()
    bare_hits = 0
    for sample, got, base in zip(samples, chosen, bare):
        ok = got == sample.lang
        per_lang[sample.lang].append(ok)
        bare_hits += base == sample.lang
        if sample.category:
            # The targets for general and support chat count messages of 2+ words.
            key = (
                sample.category
                if sample.category == "single_word" or word_count(sample.text) >= 2
                else None
            )
            if key:
                per_category[key].append(ok)
                per_category_lang[f"{key}/{sample.lang}"].append(ok)
        if sample.lang in ("fa", "ar"):
            confusion[f"{sample.lang}->{got}"] += 1
            bare_confusion[f"{sample.lang}->{base}"] += 1

    def acc(groups: dict[str, list[bool]]) -> dict[str, float | None]:
        return {k: _ratio(sum(v), len(v)) for k, v in sorted(groups.items())}

    return {
        "messages": len(samples),
        "accuracy": _ratio(sum(got == s.lang for s, got in zip(samples, chosen)), len(samples)),
        "bare_langdetect_accuracy": _ratio(bare_hits, len(samples)),
        "per_language": acc(per_lang),
        "per_category": acc(per_category),
        "per_category_language": acc(per_category_lang),
        "fa_ar_ur_confusion": dict(sorted(confusion.items())),
        "bare_fa_ar_ur_confusion": dict(sorted(bare_confusion.items())),
    }


def _intent_report(samples: list[Sample], langs: list[str]) -> dict:
    texts = [s.text for s in samples]
    predicted, durations = _timed(lambda pair: recognise_intent(*pair), list(zip(texts, langs)))
    per_intent: dict[str, list[bool]] = defaultdict(list)
    per_lang: dict[str, list[bool]] = defaultdict(list)
    errors = []
    for sample, got in zip(samples, predicted):
        ok = got == sample.intent
        per_intent[sample.intent].append(ok)
        per_lang[sample.lang].append(ok)
        if not ok:
            errors.append((sample.text, sample.lang, sample.intent, got))
    said_none = [s.intent for s, got in zip(samples, predicted) if got == "none"]
    chat = [got for s, got in zip(samples, predicted) if s.intent == "none"]
    return {
        "messages": len(samples),
        "accuracy": _ratio(
            sum(got == s.intent for s, got in zip(samples, predicted)), len(samples)
        ),
        "per_intent": {k: _ratio(sum(v), len(v)) for k, v in sorted(per_intent.items())},
        "per_language": {k: _ratio(sum(v), len(v)) for k, v in sorted(per_lang.items())},
        # Of the messages the bot stayed quiet on, how many were really chat.
        "none_precision": _ratio(said_none.count("none"), len(said_none)),
        # Of the chat messages, how many the bot stayed quiet on (it must not butt in).
        "none_recall": _ratio(chat.count("none"), len(chat)),
        "latency": _percentiles_ms(durations),
        "errors": errors,
    }


def measure(samples: Iterable[Sample]) -> dict:
    """Accuracy per language, category and intent; fa/ar/ur confusion; latency.

    Language keys cover every sample; intent keys only samples with an
    ``intent``. Latency is per message, after a warm-up that loads the
    profiles, for our choice and for bare seeded langdetect on the same texts.
    """
    samples = list(samples)
    texts = [s.text for s in samples]
    for text in texts[:20]:  # warm-up: load profiles and lexicons outside the timings
        choose_language(text)
        _bare_langdetect(text)
        recognise_intent(text)

    previous_seed = langdetect.DetectorFactory.seed
    langdetect.DetectorFactory.seed = 0  # the baseline is seeded too, to compare like with like
    try:
        bare, bare_ns = _timed(_bare_langdetect, texts)
    finally:
        langdetect.DetectorFactory.seed = previous_seed
    chosen, ours_ns = _timed(choose_language, texts)

    report = {
        "language": _language_report(samples, chosen, bare),
        "latency": {"ours": _percentiles_ms(ours_ns), "bare_langdetect": _percentiles_ms(bare_ns)},
    }
    with_intent = [(s, lang) for s, lang in zip(samples, chosen) if s.intent]
    if with_intent:
        report["intent"] = _intent_report(
            [s for s, _ in with_intent], [lang for _, lang in with_intent]
        )
    return report
