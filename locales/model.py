"""The question model as the bot runs it: exported weights, numpy, no training library.

``understand(text, lang)`` scores a message over the labels (``policy.LABELS``)
and returns the policy's decision. The weights are a row per hashed feature
(``features.py``; a row per lexicon guess too, when the model was trained with
that feature), a bias, and the inverse document frequencies; ``train.py`` writes them and records a digest of the training data,
so a test can tell when the committed model no longer matches its data.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .features import feature_counts
from .intents import recognise_intent
from .policy import LABELS, Decision, Thresholds, decide_from_probabilities
from .scoring import linear_scores, softmax

DATA_DIR = Path(__file__).with_name("data")
TRAINING_DIR = DATA_DIR / "train"
MODEL_WEIGHTS = DATA_DIR / "intent_model.npz"
MODEL_JSON = DATA_DIR / "intent_model.json"
# What the model is made from: the data and the code that turns it into numbers.
_CODE = ("features.py", "intents.py", "normalise.py", "policy.py", "train.py")

__all__ = ["LABELS", "QuestionModel", "model", "read_labelled", "training_files", "understand"]


def training_files() -> list[Path]:
    return sorted(TRAINING_DIR.glob("*.tsv"))


def read_labelled(path: Path) -> list[tuple[str, str, str]]:
    """(text, lang, label) rows of a labelled TSV file (header: text, lang, intent)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["text"], r["lang"], r["intent"]) for r in rows if r["text"] and r["text"].strip()]


def digest_of(paths: list[Path]) -> str:
    """SHA-256 over files' names (inside ``locales/``) and contents, in the order given.

    Python files count by their code only (comments and docstrings dropped): rewording
    a comment does not change what a model is made from, so it asks for no retraining.
    """
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in paths:
        digest.update(path.relative_to(here).as_posix().encode())
        if path.suffix == ".py":
            digest.update(_code_only(path.read_text(encoding="utf-8")).encode())
        else:
            digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()


def _code_only(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def training_digest() -> str:
    """Of the training files, the lexicon and the feature code: what the model is made from."""
    here = Path(__file__).parent
    return digest_of([*training_files(), DATA_DIR / "intents.toml", *(here / name for name in _CODE)])


class QuestionModel:
    def __init__(self, weights_path: Path = MODEL_WEIGHTS, meta_path: Path = MODEL_JSON) -> None:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if tuple(meta["labels"]) != LABELS:
            raise ValueError(f"{meta_path.name}: labels {meta['labels']} differ from {LABELS}")
        with np.load(weights_path, allow_pickle=False) as data:
            self.words = data["words"]  # float16 (buckets, labels)
            # float32 (labels, labels): a row per lexicon guess, when the model uses it
            self.lexicon = data.get("lexicon")
            self.bias = data["bias"]
            self.idf = data["idf"].astype(np.float32)
        self.with_words = bool(meta["features"]["words"])
        self.temperature = float(meta["temperature"])
        self.thresholds = Thresholds(**meta["thresholds"])
        self.meta = meta

    def probabilities(self, text: str, lang: str | None = None) -> np.ndarray:
        counts = feature_counts(text, words=self.with_words)
        scores = self.bias
        if self.lexicon is not None:
            scores = scores + self.lexicon[LABELS.index(recognise_intent(text, lang))]
        if counts:
            scores = scores + linear_scores(counts, self.idf, self.words)
        return softmax(scores / self.temperature)

    def decide(self, text: str, lang: str | None = None) -> Decision:
        return decide_from_probabilities(self.probabilities(text, lang), self.thresholds)


@lru_cache(maxsize=1)
def model() -> QuestionModel:
    """The shipped model, loaded once per process on first use."""
    return QuestionModel()


def understand(text: str, lang: str | None = None) -> Decision:
    """What the bot should do with a chat message: answer, ask, or nothing (see ``policy``)."""
    return model().decide(text, lang)
