"""The payment-provider port and the simulated provider.

Every charge carries an idempotency key derived from the core's own key, so a
retried charge after a crash is not taken twice (real providers honour the
same contract), and the provider can be asked afterwards whether a charge with
a given key exists (``find_charge``): that is how the core settles a payment
attempt it started but could not finish (core/attempts.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import CoreError
from core.money import Money

SIMULATION_MODES = ("ok", "decline", "fail", "charge_twice")


@dataclass(frozen=True)
class Charge:
    charge_ids: tuple[str, ...]  # two ids when the provider charged twice


class PaymentProvider(Protocol):
    async def charge(self, account_id: str, amount: Money, key: str) -> Charge:
        """Take the money or raise CoreError('payment_declined' | 'payment_failed')."""

    async def refund(self, charge_id: str, amount: Money, key: str) -> str: ...

    async def find_charge(self, key: str) -> Charge | None:
        """The charge taken with this idempotency key, if the provider has one."""


class SimulatedProvider:
    """Deterministic: charge ids derive from the key; a mode makes it misbehave.

    ``ledger``: an optional SQLite file that stands in for the provider's own records,
    so charges and refunds survive the bot's process (kill -9 tests count them there).
    """

    def __init__(self, mode: str = "ok", ledger: str | Path | None = None) -> None:
        self.mode = mode
        self.charges: dict[str, Charge] = {}
        self.refunds: dict[str, str] = {}
        self._ledger: sqlite3.Connection | None = None
        if ledger:
            self._ledger = open_ledger(ledger)
            for key, ids in self._ledger.execute("SELECT key, charge_ids FROM charges"):
                self.charges[key] = Charge(tuple(json.loads(ids)))
            for key, refund_id in self._ledger.execute("SELECT key, refund_id FROM refunds"):
                self.refunds[key] = refund_id

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in SIMULATION_MODES:
            raise ValueError(f"payment simulation must be one of {', '.join(SIMULATION_MODES)}")
        self._mode = value

    async def charge(self, account_id: str, amount: Money, key: str) -> Charge:
        if key in self.charges:
            return self.charges[key]
        if self.mode == "decline":
            raise CoreError("payment_declined", "the card was declined")
        if self.mode == "fail":
            raise CoreError("payment_failed", "the payment provider did not answer")
        ids = (f"ch_{key}",) if self.mode != "charge_twice" else (f"ch_{key}", f"ch_{key}_dup")
        if self._ledger is not None:
            with self._ledger:
                self._ledger.execute(
                    "INSERT OR IGNORE INTO charges (key, account_id, amount, currency, charge_ids, at) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, account_id, amount.minor, amount.currency, json.dumps(ids), time.time()),
                )
        self.charges[key] = Charge(ids)
        return self.charges[key]

    async def refund(self, charge_id: str, amount: Money, key: str) -> str:
        if self.mode == "fail":
            raise CoreError("payment_failed", "the payment provider did not answer")
        if key not in self.refunds and self._ledger is not None:
            with self._ledger:
                self._ledger.execute(
                    "INSERT OR IGNORE INTO refunds (key, charge_id, amount, refund_id, at) VALUES (?, ?, ?, ?, ?)",
                    (key, charge_id, amount.minor, f"re_{key}", time.time()),
                )
        return self.refunds.setdefault(key, f"re_{key}")

    async def find_charge(self, key: str) -> Charge | None:
        return self.charges.get(key)


def open_ledger(path: str | Path) -> sqlite3.Connection:
    """The simulated provider's own records (a small SQLite file, separate from the bot's)."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS charges (key TEXT PRIMARY KEY, account_id TEXT, amount INTEGER, "
                 "currency TEXT, charge_ids TEXT NOT NULL, at REAL)")
    conn.execute("CREATE TABLE IF NOT EXISTS refunds (key TEXT PRIMARY KEY, charge_id TEXT NOT NULL, amount INTEGER, "
                 "refund_id TEXT NOT NULL, at REAL)")
    return conn
