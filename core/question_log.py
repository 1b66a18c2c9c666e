"""What the bot decided about each chat message addressed to it, for the weekly report.

Only the decision is kept: the likeliest question (or ``none``), the reply language, what the
bot did and when. Never the message's text, and not who wrote it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from core.clock import to_ts
from storage.db import Database

# answered: a reply on the topic; asked: "Did you mean…?"; menu: spoken to (a mention, a DM) but
# not placed: the menu of topics, or a short word back to a greeting; quiet: not placed, unprompted
# in a support channel, so no reply at all.
DECISIONS = ("answered", "asked", "menu", "quiet")
UNPLACED = ("menu", "quiet")


async def record_question(db: Database, *, intent: str, language: str, decision: str, at: datetime) -> None:
    if decision not in DECISIONS:
        raise ValueError(f"unknown question decision {decision!r}; expected one of {', '.join(DECISIONS)}")
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO question_log (id, intent, language, decision, created_at) VALUES (?, ?, ?, ?, ?)",
            uuid.uuid4().hex, intent, language, decision, to_ts(at),
        )


async def forget_before(db: Database, before: datetime) -> int:
    """Delete the decisions recorded before ``before``; returns how many."""
    async with db.transaction() as tx:
        return await tx.execute("DELETE FROM question_log WHERE created_at < ?", to_ts(before))
