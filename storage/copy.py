"""Move a database to another backend: ``python -m storage.copy SQLITE_URL POSTGRES_URL``.

Stop the bot first. Then this:

1. opens the source (which must exist and be fully migrated) and migrates the
   target to the same schema version;
2. refuses a target that already holds rows (exit 2, nothing written);
3. copies every table, parents before children (read from the source's foreign
   keys; rows of a self-referencing table, such as a refund's invoice pointing
   at the charge it refunds, in reference order), all in ONE transaction on the
   target, so a failure leaves it empty;
4. verifies: every table's row count, and the ledger — per account, the sum of
   the credit entries, the sum of the buckets' remaining credits and the net of
   the invoices — equal on both sides. It prints them.

Exit status 0 when the copy is verified; 2 with a one-line reason otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.db import Database, open_database
from storage.errors import StorageError

# Keep a multi-row INSERT under both databases' limits on bound parameters.
MAX_PARAMS = 5000

LEDGER_SQL = {
    "credit entries": "SELECT account_id, SUM(delta) AS v FROM credit_entries GROUP BY account_id",
    "bucket remaining": "SELECT account_id, SUM(remaining) AS v FROM credit_buckets GROUP BY account_id",
    "invoices net": "SELECT account_id, SUM(amount) AS v FROM invoices GROUP BY account_id",
}


class CopyError(Exception):
    """The copy was refused or could not be verified (exit status 2)."""


@dataclass
class Table:
    name: str
    columns: list[str]
    types: dict[str, str]
    parents: set[str] = field(default_factory=set)
    # column → referenced column, for foreign keys to the table itself
    self_refs: dict[str, str] = field(default_factory=dict)


@dataclass
class CopyReport:
    counts: dict[str, tuple[int, int]]  # table → (source rows, target rows)
    ledger: dict[str, tuple[int, int]]  # measure → (source total, target total)
    mismatches: list[str]

    @property
    def ok(self) -> bool:
        return not self.mismatches


async def copy_database(source_url: str, target_url: str, out: Callable[[str], None] = print) -> CopyReport:
    if source_url == target_url:
        raise CopyError("the source and the target are the same database")
    if source_url.startswith("sqlite:///"):
        path = source_url.removeprefix("sqlite:///")
        if path != ":memory:" and not Path(path).is_file():
            raise CopyError(f"no SQLite database at {path}")
    source = await open_database(source_url)
    try:
        target = await open_database(target_url)
        try:
            return await _copy(source, target, out)
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy(source: Database, target: Database, out: Callable[[str], None]) -> CopyReport:
    if source.dialect != "sqlite":
        raise CopyError("the source must be a SQLite database (sqlite:///PATH)")
    async with source.read() as tx:
        if not await tx.fetchone("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"):
            raise CopyError("the source has no schema_migrations table: is it this bot's database?")
        tables = await _sqlite_tables(tx)
        source_versions = await _versions(tx)
    applied = await target.migrate()
    if applied:
        out(f"target migrated: {', '.join(applied)}")
    async with target.read() as tx:
        target_versions = await _versions(tx)
        if source_versions != target_versions:
            raise CopyError(
                f"schema versions differ (source {sorted(source_versions)}, target {sorted(target_versions)}): "
                "run `.venv/bin/python -m bot migrate` on the source first")
        for table in tables:
            if (await tx.fetchone(f"SELECT COUNT(*) AS n FROM {table.name}"))["n"]:
                raise CopyError(f"the target is not empty (table {table.name} has rows); copy only into a new database")

    order = _dependency_order(tables)
    try:
        async with source.read() as src, target.transaction() as dst:
            for table in order:
                rows = _reference_order(table, await src.fetchall(f"SELECT * FROM {table.name}"))
                await _insert_all(dst, table, [_coerce(table, r) for r in rows])
                out(f"copied {table.name}: {len(rows)} rows")
    except CopyError:
        raise
    except Exception as exc:  # the target refused a row: the transaction rolled back, nothing stays
        raise CopyError(f"the copy failed and was rolled back, the target is still empty: "
                        f"{type(exc).__name__}: {exc}") from exc

    return await verify(source, target, [t.name for t in order], out)


async def verify(source: Database, target: Database, tables: list[str], out: Callable[[str], None]) -> CopyReport:
    counts: dict[str, tuple[int, int]] = {}
    mismatches: list[str] = []
    async with source.read() as src, target.read() as dst:
        out(f"{'table':<20} {'source':>10} {'target':>10}")
        for name in tables:
            sql = f"SELECT COUNT(*) AS n FROM {name}"
            a, b = (await src.fetchone(sql))["n"], (await dst.fetchone(sql))["n"]
            counts[name] = (a, b)
            out(f"{name:<20} {a:>10} {b:>10}{'' if a == b else '   MISMATCH'}")
            if a != b:
                mismatches.append(f"{name}: {a} rows in the source, {b} in the target")
        ledger: dict[str, tuple[int, int]] = {}
        out(f"{'ledger':<20} {'source':>10} {'target':>10}")
        for measure, sql in LEDGER_SQL.items():
            a_rows = {r["account_id"]: int(r["v"] or 0) for r in await src.fetchall(sql)}
            b_rows = {r["account_id"]: int(r["v"] or 0) for r in await dst.fetchall(sql)}
            a, b = sum(a_rows.values()), sum(b_rows.values())
            ledger[measure] = (a, b)
            differing = sorted(k for k in a_rows.keys() | b_rows.keys() if a_rows.get(k) != b_rows.get(k))
            out(f"{measure:<20} {a:>10} {b:>10}{'' if not differing else f'   MISMATCH ({len(differing)} accounts)'}")
            if differing:
                mismatches.append(f"{measure} differ for {len(differing)} accounts, e.g. {differing[0]}")
    out("verified: the target matches the source" if not mismatches else "NOT verified: " + "; ".join(mismatches))
    return CopyReport(counts, ledger, mismatches)


async def _versions(tx) -> set[int]:
    return {r["version"] for r in await tx.fetchall("SELECT version FROM schema_migrations")}


async def _sqlite_tables(tx) -> list[Table]:
    names = [r["name"] for r in await tx.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name <> 'schema_migrations' ORDER BY name")]
    tables = []
    for name in names:
        info = await tx.fetchall(f"PRAGMA table_info({name})")
        table = Table(name, [c["name"] for c in info], {c["name"]: (c["type"] or "").upper() for c in info})
        for fk in await tx.fetchall(f"PRAGMA foreign_key_list({name})"):
            if fk["table"] == name:
                table.self_refs[fk["from"]] = fk["to"]
            else:
                table.parents.add(fk["table"])
        tables.append(table)
    return tables


def _dependency_order(tables: list[Table]) -> list[Table]:
    """Parents before children (a stable topological sort by name)."""
    by_name = {t.name: t for t in tables}
    done: list[Table] = []
    placed: set[str] = set()
    while len(done) < len(tables):
        ready = [t for t in tables if t.name not in placed and t.parents & by_name.keys() <= placed]
        if not ready:
            cycle = sorted(t.name for t in tables if t.name not in placed)
            raise CopyError(f"foreign keys form a cycle between {', '.join(cycle)}")
        for table in ready:
            done.append(table)
            placed.add(table.name)
    return done


def _reference_order(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a self-referencing table, each after the row it points at."""
    if not table.self_refs:
        return rows
    ordered: list[dict[str, Any]] = []
    seen: dict[str, set[Any]] = {to: set() for to in table.self_refs.values()}
    pending = rows
    while pending:
        later = []
        for row in pending:
            if all(row[col] is None or row[col] in seen[to] for col, to in table.self_refs.items()):
                ordered.append(row)
                for to, ids in seen.items():
                    ids.add(row[to])
            else:
                later.append(row)
        if len(later) == len(pending):
            raise CopyError(f"{table.name}: {len(later)} rows point at rows that do not exist")
        pending = later
    return ordered


