"""What ``/privacy`` and ``/admin forget`` say (bot/privacy.py): plain ``Msg`` values from the
core's views, rendered in the language bound for the interaction."""

from __future__ import annotations

from bot.commands import LANGUAGE_NAMES
from bot.moderation import mention, plain
from core.privacy import Forgotten, KeptData
from flows.replies import MP, M, Msg

# Translators: a slash command name: one lowercase word, no spaces.
PRIVACY = M("privacy")
DESCRIPTION = M("What I keep about you, and how to have it deleted")
FORGET_DESCRIPTION = M("Delete what the bot keeps about a user (their request)")

KEEP_HEADER = M("Here is what I keep about you:")
NOTHING_KEPT = M(
    "I keep nothing about you: no linked account, settings, conversations or requests."
)
BOOKS_STAY = M(
    "Invoices, payments and the record of changes to your subscription are kept for the "
    "business's accounts. If you ask me to forget you, they stay, but no longer linked to "
    "your Discord account."
)
FORGET_ME = M("Forget me")
CONFIRM_LINES = (
    M(
        "Forget you? I will delete your language and reminder settings, our conversations, the "
        "messages I owe you and the texts you wrote to me, and unlink your Discord account from "
        "your product account."
    ),
    M("Your subscription itself does not change. This cannot be undone."),
)
YES_FORGET = M("Yes, forget me")
KEEP_MY_DATA = M("Keep my data")
FORGOTTEN = M(
    "Done: I have forgotten you. Nothing I keep is linked to your Discord account any more."
)
RELINK = M("To manage your subscription here again, link it with a new code (/link).")
NOTHING_LEFT = M("I keep nothing about you now. Nothing was changed.")


def _language_line(code: str | None) -> Msg:
    if not code:
        return M("- Language you chose: none (I answer in the language you write in)")
    return M("- Language you chose: {language}", language=LANGUAGE_NAMES.get(code, code))


def overview(kept: KeptData) -> list[Msg]:
    """What ``/privacy`` shows: one line per kind of data kept."""
    if not kept.anything:
        return [NOTHING_KEPT]
    lines = [
        KEEP_HEADER,
        M("- Linked product account: {email}", email=kept.email)
        if kept.email
        else M("- Linked product account: none"),
        _language_line(kept.language),
    ]
    if kept.recent_language:
        recent = LANGUAGE_NAMES.get(kept.recent_language, kept.recent_language)
        lines.append(M("- Language you last wrote to me in: {language}", language=recent))
    return [
        *lines,
        M("- Renewal reminders: on") if kept.reminders else M("- Renewal reminders: off"),
        M("- Conversations with me: {n}", n=kept.conversations),
        M(
            "- Requests to the moderators: {n} ({open} open)",
            n=kept.requests,
            open=kept.open_requests,
        ),
        M("- Messages from me to you (receipts, reminders, decisions): {n}", n=kept.messages),
        M("- Texts you wrote (cancellation comments, refund details, notes): {n}", n=kept.texts),
        BOOKS_STAY,
    ]


def forgotten_lines(done: Forgotten) -> list[Msg]:
    """The answer to the confirmation; a replayed forgetting (a double click) gets the same."""
    if done.rows == 0:
        return [NOTHING_LEFT]
    was_linked = bool(dict(done.tables).get("accounts"))
    return [FORGOTTEN, *([RELINK] if was_linked else [])]


def moderator_lines(done: Forgotten, user_id: int) -> list[Msg]:
    """The moderator's answer to /admin forget."""
    if done.rows == 0:
        return [M("Nothing is kept about {user}. Nothing was changed.", user=mention(user_id))]
    return [
        MP(
            "Forgot {user}: {n} record deleted or made anonymous.",
            "Forgot {user}: {n} records deleted or made anonymous.",
            done.rows,
            user=mention(user_id),
        ),
        M("Invoices, payments and the audit trail stay, without their Discord id."),
    ]


def mod_log_line(moderator: int, reason: str) -> Msg:
    """The mod-log's line: it names the moderator only (a line naming the user would keep
    their id in the outbox until it is posted); ``reason`` without the user's id already."""
    return M(
        "{moderator} had the bot forget a user's data. Reason: {reason}",
        moderator=mention(moderator),
        reason=plain(reason),
    )
