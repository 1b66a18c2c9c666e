"""Idempotency keys: every command carries one, and its result is stored under it.

The same key with the same request gets the first result back and writes nothing (a
double click, a retry after a lost answer); the same key with another request is refused
with ``idempotency_mismatch``, so a reused key never hides a different change. What "the
same request" is: the operation and its parameters, hashed (``request_hash``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from core.clock import to_ts
from core.errors import CoreError
from core.rules import MAX_KEY
from storage.db import Tx


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY:
        raise CoreError("invalid", f"an idempotency key of 1 to {MAX_KEY} characters is required")


def request_hash(operation: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([operation, params], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def prior(tx: Tx, key: str) -> dict[str, Any] | None:
    """What is stored under ``key``: its request_hash and result, or None."""
    return await tx.fetchone("SELECT request_hash, result FROM idempotency_keys WHERE key = ?", key)


def replay(stored: dict[str, Any] | None, hashed: str, key: str) -> str | None:
    """The stored result when this request was made already; None for a new key; refused
    when the key was used for another request."""
    if stored is None or stored.get("request_hash") is None:
        return None
    if stored["request_hash"] != hashed:
        raise CoreError("idempotency_mismatch", "this key was used for a different request", key=key)
    return stored["result"]


async def remember(tx: Tx, key: str, operation: str, hashed: str, result: str, at: datetime) -> None:
    """Store the result under the key, in the change's transaction (a second writer of the same
    key fails on its unique row, and its re-run replays this one)."""
    await tx.write(
        "INSERT INTO idempotency_keys (key, operation, request_hash, result, created_at) VALUES (?, ?, ?, ?, ?)",
        key, operation, hashed, result, to_ts(at),
    )
