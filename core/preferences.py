"""Per Discord user: saved language, recent language, renewal-reminder opt-in.

``get`` may answer from a short-lived per-process copy (``ttl`` seconds; 0, the default,
reads every time): the bot reads a user's preferences on every interaction. Several
processes share the database, so a copy is only trusted for ``ttl``: a choice made through
another process shows here within that time; one made through this process (``_set``,
``forget``) drops the copy at once."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.clock import Clock, to_ts
from storage.db import Database


@dataclass(frozen=True)
class Preferences:
    language: str | None = None
    recent_language: str | None = None
    reminders: bool = False


MAX_CACHED = 10_000  # users; the copy is dropped whole beyond this (bounded memory)


class UserPreferences:
    def __init__(self, db: Database, clock: Clock, ttl: float = 0.0) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self._cached: dict[str, tuple[float, Preferences]] = {}  # discord id -> (read at, monotonic; prefs)
        self._writes = 0  # this process's writes so far: a read that overlapped one is not kept

    async def get(self, discord_id: str) -> Preferences:
        discord_id = str(discord_id)
        if self.ttl > 0:
            hit = self._cached.get(discord_id)
            if hit is not None and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
        read_at, writes = time.monotonic(), self._writes  # before the read: trusted ttl from it at most
        async with self.db.read() as tx:
            row = await tx.fetchone(
                "SELECT language, recent_language, reminders FROM discord_users WHERE discord_id = ?", discord_id)
        prefs = Preferences(row["language"], row["recent_language"], bool(row["reminders"])) if row else Preferences()
        if self.ttl > 0 and writes == self._writes:
            if len(self._cached) >= MAX_CACHED:
                self.drop_copies()
            self._cached[discord_id] = (read_at, prefs)
        return prefs

    def drop_copies(self) -> None:
        """Drop every copy: the next ``get`` of each user reads the database."""
        self._cached.clear()

    def forget(self, discord_id: str) -> None:
        """Drop this process's copy (the row is being changed or deleted here)."""
        self._writes += 1
        self._cached.pop(str(discord_id), None)

    async def _set(self, discord_id: str, column: str, value) -> None:
        if column not in ("language", "recent_language", "reminders"):  # an identifier: never from input
            raise ValueError(f"not a preference column: {column!r}")
        self.forget(discord_id)
        try:
            async with self.db.transaction() as tx:
                await tx.execute(
                    f"INSERT INTO discord_users (discord_id, {column}, updated_at) VALUES (?, ?, ?) "
                    f"ON CONFLICT (discord_id) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at",
                    str(discord_id), value, to_ts(self.clock.now()),
                )
        finally:
            self.forget(discord_id)  # again: a read that began before the write must not keep its row

    async def set_language(self, discord_id: str, language: str | None) -> None:
        await self._set(discord_id, "language", language)

    async def remember_language(self, discord_id: str, language: str) -> None:
        await self._set(discord_id, "recent_language", language)

    async def set_reminders(self, discord_id: str, enabled: bool) -> None:
        await self._set(discord_id, "reminders", 1 if enabled else 0)
