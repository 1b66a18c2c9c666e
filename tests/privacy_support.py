"""For the forgetting tests: a search of the whole database, and a user with data everywhere.

``rows_holding(db, needle)`` reads the schema from the database itself (every table, every
column, whatever its type, cast to text), so a table added by a later migration is searched
too. It does not share code with core/privacy_scan.py: the test must not trust what it tests.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from core import outbox
from core.service import SubscriptionCore
from storage.db import Database


def markers(name: str) -> tuple[str, str, str, str]:
    """The free texts ``name`` writes: a cancellation comment, refund details, a help note and
    a comment typed in a conversation not finished yet (unique strings the search can find)."""
    return tuple(f"MARKER-{name}-{what}-7d1f" for what in ("comment", "refund", "help", "typed"))

# Kept whole: the business keeps them (the rows, not the Discord id in them).
KEPT_TABLES = ("invoices", "credit_buckets", "credit_entries", "audit_log", "subscriptions", "accounts")


async def columns(db: Database) -> list[tuple[str, str]]:
    async with db.read() as tx:
        if db.dialect == "postgresql":
            found = await tx.fetchall(
                "SELECT c.table_name AS t, c.column_name AS c FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'")
        else:
            found = await tx.fetchall(
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                "WHERE m.type = 'table'")
    return sorted((r["t"], r["c"]) for r in found)


async def rows_holding(db: Database, needle: str) -> list[tuple[str, str, str]]:
    """(table, column, value) for every stored value containing ``needle``, in any column, where
    it is not part of a longer word or number (a short test id inside a uuid is no hit)."""
    alone = re.compile(rf"(?<![0-9A-Za-z]){re.escape(needle)}(?![0-9A-Za-z])")
    hits = []
    for table, column in await columns(db):
        async with db.read() as tx:
            found = await tx.fetchall(
                f'SELECT CAST("{column}" AS TEXT) AS v FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE ?',
                f"%{needle}%")
        hits += [(table, column, r["v"]) for r in found if alone.search(r["v"])]
    return hits


async def count_rows(db: Database, tables=KEPT_TABLES) -> dict[str, int]:
    async with db.read() as tx:
        return {t: (await tx.fetchone(f"SELECT COUNT(*) AS n FROM {t}"))["n"] for t in tables}


@dataclass
class Someone:
    discord_id: str
    account_id: str
    invoice_id: str


async def someone_with_data_everywhere(core: SubscriptionCore, discord_id: str, name: str) -> Someone:
    """A paying customer linked by a /link code, with a language, reminders, a cancellation with
    a comment, a refund request with details (denied, so a DM is owed), a help request with a
    note, an unfinished conversation holding what they typed, and a mod-log line naming them."""
    actor = f"discord:{discord_id}"
    comment, refund_details, help_note, typed = markers(name)
    account = await core.create_account(f"{name}@example.com", key=f"signup:{name}", plan="plus")
    code, _ = await core.issue_link_code(account.account_id, key=f"code:{name}")
    await core.link_discord(code, discord_id, key=f"link:{name}")
    await core.users.set_language(discord_id, "fa")
    await core.users.remember_language(discord_id, "fa")
    await core.users.set_reminders(discord_id, True)
    await core.cancel(account.account_id, "other", comment, key=f"cancel:{name}", actor=actor)
    [invoice] = await core.invoices(account.account_id)
    case = await core.cases.open_refund(account.account_id, invoice.id, "other", refund_details,
                                        key=f"refund:{name}", discord_id=discord_id)
    await core.cases.decide(case.id, False, key=f"deny:{name}", actor="moderator:42", reason="not this time")
    await core.cases.open_help(discord_id, account.account_id,
                               {"topic": "help", "kind": "cancel", "step": "comment", "details": help_note,
                                "data": {"comment": typed}}, key=f"help:{name}")
    now = int(core.clock.now().timestamp())
    async with core.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO flows (id, owner, account_id, kind, step, data, version, expires_at, created_at, updated_at) "
            "VALUES (?, ?, ?, 'cancel', 'comment', ?, 1, ?, ?, ?)",
            f"flow-{name}", discord_id, account.account_id, json.dumps({"comment": typed}),
            now + 3600, now, now)
        await outbox.enqueue(tx, key=f"line:{name}", kind="mod_line", recipient="moderators",
                             payload={"text": f"<@42> granted 5 credits to <@{discord_id}>."}, now=int(time.time()))
    return Someone(discord_id, account.account_id, invoice.id)
