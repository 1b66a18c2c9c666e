"""What a flow asks the user interface to show, as plain values.

The Discord adapter and the console render the same values, so the console is
a faithful demo. Text is never translated here: a ``Msg`` carries an English
gettext msgid and its arguments; the language layer renders it at the edge.
Arguments keep their type (datetime, Money, int, Msg) so each language can
format them its own way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Msg:
    """A message id (English source text with {placeholders}) and its arguments."""

    msgid: str
    args: dict[str, Any] = field(default_factory=dict)
    plural: str | None = None  # with plural, args["n"] picks the form

    def __hash__(self) -> int:  # args is a dict; hash by identity of content
        return hash((self.msgid, self.plural, tuple(sorted(self.args.items(), key=lambda kv: kv[0]))))


def M(msgid: str, **args: Any) -> Msg:
    """Shorthand the extractor knows (``pybabel extract -k M``)."""
    return Msg(msgid, args)


def MP(singular: str, plural: str, n: int, **args: Any) -> Msg:
    """A message with gettext plural forms (``-k MP:1,2``); ``n`` picks the form."""
    return Msg(singular, {"n": n, **args}, plural)


@dataclass(frozen=True)
class Button:
    label: Msg
    action: str
    style: str = "secondary"  # primary | secondary | success | danger


@dataclass(frozen=True)
class Option:
    label: Msg
    value: str
    description: Msg | None = None


@dataclass(frozen=True)
class Select:
    placeholder: Msg
    action: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Field:
    name: str
    label: Msg
    max_length: int
    required: bool = False
    long: bool = True
    placeholder: Msg | None = None


@dataclass(frozen=True)
class Form:
    title: Msg
    action: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Reply:
    """One screen: lines of text and at most one set of controls.

    ``form`` is opened by a button whose action equals ``form.action``; the
    adapter shows that button and opens the form when it is pressed, so a form
    can always be reopened from the current step (Discord modals are not
    restart-safe).
    """

    lines: tuple[Msg, ...]
    buttons: tuple[Button, ...] = ()
    select: Select | None = None
    form: Form | None = None
    final: bool = False  # the flow has ended; controls are links out (Undo, Resume)
    receipt: bool = False  # also send by DM when DMs are open
