"""Train the question model and export what the bot loads (``make model``).

    python -m locales.train            # train, choose thresholds, write the model files
    python -m locales.train --compare  # also print the candidate models side by side

Needs scikit-learn (the ``train`` extra); the running bot never imports this
module, only the exported weights (``locales/model.py``).

What it does, deterministically (same data, same files):
1. reads every labelled file under ``data/train/``; each file is one author;
2. turns each message into hashed n-gram counts (``locales/features.py``),
   weighs them with TF-IDF and adds the lexicon's guess as one extra feature;
3. scores every message with a model that never saw its author
   (cross-validation grouped by file), so the scores look like those of a
   stranger's message;
4. fits a temperature on those scores (calibration), then picks the answer and
   ask thresholds on them (``locales/policy.py`` says how they are used);
5. trains the final model on everything and writes ``data/intent_model.npz``
   (weights) and ``data/intent_model.json`` (labels, thresholds, data hash).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from .features import BUCKETS, feature_counts
from .intents import recognise_intent
from .model import (
    LABELS,
    MODEL_JSON,
    MODEL_WEIGHTS,
    training_digest,
    training_files,
    read_labelled,
)
from .policy import Thresholds, decide_from_probabilities

FOLDS = 5
# Out-of-fold targets the thresholds must meet: stricter than the product's
# targets (97% of answers right, at most 3% of chat answered or asked,
# choices on at most 12% of messages) so that a new voice still meets those.
ANSWER_PRECISION = 0.985
CHAT_SPOKEN_TO = 0.02
CHOICES_OFFERED = 0.10


@dataclass(frozen=True)
class Candidate:
    name: str
    words: bool  # word uni/bigrams beside the character n-grams
    lexicon: bool  # the lexicon's guess as a feature
    c: float  # inverse regularisation strength


CANDIDATES = (
    Candidate("chars", False, False, 10.0),
    Candidate("chars+words", True, False, 10.0),
    Candidate("chars+words+lexicon", True, True, 10.0),
    Candidate("chars+words+lexicon, C=3", True, True, 3.0),
    Candidate("chars+words+lexicon, C=30", True, True, 30.0),
)
CHOSEN = CANDIDATES[2]


def count_matrix(texts: list[str], words: bool = True) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for row, text in enumerate(texts):
        counts = feature_counts(text, words=words)
        rows.extend([row] * len(counts))
        cols.extend(counts.keys())
        vals.extend(counts.values())
    return sparse.csr_matrix(
        (np.array(vals, dtype=np.float64), (rows, cols)), shape=(len(texts), BUCKETS)
    )


def idf_of(counts: sparse.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency, as scikit-learn's TfidfTransformer computes it."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=BUCKETS)
    return (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)


def tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    weighted = counts.copy()
    weighted.data = (1 + np.log(weighted.data)) * idf[weighted.indices]
    norms = np.sqrt(weighted.multiply(weighted).sum(axis=1)).A1
    norms[norms == 0] = 1
    return sparse.csr_matrix(sparse.diags(1 / norms) @ weighted)


def lexicon_matrix(texts: list[str], langs: list[str]) -> sparse.csr_matrix:
    cols = [LABELS.index(recognise_intent(t, lang)) for t, lang in zip(texts, langs)]
    return sparse.csr_matrix(
        (np.ones(len(texts)), (np.arange(len(texts)), cols)), shape=(len(texts), len(LABELS))
    )


def design(counts, idf, lexicon) -> sparse.csr_matrix:
    x = tfidf(counts, idf)
    return sparse.hstack([x, lexicon]).tocsr() if lexicon is not None else x


def fit(x, y, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=3000, tol=1e-5)
    return model.fit(x, y)


def out_of_fold(candidate: Candidate, texts, langs, y, groups) -> np.ndarray:
    """Log-probabilities of every message from a model that never saw its author."""
    counts = count_matrix(texts, candidate.words)
    lexicon = lexicon_matrix(texts, langs) if candidate.lexicon else None
    scores = np.zeros((len(texts), len(LABELS)))
    for train, test in GroupKFold(n_splits=FOLDS).split(texts, y, groups):
        idf = idf_of(counts[train])
        lex_train = lexicon[train] if lexicon is not None else None
        lex_test = lexicon[test] if lexicon is not None else None
        model = fit(design(counts[train], idf, lex_train), y[train], candidate.c)
        scores[np.ix_(test, model.classes_)] = model.decision_function(
            design(counts[test], idf, lex_test)
        )
    return scores


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    def loss(t: float) -> float:
        p = softmax(scores, t)
        return -float(np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

    return float(minimize_scalar(loss, bounds=(0.05, 20), method="bounded").x)


@dataclass
class Outcome:
    answered_right: float  # of questions
    resolved: float  # of questions: answered right, or the right topic among the choices
    wrong: float  # wrong answers, of all messages
    chat_spoken_to: float  # of `none`: answered or asked
    choices: float  # of all messages
    silent: float  # of questions: nothing said


def outcome(labels: list[str], decisions) -> Outcome:
    questions = [i for i, lab in enumerate(labels) if lab != "none"]
    chat = [i for i, lab in enumerate(labels) if lab == "none"]
    n = len(labels)
    right = sum(decisions[i].kind == "answer" and decisions[i].intents[0] == labels[i] for i in questions)
    resolved = right + sum(
        decisions[i].kind == "ask" and labels[i] in decisions[i].intents for i in questions
    )
    wrong = sum(
        decisions[i].kind == "answer" and decisions[i].intents[0] != labels[i] for i in range(n)
    )
    spoken = sum(decisions[i].kind != "none" for i in chat)
    asked = sum(d.kind == "ask" for d in decisions)
    silent = sum(decisions[i].kind == "none" for i in questions)
    q = max(len(questions), 1)
    return Outcome(right / q, resolved / q, wrong / n, spoken / max(len(chat), 1), asked / n, silent / q)


def choose_thresholds(probabilities: np.ndarray, labels: list[str]) -> tuple[Thresholds, Outcome]:
    """The thresholds that resolve the most questions within the out-of-fold targets."""
    best: tuple[float, Thresholds, Outcome] | None = None
    for answer in np.arange(0.30, 0.96, 0.025):
        for ask in np.arange(0.20, 0.96, 0.025):
            for choice in (0.05, 0.10, 0.15):
                t = Thresholds(float(round(answer, 3)), float(round(ask, 3)), choice)
                decisions = [decide_from_probabilities(p, t) for p in probabilities]
                o = outcome(labels, decisions)
                answered = o.answered_right + (o.wrong * len(labels) / max(1, sum(lab != "none" for lab in labels)))
                precision = o.answered_right / answered if answered else 1.0
                if precision < ANSWER_PRECISION or o.chat_spoken_to > CHAT_SPOKEN_TO:
                    continue
                if o.choices > CHOICES_OFFERED:
                    continue
                score = o.resolved + o.answered_right * 0.5
                if best is None or score > best[0]:
                    best = (score, t, o)
    if best is None:
        raise SystemExit("no thresholds meet the targets on out-of-fold scores")
    return best[1], best[2]


def load_training() -> tuple[list[str], list[str], np.ndarray, list[str]]:
    texts, langs, labels, groups = [], [], [], []
    for path in training_files():
        for text, lang, label in read_labelled(path):
            texts.append(text)
            langs.append(lang)
            labels.append(label)
            groups.append(path.name)
    y = np.array([LABELS.index(lab) for lab in labels])
    return texts, langs, y, groups


def compare(texts, langs, y, groups) -> None:
    labels = [LABELS[i] for i in y]
    print("candidate | out-of-fold accuracy | log-loss (calibrated) | resolved | answered right | wrong")
    for candidate in CANDIDATES:
        scores = out_of_fold(candidate, texts, langs, y, groups)
        t = fit_temperature(scores, y)
        p = softmax(scores, t)
        accuracy = float(np.mean(p.argmax(axis=1) == y))
        logloss = -float(np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))
        _, o = choose_thresholds(p, labels)
        print(
            f"{candidate.name} | {accuracy:.1%} | {logloss:.3f} | {o.resolved:.1%} | "
            f"{o.answered_right:.1%} | {o.wrong:.2%}",
            flush=True,
        )


def export(texts, langs, y, groups) -> dict:
    candidate = CHOSEN
    labels = [LABELS[i] for i in y]
    scores = out_of_fold(candidate, texts, langs, y, groups)
    temperature = fit_temperature(scores, y)
    thresholds, oof = choose_thresholds(softmax(scores, temperature), labels)

    counts = count_matrix(texts, candidate.words)
    idf = idf_of(counts)
    model = fit(design(counts, idf, lexicon_matrix(texts, langs)), y, candidate.c)
    assert list(model.classes_) == list(range(len(LABELS)))
    weights = model.coef_.T.astype(np.float32)  # one row per feature: a message gathers its rows
    np.savez_compressed(
        MODEL_WEIGHTS,
        words=weights[:BUCKETS].astype(np.float16),
        lexicon=weights[BUCKETS:],
        bias=model.intercept_.astype(np.float32),
        idf=idf.astype(np.float16),
    )
    meta = {
        "labels": list(LABELS),
        "candidate": candidate.name,
        "temperature": round(temperature, 4),
        "thresholds": thresholds.as_dict(),
        "training_messages": len(texts),
        "training_digest": training_digest(),
        "out_of_fold": {k: round(v, 4) for k, v in vars(oof).items()},
    }
    MODEL_JSON.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m locales.train")
    parser.add_argument("--compare", action="store_true", help="print the candidates side by side")
    args = parser.parse_args(argv)
    texts, langs, y, groups = load_training()
    print(f"{len(texts)} messages from {len(set(groups))} files", flush=True)
    if args.compare:
        compare(texts, langs, y, groups)
    meta = export(texts, langs, y, groups)
    print(json.dumps(meta, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
