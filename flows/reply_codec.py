"""Reply values to JSON and back, so a flow row holds the screen it last showed.

That screen is what a form is reopened from (Discord modals are not
restart-safe) and what a late second press of a finished confirm is shown
again. Arguments keep their types: datetime, date, Money, int, str, nested Msg.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from core.clock import from_ts, to_ts
from core.money import Money
from flows.replies import Button, Field, Form, Msg, Option, Reply, Select


def _arg(value: Any) -> Any:
    if isinstance(value, Msg):
        return {"msg": msg_to_json(value)}
    if isinstance(value, Money):
        return {"money": [value.currency, value.minor]}
    if isinstance(value, dt.datetime):
        return {"at": to_ts(value)}
    if isinstance(value, dt.date):
        return {"day": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    raise TypeError(f"a message argument of type {type(value).__name__} cannot be stored")


def _from_arg(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    (tag, value), = raw.items()
    return {
        "msg": lambda v: msg_from_json(v),
        "money": lambda v: Money(v[0], v[1]),
        "at": from_ts,
        "day": dt.date.fromisoformat,
        "dec": Decimal,
    }[tag](value)


def msg_to_json(msg: Msg) -> dict:
    return {"id": msg.msgid, "plural": msg.plural, "args": {k: _arg(v) for k, v in msg.args.items()}}


def msg_from_json(raw: dict) -> Msg:
    return Msg(raw["id"], {k: _from_arg(v) for k, v in raw["args"].items()}, raw["plural"])


def _opt_msg(msg: Msg | None) -> dict | None:
    return msg_to_json(msg) if msg else None


def _from_opt_msg(raw: dict | None) -> Msg | None:
    return msg_from_json(raw) if raw else None


def reply_to_json(reply: Reply) -> dict:
    select = reply.select
    form = reply.form
    return {
        "lines": [msg_to_json(m) for m in reply.lines],
        "buttons": [[msg_to_json(b.label), b.action, b.style] for b in reply.buttons],
        "select": None if select is None else {
            "placeholder": msg_to_json(select.placeholder), "action": select.action,
            "options": [[msg_to_json(o.label), o.value, _opt_msg(o.description)] for o in select.options],
        },
        "form": None if form is None else {
            "title": msg_to_json(form.title), "action": form.action,
            "fields": [[f.name, msg_to_json(f.label), f.max_length, f.required, f.long, _opt_msg(f.placeholder)]
                       for f in form.fields],
        },
        "final": reply.final,
        "receipt": reply.receipt,
    }


def reply_from_json(raw: dict) -> Reply:
    select = raw["select"]
    form = raw["form"]
    return Reply(
        lines=tuple(msg_from_json(m) for m in raw["lines"]),
        buttons=tuple(Button(msg_from_json(label), action, style) for label, action, style in raw["buttons"]),
        select=None if select is None else Select(
            msg_from_json(select["placeholder"]), select["action"],
            tuple(Option(msg_from_json(label), value, _from_opt_msg(desc)) for label, value, desc in select["options"]),
        ),
        form=None if form is None else Form(
            msg_from_json(form["title"]), form["action"],
            tuple(Field(name, msg_from_json(label), max_length, required, long, _from_opt_msg(placeholder))
                  for name, label, max_length, required, long, placeholder in form["fields"]),
        ),
        final=raw["final"],
        receipt=raw["receipt"],
    )
