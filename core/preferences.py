"""Per Discord user: saved language, recent language, renewal-reminder opt-in."""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock, to_ts
from storage.db import Database


@dataclass(frozen=True)
class Preferences:
    language: str | None = None
    recent_language: str | None = None
    reminders: bool = False


class UserPreferences:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def get(self, discord_id: str) -> Preferences:
        async with self.db.read() as tx:
            row = await tx.fetchone(
                "SELECT language, recent_language, reminders FROM discord_users WHERE discord_id = ?", str(discord_id))
        if not row:
            return Preferences()
        return Preferences(row["language"], row["recent_language"], bool(row["reminders"]))

    async def _set(self, discord_id: str, column: str, value) -> None:
        if column not in ("language", "recent_language", "reminders"):  # an identifier: never from input
            raise ValueError(f"not a preference column: {column!r}")
        async with self.db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO discord_users (discord_id, {column}, updated_at) VALUES (?, ?, ?) "
                f"ON CONFLICT (discord_id) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at",
                str(discord_id), value, to_ts(self.clock.now()),
            )

    async def set_language(self, discord_id: str, language: str | None) -> None:
        await self._set(discord_id, "language", language)

    async def remember_language(self, discord_id: str, language: str) -> None:
        await self._set(discord_id, "recent_language", language)

    async def set_reminders(self, discord_id: str, enabled: bool) -> None:
        await self._set(discord_id, "reminders", 1 if enabled else 0)
