"""What the question model sees of a message: hashed character and word n-grams.

The training script (``locales/train.py``) and the running bot call the same
function, so the two cannot drift apart. Each feature's text is hashed with
CRC-32 into ``2**BITS`` buckets: the bot then needs no vocabulary in memory,
only a weight row per bucket, and a new word costs nothing to look up.

Features, over the normalised text (``intents.prepare``: one spelling for
Arabic/Persian letters, accents, digits, stretched letters; punctuation as
spaces):
- character n-grams of 2 to 5 inside each word, the word padded with a space
  on each side, so "cancel" and "cancelled" share most of theirs and a typo
  costs only a few;
- whole words and pairs of neighbouring words.
"""

from __future__ import annotations

import itertools
import zlib

from .intents import prepare

BITS = 18
BUCKETS = 1 << BITS
_MASK = BUCKETS - 1
CHAR_SIZES = (2, 3, 4, 5)


def _bucket(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) & _MASK


def feature_counts(text: str, words: bool = True) -> dict[int, int]:
    """Bucket -> how many times the message's features fell into it.

    ``words=False`` leaves out the word features (for comparing models).
    """
    counts: dict[int, int] = {}
    tokens = prepare(text or "").split()
    for word in tokens:
        padded = f" {word} "
        for size in CHAR_SIZES:
            for start in range(len(padded) - size + 1):
                b = _bucket("c" + padded[start : start + size])
                counts[b] = counts.get(b, 0) + 1
        if words:
            b = _bucket("w" + word)
            counts[b] = counts.get(b, 0) + 1
    if not words:
        return counts
    for first, second in itertools.pairwise(tokens):
        b = _bucket(f"b{first} {second}")
        counts[b] = counts.get(b, 0) + 1
    return counts
