"""Log lines: readable text by default, one JSON object per line with LOG_FORMAT=json.

`logging_config(settings)` is the one configuration, used by the `ordergraph` command
and handed to uvicorn, which applies it again in every worker process. Each GraphQL
operation logs one line (`ordergraph.operation`: INFO with JSON, DEBUG with text) with
its request id, operation name and type, viewer id, duration, statement count and error
codes; never its variables or the response. Whatever a line says, credentials (bearer
tokens, API tokens, JWTs) and email addresses are masked before it is written.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from app.settings import Settings

# Fields a record may carry (logging's `extra`) that a JSON line shows by name.
FIELDS = (
    "request_id",
    "operation",
    "operation_type",
    "viewer_id",
    "duration_ms",
    "statements",
    "error_codes",
    "slow_ms",
    "statement",
    "plan",
)
_SECRETS = re.compile(
    r"(?i:bearer)\s+\S+"  # an Authorization header's credential
    r"|og_[A-Za-z0-9_-]{20,}"  # an API token (app.auth.api_tokens)
    r"|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # a JWT
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def redact(text: str) -> str:
    """`text` with credentials and email addresses masked."""
    return _EMAIL.sub("<email>", _SECRETS.sub("<secret>", text))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the known fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def logging_config(settings: Settings) -> dict[str, Any]:
    """dictConfig for the process (and, through uvicorn's log_config, each worker)."""
    formatter = "json" if settings.log_format == "json" else "text"
    level = settings.log_level.upper()
    handler = {
        "class": "logging.StreamHandler",
        "formatter": formatter,
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"()": TextFormatter},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's own loggers go through the same handler (no second format).
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }
