"""Keeping the bot's decision about a chat message for the weekly report (core/question_log.py).

Only the decision is kept: the likeliest question or ``none``, the reply language and what the
bot did. Never the text, never the author. Recording is a courtesy to the product team: a
failure is logged and the user is answered all the same.
"""

from __future__ import annotations

import logging

from core.question_log import record_question
from locales import Decision

log = logging.getLogger(__name__)


def decision_name(decision: Decision, spoken_to: bool) -> str:
    """answered, asked ("Did you mean…?"), menu (spoken to but not placed: the menu, or a word back
    to a greeting) or quiet (not placed, unprompted: no reply)."""
    if decision.kind == "answer":
        return "answered"
    if decision.kind == "ask":
        return "asked"
    return "menu" if spoken_to else "quiet"


async def record_decision(core, decision: Decision, lang: str, *, spoken_to: bool) -> None:
    """The decision as made, before the per-user reply limit (which only holds back the reply)."""
    try:
        await record_question(
            core.db,
            intent=decision.intents[0] if decision.intents else "none",
            language=lang,
            decision=decision_name(decision, spoken_to),
            at=core.clock.now(),
        )
    except Exception:
        log.exception("recording a question decision failed")
