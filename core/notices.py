"""What the core owes the moderators (and a refund's requester) about cases: a hook it calls
in the transaction that opens or decides a case, so the notice exists exactly when the
change committed.

``OutboxNotices``, the default, owes them through the outbox (core/outbox.py): the bot's
delivery loop posts them, also after an outage or a restart, and renders them when it
sends them (bot/cases.py). A decision's notices carry what it did (``DecisionEffects``), so
they are written from the decision itself. Another front end passes its own ``CaseNotices``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from core import outbox
from core.views import DecisionEffects
from storage.db import Tx

# The moderators' channel, as an outbox recipient: the bot knows which channel it is.
MODERATORS = "moderators"


class CaseNotices(Protocol):
    async def opened(self, tx: Tx, case_id: str) -> None:
        """A case was opened (a refund request submitted, a moderator asked for)."""

    async def decided(self, tx: Tx, case: dict[str, Any], effects: DecisionEffects) -> None:
        """A case was decided (``case``: its row as it was before); ``effects``: what that did."""


class OutboxNotices:
    """Owed through the outbox, keyed by the case, so a re-run never owes one twice."""

    async def opened(self, tx: Tx, case_id: str) -> None:
        await outbox.enqueue(tx, key=f"post:{case_id}", kind="case_post", recipient=MODERATORS,
                             payload={"case": case_id}, now=int(time.time()))

    async def decided(self, tx: Tx, case: dict[str, Any], effects: DecisionEffects) -> None:
        # The moderators' log line and, for a refund request, a DM to the user.
        now = int(time.time())
        payload = {"case": case["id"], "effects": effects.as_details()}
        await outbox.enqueue(tx, key=f"log:{case['id']}", kind="case_decision_log", recipient=MODERATORS,
                             payload=payload, now=now)
        if case["kind"] == "refund" and (case["discord_id"] or "").isdigit():
            await outbox.enqueue(tx, key=f"decision:{case['id']}", kind="refund_decision",
                                 recipient=case["discord_id"], payload=payload, now=now)