def _coerce(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    """SQLite stores what it is given; PostgreSQL wants the declared type."""
    values = []
    for column in table.columns:
        value, kind = row[column], table.types[column]
        if value is not None:
            if "INT" in kind and not isinstance(value, int):
                value = int(value)
            elif kind.startswith("TEXT") and not isinstance(value, str):
                value = str(value)
        values.append(value)
    return tuple(values)


async def _insert_all(tx, table: Table, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    width = len(table.columns)
    per_statement = max(1, MAX_PARAMS // width)
    placeholders = "(" + ", ".join("?" * width) + ")"
    columns = ", ".join(table.columns)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        sql = f"INSERT INTO {table.name} ({columns}) VALUES " + ", ".join([placeholders] * len(chunk))
        await tx.execute(sql, *[v for row in chunk for v in row])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m storage.copy",
        description="Copy this bot's SQLite database into a new, empty PostgreSQL database, then verify it.")
    parser.add_argument("source", metavar="SQLITE_URL", help="e.g. sqlite:///data/bot.db")
    parser.add_argument("target", metavar="POSTGRES_URL", help="e.g. postgresql://bot@localhost/bot")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if not args.source.startswith("sqlite:///"):
        print("error: the source must be a sqlite:///PATH URL", file=sys.stderr)
        return 2
    if not args.target.startswith(("postgresql://", "postgres://")):
        print("error: the target must be a postgresql:// URL", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(copy_database(args.source, args.target))
    except (CopyError, StorageError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0 if report.ok else 2


if __name__ == "__main__":
    sys.exit(main())
