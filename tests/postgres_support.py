"""PostgreSQL for tests: each test gets its own schema on the server named by
``TEST_POSTGRES_DSN``, so tests never see each other's rows and need no cleanup
order.

Without ``TEST_POSTGRES_DSN`` the PostgreSQL variants are skipped, except in CI
(``CI=true``), where a missing or unreachable server fails the run: CI must
never pass by skipping the backend it is meant to test.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV = "TEST_POSTGRES_DSN"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def postgres_dsn() -> str:
    """The server's DSN, or skip (fail in CI) when there is none."""
    dsn = os.environ.get(ENV, "").strip()
    if not dsn:
        if in_ci():
            pytest.fail(f"{ENV} is not set in CI: the PostgreSQL tests must run there")
        pytest.skip(f"{ENV} is not set")
    return dsn


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN with ``search_path`` set (asyncpg passes unknown query keys as server settings)."""
    parts = urlsplit(dsn)
    query = f"{parts.query}&search_path={schema}" if parts.query else f"search_path={schema}"
    return urlunsplit(parts._replace(query=query))


class Schema:
    """A fresh, empty schema; ``url`` points a backend at it; ``drop()`` removes it."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.name = f"t_{uuid.uuid4().hex[:16]}"
        self.url = with_search_path(dsn, self.name)

    async def create(self) -> Schema:
        await self._run(f"CREATE SCHEMA {self.name}")
        return self

    async def drop(self) -> None:
        await self._run(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")

    async def _run(self, sql: str) -> None:
        import asyncpg

        try:
            conn = await asyncpg.connect(self.dsn, timeout=10)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            where = urlsplit(self.dsn)
            message = f"PostgreSQL at {where.hostname}:{where.port} ({ENV}) is unreachable: {exc}"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


async def fresh_schema() -> Schema:
    return await Schema(postgres_dsn()).create()


def gather_from_processes(procs: list, results, timeout: float) -> list:
    """Start ``procs``, collect each one's ``(status, pid, value)`` from ``results`` and return
    the values of those that reported "ok" (a list each, joined); fail naming any that did not.
    Every process is joined, or killed when it does not end, whatever happens."""
    for proc in procs:
        proc.start()
    out, errors = [], []
    try:
        for _ in procs:
            status, pid, value = results.get(timeout=timeout)
            (out.extend(value) if status == "ok" else errors.append(f"process {pid}:\n{value}"))
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    assert not errors, "\n".join(errors)
    return out
