"""Train the Latin-script language model and choose its weight (``make model``).

    python -m locales.train_lang           # train, choose the weights, write the model files
    python -m locales.train_lang --compare # also print each weight choice on the development set

Training messages: every Latin-script message of the question training data
(support chat, labelled with its language), ``data/lang_samples.tsv``, and the
general chat and single words of ``data/train_lang/``. Persian in Latin letters
is ``fa``; Arabic and Russian typed in Latin letters are left out (we never
choose those languages for Latin text).

How much the model and langdetect weigh against the word lists
(``data/lang_words.toml``, ``learned`` and ``langdetect``) is chosen on the
general chat and single words of ``data/train_lang/`` scored by a model trained
without them; then the model is retrained on everything. The frozen set in
``data/eval_lang/`` is never used here.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from . import detect
from .langid import (
    BUCKETS,
    DEV_DIR,
    LANG_SAMPLES,
    LANGS,
    META,
    WEIGHTS,
    lang_training_digest,
    language_features,
    latin_words,
)
from .model import read_labelled, training_files

WORDS_FILE = Path(__file__).with_name("data") / "lang_words.toml"
C = 30.0
CHOICES = [(learned, ld) for learned in (0.0, 0.5, 1.0, 2.0, 3.0, 5.0) for ld in (0.0, 1.0)]


def is_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    latin = sum(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in letters)
    return bool(letters) and latin >= 0.8 * len(letters)


def read_lang_tsv(path: Path) -> list[tuple[str, str, str]]:
    """(text, language, category) rows of a language-labelled file."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["text"], r["expected_lang"], r["category"]) for r in rows if (r["text"] or "").strip()]


def usable(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(t, lang) for t, lang in rows if lang in LANGS and is_latin(t) and latin_words(t)]


def question_messages() -> list[tuple[str, str]]:
    return usable((text, lang) for path in training_files() for text, lang, _ in read_labelled(path))


def dev_rows() -> list[tuple[str, str, str]]:
    return [row for path in sorted(DEV_DIR.glob("*.tsv")) for row in read_lang_tsv(path)]


def fit(pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    rows, cols, vals = [], [], []
    for i, (text, _) in enumerate(pairs):
        counts = language_features(text)
        rows += [i] * len(counts)
        cols += list(counts)
        vals += list(counts.values())
    x = sparse.csr_matrix((np.array(vals, float), (rows, cols)), shape=(len(pairs), BUCKETS))
    df = np.bincount(x.indices, minlength=BUCKETS)
    idf = (np.log((1 + len(pairs)) / (1 + df)) + 1).astype(np.float32)
    x.data = (1 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(x.multiply(x).sum(axis=1)).A1
    x = sparse.csr_matrix(sparse.diags(1 / np.where(norms == 0, 1, norms)) @ x)
    y = np.array([LANGS.index(lang) for _, lang in pairs])
    used = np.unique(x.indices)
    model = LogisticRegression(C=C, solver="saga", max_iter=1000, tol=1e-3, random_state=0)
    model.fit(x[:, used], y)
    weights = np.zeros((BUCKETS, len(LANGS)), dtype=np.float32)
    weights[used] = model.coef_.T
    return {"weights": weights.astype(np.float16), "bias": model.intercept_.astype(np.float32),
            "idf": idf.astype(np.float16)}


def save(arrays: dict[str, np.ndarray], meta: dict) -> None:
    np.savez_compressed(WEIGHTS, **arrays)
    META.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    detect.language_model.cache_clear()


def set_weights(learned: float, langdetect: float) -> None:
    """Write the two weights into lang_words.toml, leaving the rest of the file as it is."""
    text = WORDS_FILE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^learned = [0-9.]+", f"learned = {learned:g}", text)
    text = re.sub(r"(?m)^langdetect = [0-9.]+", f"langdetect = {langdetect:g}", text)
    WORDS_FILE.write_text(text, encoding="utf-8")
    detect.lexicon.cache_clear()


def dev_accuracy(rows: list[tuple[str, str, str]]) -> dict[str, float]:
    """First-message language choice on the development rows, per category."""
    out = {}
    for category in ("general", "single_word"):
        picked = [(t, lang) for t, lang, c in rows if c == category]
        out[category] = sum(detect.choose_language(t) == lang for t, lang in picked) / len(picked)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m locales.train_lang")
    parser.add_argument("--compare", action="store_true", help="print every weight choice")
    args = parser.parse_args(argv)
    base = question_messages() + usable((t, lang) for t, lang, _ in read_lang_tsv(LANG_SAMPLES))
    dev = dev_rows()
    print(f"{len(base)} training messages, {len(dev)} development rows", flush=True)

    meta = {"langs": list(LANGS), "trained_on": "questions + lang_samples"}
    save(fit(base), meta)
    results = []
    for learned, ld in CHOICES:
        set_weights(learned, ld)
        acc = dev_accuracy(dev)
        results.append((acc["general"] + acc["single_word"], learned, ld, acc))
        if args.compare:
            print(f"learned={learned:g} langdetect={ld:g}: general {acc['general']:.1%}, "
                  f"single words {acc['single_word']:.1%}", flush=True)
    _, learned, ld, acc = max(results, key=lambda r: (r[0], -r[1], -r[2]))
    set_weights(learned, ld)
    print(f"chosen: learned={learned:g} langdetect={ld:g} ({acc})", flush=True)

    everything = base + usable((t, lang) for t, lang, _ in dev)
    save(fit(everything), {"langs": list(LANGS), "messages": len(everything),
                           "training_digest": lang_training_digest(),
                           "development": {k: round(v, 4) for k, v in acc.items()},
                           "weights": {"learned": learned, "langdetect": ld}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
