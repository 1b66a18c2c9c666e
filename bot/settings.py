"""Settings from the environment and .env, validated at start.

A missing or malformed setting raises ``SettingsError`` naming it; the entry
points turn that into one line on stderr and exit status 2, so the bot never
starts half-configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

LOCALES = ("en", "fa", "ar", "es", "tr", "ru", "de", "fr", "pt")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_URL = "sqlite:///data/bot.db"  # when DATABASE_URL is not set
DEMO_DATABASE_URL = "sqlite:///data/demo.db"  # when it is not set and CLOCK=simulated
LOG_FORMATS = ("text", "json")


class SettingsError(Exception):
    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class Settings:
    discord_token: str | None = field(default=None, repr=False)  # never printed
    database_url: str = DATABASE_URL
    support_channel_ids: tuple[int, ...] = ()
    moderator_role_ids: tuple[int, ...] = ()
    mod_channel_id: int | None = None
    guild_ids: tuple[int, ...] = ()
    default_locale: str = "en"
    plans_file: str | None = None
    max_accounts_per_device: int = 2
    flow_timeout_minutes: int = 15
    reminder_days: int = 3
    clock: str = "system"
    shard_count: int | None = None
    shard_ids: tuple[int, ...] = ()
    log_level: str = "INFO"
    log_format: str = "text"
    metrics_addr: tuple[str, int] | None = None  # (host, port) of /healthz and /metrics; None: off
    payment_simulation: str = "ok"
    payment_simulation_ledger: str | None = None
    discord_api_base: str | None = None
    reminder_sweep_seconds: int = 300
    extra: dict = field(default_factory=dict)


def _ids(name: str, raw: str | None) -> tuple[int, ...]:
    if not raw or not raw.strip():
        return ()
    out = []
    for part in raw.split(","):
        part = part.strip()
        if not part.isdigit():
            raise SettingsError(name, f"expected comma-separated numeric Discord ids, got {part!r}")
        out.append(int(part))
    return tuple(out)


def _int(name: str, raw: str | None, default: int, minimum: int = 1, maximum: int = 10**6) -> int:
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit() or not (minimum <= int(raw) <= maximum):
        raise SettingsError(name, f"expected a whole number from {minimum} to {maximum}, got {raw!r}")
    return int(raw)


def _shard_ids(raw: str | None) -> tuple[int, ...]:
    """'0,1' or a range '0-3'."""
    if not raw or not raw.strip():
        return ()
    raw = raw.strip()
    if "-" in raw:
        lo, _, hi = raw.partition("-")
        if not (lo.strip().isdigit() and hi.strip().isdigit()) or int(lo) > int(hi):
            raise SettingsError("SHARD_IDS", f"expected a range like 0-3 or a list like 0,1, got {raw!r}")
        return tuple(range(int(lo), int(hi) + 1))
    return _ids("SHARD_IDS", raw)


def _host_port(name: str, raw: str | None) -> tuple[str, int] | None:
    """'127.0.0.1:9108', '[::1]:9108' or '0.0.0.0:9108'; empty is None (off). Port 0: any free port."""
    if not raw or not raw.strip():
        return None
    raw = raw.strip()
    host, sep, port = raw.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535 or any(c.isspace() or c in "/[]" for c in host):
        raise SettingsError(name, f"expected host:port such as 127.0.0.1:9108 (empty: off), got {raw!r}")
    return host, int(port)


def load_settings(env: dict[str, str] | None = None, env_file: str | Path = ".env") -> Settings:
    """Read the process environment over the .env file (the environment wins)."""
    values: dict[str, str | None] = {}
    if env is None:
        if Path(env_file).is_file():
            values.update(dotenv_values(env_file))
        values.update(os.environ)
    else:
        values.update(env)
    get = values.get

    token = (get("DISCORD_TOKEN") or "").strip() or None
    clock = (get("CLOCK") or "system").strip()
    if clock not in ("system", "simulated"):
        raise SettingsError("CLOCK", f"expected system or simulated, got {clock!r}")
    # Simulated time gets a database of its own unless one is named: its records never mix
    # with a real-time run's (a renewal "in December" while simulated time says November).
    database_url = (get("DATABASE_URL") or "").strip() or (DEMO_DATABASE_URL if clock == "simulated" else DATABASE_URL)
    if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise SettingsError("DATABASE_URL", "must look like sqlite:///data/bot.db or postgresql://user@host/db")
    mod_channel = _ids("MOD_CHANNEL_ID", get("MOD_CHANNEL_ID"))
    if len(mod_channel) > 1:
        raise SettingsError("MOD_CHANNEL_ID", "expected one channel id")
    default_locale = (get("DEFAULT_LOCALE") or "en").strip()
    default_locale = {"pt_BR": "pt", "pt-BR": "pt"}.get(default_locale, default_locale)
    if default_locale not in LOCALES:
        raise SettingsError("DEFAULT_LOCALE", f"expected one of {', '.join(LOCALES)}, got {default_locale!r}")
    plans_file = (get("PLANS_FILE") or "").strip() or None
    if plans_file and not Path(plans_file).is_file():
        raise SettingsError("PLANS_FILE", f"no such file: {plans_file}")
    log_level = (get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}")
    log_format = (get("LOG_FORMAT") or "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise SettingsError("LOG_FORMAT", f"expected text or json, got {log_format!r}")
    payment = (get("PAYMENT_SIMULATION") or "ok").strip()
    if payment not in ("ok", "decline", "fail", "charge_twice"):
        raise SettingsError("PAYMENT_SIMULATION", "expected ok, decline, fail or charge_twice")
    shard_count_raw = get("SHARD_COUNT")
    shard_count = _int("SHARD_COUNT", shard_count_raw, 0) or None
    shard_ids = _shard_ids(get("SHARD_IDS"))
    if shard_ids and not shard_count:
        raise SettingsError("SHARD_IDS", "needs SHARD_COUNT as well")
    if shard_count and any(s >= shard_count for s in shard_ids):
        raise SettingsError("SHARD_IDS", f"every shard id must be below SHARD_COUNT ({shard_count})")
    if token is not None and (len(token) < 20 or any(c.isspace() for c in token)):
        raise SettingsError("DISCORD_TOKEN", "does not look like a bot token (copy it from the Developer Portal, Bot page)")

    return Settings(
        discord_token=token,
        database_url=database_url,
        support_channel_ids=_ids("SUPPORT_CHANNEL_IDS", get("SUPPORT_CHANNEL_IDS")),
        moderator_role_ids=_ids("MODERATOR_ROLE_IDS", get("MODERATOR_ROLE_IDS")),
        mod_channel_id=mod_channel[0] if mod_channel else None,
        guild_ids=_ids("GUILD_IDS", get("GUILD_IDS")),
        default_locale=default_locale,
        plans_file=plans_file,
        max_accounts_per_device=_int("MAX_ACCOUNTS_PER_DEVICE", get("MAX_ACCOUNTS_PER_DEVICE"), 2),
        flow_timeout_minutes=_int("FLOW_TIMEOUT_MINUTES", get("FLOW_TIMEOUT_MINUTES"), 15, maximum=24 * 60),
        reminder_days=_int("REMINDER_DAYS", get("REMINDER_DAYS"), 3, maximum=27),
        clock=clock,
        shard_count=shard_count,
        shard_ids=shard_ids,
        log_level=log_level,
        log_format=log_format,
        metrics_addr=_host_port("METRICS_ADDR", get("METRICS_ADDR")),
        payment_simulation=payment,
        payment_simulation_ledger=(get("PAYMENT_SIMULATION_LEDGER") or "").strip() or None,
        discord_api_base=(get("DISCORD_API_BASE") or "").strip() or None,
        reminder_sweep_seconds=_int("REMINDER_SWEEP_SECONDS", get("REMINDER_SWEEP_SECONDS"), 300, minimum=5, maximum=86400),
    )
