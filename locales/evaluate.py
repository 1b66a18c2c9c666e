"""How the question model does on the frozen evaluation sets, and the lexicon beside it.

    python -m locales.evaluate            # a table per set, as BENCHMARKS.md shows them

Each message is judged as the first message of a user we know nothing about:
the language is chosen from the message alone, then the decision is made.
The figures (all as fractions):

- answered right: of the questions (every label but ``none``), answered with
  the right topic;
- resolved: of the questions, answered right or the right topic among the
  "Did you mean…?" choices;
- wrong answers: of all messages, answered with a wrong topic (an answer to
  ordinary chat counts here too);
- said to chat: of the ``none`` messages, answered or asked about;
- choices offered: of all messages, "Did you mean…?" shown;
- silence: of the questions, nothing said.

The lexicon alone never asks: it answers or stays silent.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .detect import choose_language
from .intents import recognise_intent
from .model import DATA_DIR, read_labelled, understand
from .policy import Decision

EVAL_DIR = DATA_DIR / "eval"
EVAL_SETS = ("set_a", "set_b")


@dataclass(frozen=True)
class Judged:
    lang: str
    label: str
    decision: Decision


def eval_files(name: str) -> list[Path]:
    return sorted((EVAL_DIR / name).glob("*.tsv"))


def load_set(name: str) -> list[tuple[str, str, str]]:
    return [row for path in eval_files(name) for row in read_labelled(path)]


def lexicon_decision(text: str, lang: str | None) -> Decision:
    intent = recognise_intent(text, lang)
    return Decision("none", ()) if intent == "none" else Decision("answer", (intent,))


def judge(
    rows: Iterable[tuple[str, str, str]],
    decide: Callable[[str, str | None], Decision] = understand,
) -> list[Judged]:
    return [Judged(lang, label, decide(text, choose_language(text))) for text, lang, label in rows]


@dataclass(frozen=True)
class Figures:
    messages: int
    questions: int
    answered_right: float
    resolved: float
    wrong: float
    said_to_chat: float | None
    choices: float
    silence: float


def figures(judged: list[Judged]) -> Figures:
    questions = [j for j in judged if j.label != "none"]
    chat = [j for j in judged if j.label == "none"]

    def right(j: Judged) -> bool:
        return j.decision.kind == "answer" and j.decision.intents[0] == j.label

    q = max(len(questions), 1)
    n = max(len(judged), 1)
    return Figures(
        messages=len(judged),
        questions=len(questions),
        answered_right=sum(map(right, questions)) / q,
        resolved=sum(right(j) or (j.decision.kind == "ask" and j.label in j.decision.intents)
                     for j in questions) / q,
        wrong=sum(j.decision.kind == "answer" and not right(j) for j in judged) / n,
        said_to_chat=sum(j.decision.kind != "none" for j in chat) / len(chat) if chat else None,
        choices=sum(j.decision.kind == "ask" for j in judged) / n,
        silence=sum(j.decision.kind == "none" for j in questions) / q,
    )


def by(judged: list[Judged], key: Callable[[Judged], str]) -> dict[str, Figures]:
    groups: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        groups[key(j)].append(j)
    return {name: figures(group) for name, group in sorted(groups.items())}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


HEADER = ("answered right", "resolved", "wrong answers", "said to chat", "choices offered",
          "silence on questions")


def row(name: str, f: Figures) -> str:
    cells = (f.answered_right, f.resolved, f.wrong, f.said_to_chat, f.choices, f.silence)
    return "| " + " | ".join([name, str(f.messages), *map(_pct, cells)]) + " |"


def table(title: str, rows: dict[str, Figures]) -> str:
    lines = [f"| {title} | messages | " + " | ".join(HEADER) + " |",
             "|---" * (len(HEADER) + 2) + "|"]
    lines += [row(name, f) for name, f in rows.items()]
    return "\n".join(lines)


def report(name: str) -> str:
    """Markdown tables for one frozen set: the model, then the lexicon alone."""
    rows = load_set(name)
    model = judge(rows)
    lexicon = judge(rows, lexicon_decision)
    overall = {"model": figures(model), "lexicon alone": figures(lexicon)}
    parts = [
        f"#### {name}: overall",
        table("", overall),
        f"#### {name}: model, per language",
        table("language", by(model, lambda j: j.lang)),
        (
            f"#### {name}: model, per intent (answered right, resolved and silence count that "
            "intent's questions; wrong answers count messages of that label answered with "
            "another topic)"
        ),
        table("intent", by(model, lambda j: j.label)),
        f"#### {name}: lexicon alone, per language",
        table("language", by(lexicon, lambda j: j.lang)),
    ]
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv else None) or list(EVAL_SETS)
    for name in names:
        if not eval_files(name):
            print(f"{name}: no files under {EVAL_DIR.name}/{name}", file=sys.stderr)
            return 2
        print(report(name) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
