"""The arithmetic both learned models do per message, with numpy alone.

A message's hashed feature counts become TF-IDF values (sublinear term frequency, times
the inverse document frequency, L2-normalised, as in training), and each label's score is
the sum of the weight rows of the buckets the message touched.
"""

from __future__ import annotations

import numpy as np


def linear_scores(counts: dict[int, int], idf: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per label: TF-IDF values of ``counts`` times their rows of ``weights`` (no bias)."""
    buckets = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    values = (1 + np.log(tf)) * idf[buckets]
    values /= np.sqrt(values @ values)
    return values @ weights[buckets].astype(np.float32)


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return e / e.sum()
