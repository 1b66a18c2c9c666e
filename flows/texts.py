"""Messages and controls shared by every flow.

Plan names come from the catalog; they are passed as nested ``Msg`` values so
a translator may keep or transliterate them. The shipped catalog's names are
listed below only so that the extractor puts them in the catalogs (a test
checks the list against core/plans.toml).
"""

from __future__ import annotations

from core.plans import FREE, Catalog, Plan
from flows.replies import Button, M, Msg, Reply

# Extraction markers for the names in core/plans.toml (see the module comment).
SHIPPED_PLAN_NAMES = (M("Free"), M("Basic"), M("Plus"), M("Pro"))

# Labels of core.rules.CANCEL_REASONS, in its order (a test checks the keys).
CANCEL_REASON_LABELS = {
    "too_expensive": M("Too expensive"),
    "not_using": M("Not using it enough"),
    "missing_features": M("Missing features"),
    "results_quality": M("Results not good enough"),
    "switching_service": M("Switching to another service"),
    "technical_problems": M("Technical problems"),
    "taking_break": M("Taking a break"),
    "other": M("Other"),
}

# Actions every live step understands (flows.common handles them).
HELP = "help"
CLOSE = "close"


def plan_name(plan: Plan) -> Msg:
    """A plan's name as a message argument: in Persian and Arabic replies it sits in a Unicode isolate."""
    return Msg(plan.name)


def free_plan_name(catalog: Catalog) -> Msg:
    """The Free plan's name, passed like every other plan name (never typed into a message)."""
    return plan_name(catalog.plan(FREE))


QUOTE_MAX = 200  # characters of a user's own text shown back to them


def quoted(text: str, limit: int = QUOTE_MAX) -> str:
    """What a user typed, shown back on one line: spaces and line breaks collapsed, and past
    ``limit`` cut at a word boundary with "…" (the whole text is kept where it was stored)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if flat[len(cut)] != " " and space >= limit // 2:  # mid-word: back to the last whole word
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def price_per_period(plan: Plan) -> Msg:
    if plan.period == "year":
        return M("{price} a year", price=plan.price)
    return M("{price} a month", price=plan.price)


def start_button(kind: str, label: Msg, style: str = "secondary") -> Button:
    """A button that starts a new flow of ``kind`` for whoever presses it."""
    return Button(label, f"start:{kind}", style)


def help_button() -> Button:
    return Button(M("Talk to a moderator"), HELP)


def close_button(label: Msg | None = None) -> Button:
    return Button(label or M("Never mind"), CLOSE)


def live(*buttons: Button, close: bool = True) -> tuple[Button, ...]:
    """The buttons of a step that is still waiting: its own, then a person, then the way out."""
    tail = (help_button(), close_button()) if close else (help_button(),)
    return (*buttons, *tail)


def nothing_changed(*more: Msg, buttons: tuple[Button, ...] = ()) -> Reply:
    return Reply((M("Nothing was changed."), *more), buttons=buttons, final=True)


def not_linked(kind: str) -> Reply:
    lines = [M("Your Discord account is not linked to a product account yet, so I can't see your subscription.")]
    if kind == "credits":
        lines.append(M("Daily free credits and balances belong to a linked account: once you link it, I can tell you "
                       "exactly where your credits are."))
    lines.append(M("Get a one-time link code for your account, then use /link CODE here."))
    return Reply(tuple(lines), buttons=(start_button("help", M("Talk to a moderator")),), final=True)


def expired(kind: str | None) -> Reply:
    again = (start_button(kind, M("Start again"), "primary"),) if kind else (start_button("status", M("Show my subscription")),)
    return Reply((M("This confirmation has expired. Nothing was changed."),), buttons=again, final=True)


def unknown_button() -> Reply:
    """A button the bot cannot place: from an older version of the bot, truncated or forged."""
    return Reply((M("This button no longer works. Nothing was changed; start again with /help."),), final=True)


def not_owner(kind: str) -> Reply:
    return Reply(
        (M("Only the person who started this can use these buttons. Nothing was changed."),),
        buttons=(start_button(kind, M("Start my own")),), final=True,
    )


def busy() -> Reply:
    return Reply((M("Your confirmation is being processed. Please wait a moment."),), final=True)


def no_moderators(final: bool = True) -> Reply:
    """No moderators' channel (MOD_CHANNEL_ID): a request would reach nobody, so none is made."""
    return Reply((M("No moderators' channel is set up for me here, so I can't pass a request on to the moderators. "
                    "Nothing was sent; please ask a moderator in the server directly."),), final=final)


def moderator_will_answer() -> Msg:
    return M("A moderator will get back to you.")
