"""Keeping right-to-left replies readable when Latin text sits inside them.

A line whose first strong character is Latin (a plan name, "$19.99", an ID)
gets a left-to-right base direction, and its punctuation lands on the wrong
side. So in Persian and Arabic every line starts with RLM, and every argument
that contains Latin letters or digits is wrapped in a first-strong isolate
(FSI ... PDI): "Plus" stays one left-to-right run inside the Persian sentence,
and user text keeps its own direction without spilling into ours.
"""

from __future__ import annotations

import unicodedata

RLM = "\u200f"
LRI = "\u2066"
FSI = "\u2068"
PDI = "\u2069"


def _weak_or_ltr(ch: str) -> bool:
    # Left-to-right letters and marks (L), European digits (EN) and currency
    # or percent signs (ET) reorder next to right-to-left text. Persian digits
    # are EN too, but after Persian letters they read as Arabic numbers (UAX #9
    # rule W2), so a Persian date or count sits in the sentence as it is.
    return unicodedata.bidirectional(ch) in ("L", "EN", "ET") and not "\u06f0" <= ch <= "\u06f9"


def isolate(fragment: str) -> str:
    """Wrap ``fragment`` in FSI ... PDI when it carries left-to-right text, Latin digits or money."""
    if any(_weak_or_ltr(ch) for ch in fragment):
        return f"{FSI}{fragment}{PDI}"
    return fragment


def rtl_lines(text: str) -> str:
    """Start every non-empty line with RLM so the paragraph reads right to left."""
    return "\n".join(
        RLM + line if line and not line.startswith(RLM) else line for line in text.split("\n")
    )
