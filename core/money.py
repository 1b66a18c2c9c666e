"""Money as integer minor units with a currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass

# ISO 4217 exponents for the currencies a catalog may use; default 2.
_EXPONENTS = {"JPY": 0, "KRW": 0, "IRR": 0, "KWD": 3, "BHD": 3}


@dataclass(frozen=True, order=True)
class Money:
    currency: str
    minor: int

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("money is an integer number of minor units")

    @property
    def exponent(self) -> int:
        return _EXPONENTS.get(self.currency, 2)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor - other.minor)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")

    def as_decimal_str(self) -> str:
        """'19.99' for 1999 USD: exact, for Babel and for display."""
        sign = "-" if self.minor < 0 else ""
        units, rest = divmod(abs(self.minor), 10**self.exponent)
        return f"{sign}{units}.{rest:0{self.exponent}d}" if self.exponent else f"{sign}{units}"

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """'9.99' → 999 minor units, exactly (no float on the way)."""
        exponent = _EXPONENTS.get(currency, 2)
        text = text.strip()
        negative = text.startswith("-")
        digits = text.lstrip("-")
        units, _, frac = digits.partition(".")
        if not units.isdigit() or (frac and not frac.isdigit()) or len(frac) > exponent:
            raise ValueError(f"not an amount in {currency}: {text!r}")
        minor = int(units) * 10**exponent + int((frac or "0").ljust(exponent, "0") or 0)
        return cls(currency, -minor if negative else minor)

    def __str__(self) -> str:
        return f"{self.as_decimal_str()} {self.currency}"
