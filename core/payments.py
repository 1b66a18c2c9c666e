"""The payment-provider port and the simulated provider.

Every charge carries an idempotency key derived from the core's own key, so a
retried charge after a crash is not taken twice (real providers honour the
same contract).
"""

from __future__ import annotations

from dataclasses import dataclass
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


class SimulatedProvider:
    """Deterministic: charge ids derive from the key; a mode makes it misbehave."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.charges: dict[str, Charge] = {}
        self.refunds: dict[str, str] = {}

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
        self.charges[key] = Charge(ids)
        return self.charges[key]

    async def refund(self, charge_id: str, amount: Money, key: str) -> str:
        if self.mode == "fail":
            raise CoreError("payment_failed", "the payment provider did not answer")
        return self.refunds.setdefault(key, f"re_{key}")
