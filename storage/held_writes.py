"""Writes held back and sent together: one round trip for several statements (PostgreSQL).

``Tx.write`` (storage/db.py) lets a backend hold a change until the next statement that
needs the database as changed (a read, an ``execute``, the commit). PostgreSQL then sends
the held writes in as few statements as is safe: consecutive writes become one statement
of data-modifying CTEs,

    WITH w1 AS (INSERT …), w2 AS (UPDATE …) INSERT …

which PostgreSQL runs as one. Its parts all see the database as it was before the
statement, and a row changed by two parts gets only one of the changes; so a group never
holds two writes to the same table (the later one starts the next group, which sees the
earlier), and a write that reads another table (a sub-select) is sent on its own. Foreign
keys are checked at the end of the statement, so a row and the rows referring to it may
share one. Parameters keep their order: the ``?`` of the joined text are the writes' own,
one after the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

Write = tuple[str, tuple[Any, ...]]

_TARGET = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_READS = re.compile(r"\bSELECT\b", re.IGNORECASE)


def target(sql: str) -> str | None:
    """The table a write changes; None for a statement that cannot share a group."""
    match = _TARGET.match(sql)
    if match is None or _READS.search(sql):
        return None
    return match.group(1).lower()


def groups(writes: Sequence[Write]) -> list[list[Write]]:
    """Consecutive writes cut where a table repeats or a write cannot share a group."""
    out: list[list[Write]] = []
    tables: set[str] = set()
    for write in writes:
        table = target(write[0])
        if not out or table is None or table in tables or None in tables:
            out.append([write])
            tables = {table}
        else:
            out[-1].append(write)
            tables.add(table)
    return out


def joined(group: Sequence[Write]) -> Write:
    """One statement doing what the group's writes do."""
    if len(group) == 1:
        return group[0]
    *first, (last_sql, last_params) = group
    parts = ", ".join(f"w{n} AS ({sql})" for n, (sql, _) in enumerate(first, 1))
    params = tuple(p for _, ps in first for p in ps) + tuple(last_params)
    return f"WITH {parts} {last_sql}", params
