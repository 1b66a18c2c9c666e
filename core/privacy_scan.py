"""One Discord id, found and rewritten anywhere in the database (core/privacy.py's tool).

The schema is read from the database itself (``sqlite_master`` on SQLite,
``information_schema`` on PostgreSQL), so a table or column added by a later migration is
searched too. A value holding the id is rewritten, not guessed at: in plain text a mention
``<@ID>`` becomes ``@forgotten`` and the bare id ``forgotten`` (``discord:ID`` becomes
``discord:forgotten``); a JSON object or array is rewritten value by value (and key by
key), so it stays valid JSON, and the user's own free texts in it become null.

Only the id standing alone counts: not next to another letter or digit, so a longer number
or a hex id (a uuid) that merely contains its digits is left alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

FORGOTTEN = "forgotten"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
# Column types that hold text (JSON is stored as TEXT too: the migrations run on both backends).
_TEXT_TYPES = ("TEXT", "CHAR", "CLOB")


def _valid_id(discord_id: str) -> str:
    value = str(discord_id).strip()
    if not value.isdigit():
        raise ValueError(f"not a Discord id: {discord_id!r}")
    return value


def mentions(discord_id: str) -> re.Pattern[str]:
    """The id as a mention (``<@ID>``, ``<@!ID>``) or standing alone in any text."""
    value = re.escape(_valid_id(discord_id))
    return re.compile(rf"<@!?{value}>|(?<![0-9A-Za-z]){value}(?![0-9A-Za-z])")


def scrub_text(text: str, discord_id: str) -> str:
    """``text`` without the id: ``<@ID>`` → ``@forgotten``, ``ID`` → ``forgotten``."""
    return mentions(discord_id).sub(
        lambda m: "@" + FORGOTTEN if m.group(0).startswith("<") else FORGOTTEN, text
    )


def scrub_json(value: Any, discord_id: str, texts: frozenset[str] = frozenset()) -> Any:
    """A decoded JSON value without the id, and with every string in ``texts`` made null."""
    if isinstance(value, dict):
        return {scrub_text(str(k), discord_id): scrub_json(v, discord_id, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, discord_id, texts) for v in value]
    if isinstance(value, str):
        return None if value in texts else scrub_text(value, discord_id)
    if isinstance(value, int) and not isinstance(value, bool) and str(value) == _valid_id(discord_id):
        return FORGOTTEN
    return value


def scrub_stored(raw: str, discord_id: str, texts: frozenset[str] = frozenset()) -> str:
    """A stored column value without the id: JSON objects and arrays value by value."""
    if raw[:1] in ("{", "["):
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        if isinstance(decoded, (dict, list)):
            return json.dumps(scrub_json(decoded, discord_id, texts), sort_keys=True, default=str)
    return scrub_text(raw, discord_id)


async def text_columns(tx, dialect: str) -> dict[str, list[str]]:
    """Every table of the schema and its text columns, read from the database."""
    found: dict[str, list[str]] = {}
    if dialect == "postgresql":
        rows = await tx.fetchall(
            "SELECT c.table_name AS t, c.column_name AS c, c.data_type AS type "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position")
    else:
        rows = await tx.fetchall(
            "SELECT m.name AS t, p.name AS c, p.type AS type FROM sqlite_master m "
            "JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' "
            "ORDER BY m.name, p.cid")
    for row in rows:
        table, column = row["t"], row["c"]
        if not (_IDENTIFIER.fullmatch(table) and _IDENTIFIER.fullmatch(column)):
            raise ValueError(f"unexpected identifier in the schema: {table}.{column}")
        found.setdefault(table, [])
        kind = (row["type"] or "").upper()
        if not kind or any(t in kind for t in _TEXT_TYPES):  # SQLite: no type may hold text
            found[table].append(column)
    return found


async def holding(tx, table: str, column: str, discord_id: str) -> list[str]:
    """The distinct values of ``table.column`` that hold the id (identifiers from the schema)."""
    found = await tx.fetchall(
        f'SELECT DISTINCT "{column}" AS v FROM "{table}" WHERE "{column}" LIKE ?', f"%{_valid_id(discord_id)}%")
    pattern = mentions(discord_id)
    return [r["v"] for r in found if isinstance(r["v"], str) and pattern.search(r["v"])]


async def rewrite(tx, table: str, columns: list[str], discord_id: str,
                  texts: frozenset[str] = frozenset()) -> int:
    """Rewrite every value of ``columns`` that holds the id; how many row updates it took."""
    changed = 0
    for column in columns:
        for old in await holding(tx, table, column, discord_id):
            new = scrub_stored(old, discord_id, texts)
            if new != old:
                changed += await tx.execute(
                    f'UPDATE "{table}" SET "{column}" = ? WHERE "{column}" = ?', new, old)
    return changed


async def delete_holding(tx, table: str, columns: list[str], discord_id: str) -> int:
    """Delete the rows of ``table`` where any of ``columns`` holds the id."""
    deleted = 0
    for column in columns:
        for old in await holding(tx, table, column, discord_id):
            deleted += await tx.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', old)
    return deleted
