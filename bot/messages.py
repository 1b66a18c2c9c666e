"""The words several parts of the bot say alike, defined once.

Their msgids are the catalogs' keys (locales/), so a change here is a change for every
translator; a message one module says alone stays in that module.
"""

from __future__ import annotations

from flows.replies import M
from flows.texts import start_button

SOMETHING_WRONG = M("Something went wrong on our side. Please try again in a moment.")
BUSY = M(
    "I'm very busy right now and couldn't finish that. Nothing was changed; please try again in a moment."
)
PRESS_AGAIN = M("That took longer than it should. Please press the button again.")
NOTHING_CHANGED = M("Nothing was changed.")
NOT_YOURS = M("Only the person who asked can use this button.")
NO_MOD_LOG = M("(No mod-log channel is set, so this was not posted there: set MOD_CHANNEL_ID.)")

# Moderators' command options (/admin and its kin).
THE_DISCORD_USER = M("The Discord user")
WHY_KEPT = M("Why (kept in the audit trail)")

# Opens a "talk to a moderator" case for whoever presses it.
TALK_TO_MODERATOR = start_button("help", M("Talk to a moderator"))
