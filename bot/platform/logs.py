"""Structured logs: one line per record, ``key=value`` pairs a log shipper can parse, the bot's token masked.

Resident text and locations stay out of the log at INFO: the core logs ids, numbers and states only.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(char in text for char in ' "=\\\n\r\t'):
        return text
    for raw, written in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = text.replace(raw, written)
    return f'"{text}"'


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… msg="…"`` (+ ``exc="…"``, + any ``extra`` fields), newlines escaped."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                fields[key] = value
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        line = " ".join(f"{key}={_quote(value)}" for key, value in fields.items())
        for secret in self.secrets:
            line = line.replace(secret, "<token>")
        return line


def configure_logging(level: str, secrets: tuple[str, ...] = ()) -> None:
    """Logs to stderr as key=value lines; the libraries that log request URLs (which carry the token) are quieted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, KeyValueFormatter):  # configured before (tests call main() repeatedly)
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # a library warning becomes one key=value line too, not raw text on stderr
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
