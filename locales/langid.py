"""A learned language identifier for Latin-script messages.

English, Spanish, Brazilian Portuguese, French, German, Turkish, and Persian
typed in Latin letters ("Finglish") share one alphabet; their word lists
(``data/lang_words.toml``) decide most messages, and this model weighs in
where they leave a close call or know none of the words (single words,
Spanish against Portuguese). Arabic script and Cyrillic never reach it.

Features: hashed character n-grams of 1 to 4 inside each word, the word
padded with spaces, over the text casefolded but with its accents kept (ã, ñ,
ç, ğ tell languages apart). A multinomial logistic regression over them,
trained by ``locales/train_lang.py``; the bot loads the exported weights with
numpy alone.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from .model import digest_of, training_files
from .normalise import strip_marks
from .scoring import linear_scores, softmax

LANGS: tuple[str, ...] = ("en", "es", "pt", "fr", "de", "tr", "fa")
BITS = 17
BUCKETS = 1 << BITS
_MASK = BUCKETS - 1
SIZES = (1, 2, 3, 4)
_WORD = re.compile(r"[^\W\d_]+")

DATA_DIR = Path(__file__).with_name("data")
WEIGHTS = DATA_DIR / "lang_model.npz"
META = DATA_DIR / "lang_model.json"
LANG_SAMPLES = DATA_DIR / "lang_samples.tsv"
DEV_DIR = DATA_DIR / "train_lang"  # general chat and single words; also where the weight is chosen


def lang_training_digest() -> str:
    """Of everything the language model is made from: its data and its code."""
    here = Path(__file__).parent
    return digest_of([*training_files(), LANG_SAMPLES, *sorted(DEV_DIR.glob("*.tsv")),
                      here / "langid.py", here / "train_lang.py", here / "normalise.py"])


def latin_words(text: str) -> list[str]:
    """The words the model reads: letters only, casefolded, accents kept."""
    text = unicodedata.normalize("NFC", strip_marks(text or "")).casefold()
    return _WORD.findall(text)


def language_features(text: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for word in latin_words(text):
        padded = f" {word} "
        for size in SIZES:
            for start in range(len(padded) - size + 1):
                b = zlib.crc32(("l" + padded[start : start + size]).encode("utf-8")) & _MASK
                counts[b] = counts.get(b, 0) + 1
    return counts


class LanguageModel:
    def __init__(self, weights_path: Path = WEIGHTS, meta_path: Path = META) -> None:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if tuple(meta["langs"]) != LANGS:
            raise ValueError(f"{meta_path.name}: languages {meta['langs']} differ from {LANGS}")
        with np.load(weights_path, allow_pickle=False) as data:
            self.weights = data["weights"]  # float16 (buckets, languages)
            self.bias = data["bias"]
            self.idf = data["idf"].astype(np.float32)
        self.meta = meta

    def probabilities(self, text: str) -> dict[str, float]:
        """Probability per language; empty when the text has no letters."""
        counts = language_features(text)
        if not counts:
            return {}
        p = softmax(self.bias + linear_scores(counts, self.idf, self.weights))
        return {lang: float(x) for lang, x in zip(LANGS, p, strict=True)}


@lru_cache(maxsize=1)
def language_model() -> LanguageModel:
    return LanguageModel()
