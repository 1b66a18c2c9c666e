"""The plan catalog, read from a TOML file and validated at load."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from core.errors import CatalogError, CoreError
from core.money import Money

FREE = "free"


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    price: Money
    period: str  # "month" | "year"
    credits: int
    daily_free_credits: int
    pro_models: bool
    seats: int

    @property
    def months(self) -> int:
        return 12 if self.period == "year" else 1

    @property
    def is_free(self) -> bool:
        return self.id == FREE


@dataclass(frozen=True)
class Bundle:
    id: str
    credits: int
    price: Money


@dataclass(frozen=True)
class Catalog:
    currency: str
    plans: dict[str, Plan]
    bundles: dict[str, Bundle]

    def plan(self, plan_id: str) -> Plan:
        if plan_id not in self.plans:
            raise CoreError("not_found", f"unknown plan {plan_id!r}", plan=plan_id)
        return self.plans[plan_id]

    def bundle(self, bundle_id: str) -> Bundle:
        if bundle_id not in self.bundles:
            raise CoreError("not_found", f"unknown top-up bundle {bundle_id!r}", bundle=bundle_id)
        return self.bundles[bundle_id]

    def paid_plans(self) -> list[Plan]:
        return sorted((p for p in self.plans.values() if not p.is_free), key=lambda p: p.price)

    def is_upgrade(self, old: Plan, new: Plan) -> bool:
        """Dearer per month is an upgrade (Lago compares yearly amounts the same way)."""
        return new.price.minor * old.months > old.price.minor * new.months


def default_catalog_path() -> Path:
    return Path(str(resources.files("core") / "plans.toml"))


def load_catalog(path: str | Path | None = None) -> Catalog:
    path = Path(path) if path else default_catalog_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"plan catalog not found: {path}") from None
    except OSError as exc:  # a directory, no permission, …
        raise CatalogError(f"plan catalog {path} cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"plan catalog {path} is not valid TOML: {exc}") from None
    return parse_catalog(data, str(path))


def parse_catalog(data: dict, where: str = "catalog") -> Catalog:
    currency = data.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        raise CatalogError(f"{where}: 'currency' must be a three-letter code like USD")
    raw_plans = data.get("plans")
    if not isinstance(raw_plans, dict) or FREE not in raw_plans:
        raise CatalogError(f"{where}: a [plans.free] table is required")
    plans = {pid: _plan(pid, raw, currency, where) for pid, raw in raw_plans.items()}
    if plans[FREE].price.minor != 0:
        raise CatalogError(f"{where}: the free plan must cost 0")
    raw_bundles = data.get("bundles", {})
    if not isinstance(raw_bundles, dict):
        raise CatalogError(f"{where}: 'bundles' must be a table of [bundles.NAME] tables")
    bundles = {bid: _bundle(bid, raw, currency, where) for bid, raw in raw_bundles.items()}
    return Catalog(currency, plans, bundles)


def _money(value: object, currency: str, where: str) -> Money:
    if not isinstance(value, str):
        raise CatalogError(f"{where}: price must be a quoted decimal string like \"9.99\"")
    try:
        money = Money.parse(value, currency)
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc}") from None
    if money.minor < 0:
        raise CatalogError(f"{where}: price cannot be negative")
    return money


def _int(raw: dict, key: str, where: str, default: int | None = None, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CatalogError(f"{where}: '{key}' must be a whole number ≥ {minimum}")
    return value


def _plan(pid: str, raw: object, currency: str, where: str) -> Plan:
    here = f"{where}: plan {pid!r}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{here} must be a table")
    period = raw.get("period", "month")
    if period not in ("month", "year"):
        raise CatalogError(f"{here}: period must be month or year")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CatalogError(f"{here}: a name is required")
    price = _money(raw.get("price"), currency, here)
    if pid != FREE and price.minor == 0:
        raise CatalogError(f"{here}: a paid plan needs a price above 0")
    return Plan(
        id=pid,
        name=name,
        price=price,
        period=period,
        credits=_int(raw, "credits", here, 0),
        daily_free_credits=_int(raw, "daily_free_credits", here, 0),
        pro_models=bool(raw.get("pro_models", False)),
        seats=_int(raw, "seats", here, 1, minimum=1),
    )


def _bundle(bid: str, raw: object, currency: str, where: str) -> Bundle:
    here = f"{where}: bundle {bid!r}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{here} must be a table")
    price = _money(raw.get("price"), currency, here)
    if price.minor == 0:
        raise CatalogError(f"{here}: price must be above 0")
    return Bundle(bid, _int(raw, "credits", here, None, minimum=1), price)
