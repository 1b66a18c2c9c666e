"""LOG_FORMAT (text or json), and what no log line holds, in either format: the bot's token,
an interaction's token, or the text of a message.

- ``json``: one JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
  ``event`` (the message), and ``command``, ``flow``, ``outcome``, ``duration_ms`` where the
  line has them (bot/observe.py), ``error`` with a traceback.
- The bot's token is replaced wherever it would appear, and so are the interaction tokens in
  Discord webhook and callback URLs (each lets anyone answer as the bot for 15 minutes).
- discord.py logs whole gateway events and request bodies (message text) at DEBUG, and the
  database drivers their statements' parameters: those payloads are left out of every line.
Our own log lines name messages, users and channels by id, never by their text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("command", "flow", "outcome", "duration_ms")  # the structured extras a line may carry
OMITTED = "<payload omitted>"
REDACTED = "<redacted>"
_INTERACTION_TOKEN = re.compile(r"(/(?:interactions|webhooks)/\d+/)[A-Za-z0-9_.\-]{20,}")


# Libraries that log whole payloads at DEBUG: gateway events and request bodies (discord.py),
# statements with their parameters (aiosqlite, asyncpg).
PAYLOAD_LOGGERS = ("discord", "aiosqlite", "asyncpg")


def _opaque(value):
    """A library's log argument, unless it may carry a payload: only numbers and short plain
    words stay (a dict, a list, a statement, a JSON body are left out)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and len(value) <= 120 and value[:1] not in ("{", "["):
        return value
    return OMITTED


class LibraryPayloads(logging.Filter):
    """Leaves the libraries' payloads out of their log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in PAYLOAD_LOGGERS and record.args:
            if isinstance(record.args, dict):
                record.args = {key: _opaque(value) for key, value in record.args.items()}
            else:
                record.args = tuple(_opaque(arg) for arg in record.args)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class Redacting(logging.Formatter):
    """Another formatter's line with the secrets replaced: the last word before output."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        line = _INTERACTION_TOKEN.sub(r"\1" + REDACTED, self.inner.format(record))
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


def log_handler(log_format: str, token: str | None, stream=None) -> logging.Handler:
    """A handler writing ``log_format`` lines to ``stream`` (stderr), secrets and payloads left out."""
    handler = logging.StreamHandler(stream)
    inner = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(Redacting(inner, [token]))
    handler.addFilter(LibraryPayloads())
    return handler


def configure_logging(settings) -> None:
    """The process's logging, from LOG_LEVEL and LOG_FORMAT."""
    logging.basicConfig(level=settings.log_level,
                        handlers=[log_handler(settings.log_format, settings.discord_token)])
