"""The storage port's error, and the words every backend uses for it.

A backend turns what the database cannot do right now (busy, read-only, full,
connection gone) into ``StorageError``; constraint violations and mistakes in our
SQL stay the driver's own exceptions. The bot answers "I'm very busy right now,
nothing was changed" when the message says "busy" (bot/flow_ui.py), so these
words are part of the port: the same meaning gets the same words on each backend.
"""

from __future__ import annotations


class StorageError(Exception):
    """The database could not do what was asked (busy, read-only, full, bad URL)."""


# The transaction was rolled back: nothing was changed, and trying again later may work.
BUSY = "the database is busy; try again in a moment"
READ_ONLY = "the database is read-only; nothing was changed"
FULL = "the database is full; nothing was changed"
# No "busy" here on purpose: a connection lost during COMMIT may have committed, so the
# bot must not say "nothing was changed" (a press again replays by its idempotency key).
LOST = "the connection to the database was lost; try again in a moment"
