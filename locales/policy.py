"""From the model's probabilities to what the bot does: answer, ask, or stay quiet.

- **answer** when one question is clearly ahead: its probability reaches
  ``answer``;
- **ask** "Did you mean…?" when it is not, but the likeliest questions
  together are likely enough (their sum reaches ``ask``): the two likeliest,
  and a third when it reaches ``choice``;
- otherwise **none**: in a support channel the bot stays quiet; when it is
  mentioned or in a DM it shows its menu.

The thresholds are chosen by ``locales/train.py`` on out-of-fold scores of the
training data, never on the evaluation sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .intents import INTENTS

LABELS = INTENTS  # the model's classes, in this order
NONE = LABELS.index("none")


@dataclass(frozen=True)
class Thresholds:
    answer: float
    ask: float
    choice: float

    def as_dict(self) -> dict[str, float]:
        return {"answer": self.answer, "ask": self.ask, "choice": self.choice}


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer" | "ask" | "none"
    intents: tuple[str, ...]  # answer: one; ask: two or three, likeliest first; none: ()
    probabilities: tuple[float, ...] = ()  # per label, in LABELS order

    @property
    def label(self) -> str:
        """As ``python -m bot intent`` prints it: ``cancel``, ``none``, ``ask:cancel,status``."""
        if self.kind == "answer":
            return self.intents[0]
        if self.kind == "ask":
            return "ask:" + ",".join(self.intents)
        return "none"

    def scores(self) -> list[tuple[str, float]]:
        """Labels by probability, highest first."""
        return sorted(zip(LABELS, self.probabilities), key=lambda pair: -pair[1])


def decide_from_probabilities(p: np.ndarray, t: Thresholds) -> Decision:
    probabilities = tuple(float(x) for x in p)
    order = [int(i) for i in np.argsort(-p, kind="stable")]
    top = order[0]
    if top != NONE and p[top] >= t.answer:
        return Decision("answer", (LABELS[top],), probabilities)
    questions = [i for i in order if i != NONE][:3]
    chosen = questions[:2] + [i for i in questions[2:] if p[i] >= t.choice]
    if p[chosen[0]] + p[chosen[1]] + sum(p[i] for i in chosen[2:]) >= t.ask:
        return Decision("ask", tuple(LABELS[i] for i in chosen), probabilities)
    return Decision("none", (), probabilities)
