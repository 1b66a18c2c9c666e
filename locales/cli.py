"""``python -m bot lang`` and ``python -m bot intent``: one message a line in, one answer a line out.

Each line is judged on its own, as the first message of a user we know
nothing about (no saved choice, no recent language, no Discord locale), so the
output does not depend on the order of the lines.
"""

from __future__ import annotations

import sys
from typing import TextIO

from .detect import choose_language
from .model import understand


def _lines(stdin: TextIO):
    for line in stdin:
        yield line.rstrip("\r\n")


def run_lang(stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    stdout.writelines(choose_language(text) + "\n" for text in _lines(stdin))
    stdout.flush()
    return 0


def run_intent(
    stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, explain: bool = False
) -> int:
    """The decision for each line: ``cancel``, ``none`` or ``ask:cancel,status``; with
    ``explain``, a tab, the language, and the four likeliest labels with their scores."""
    for text in _lines(stdin):
        lang = choose_language(text)
        decision = understand(text, lang)
        line = decision.label
        if explain:
            top = " ".join(f"{label}={p:.3f}" for label, p in decision.scores()[:4])
            line += f"\t{lang}\t{top}"
        stdout.write(line + "\n")
    stdout.flush()
    return 0
