"""Logging set-up, one place: text or JSON lines (AMPYRE_LOG_FORMAT), and the noisy
libraries quietened so that what is left is what an operator needs.

JSON: one object per line with `time` (UTC, ISO 8601), `level`, `logger`, `message`, the
record's extras (e.g. the operator audit line's `token`, `method`, `target`, `status`)
and `exception` when there is one.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Libraries whose INFO lines say nothing an operator needs: httpx logs every webhook
# request; Alembic narrates each migration step and the schema check at start-up;
# websockets logs every connection opened and closed, which the gateway already logs
# with the station id.
QUIET = ("httpx", "httpcore", "alembic", "websockets.server")

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}  # uvicorn's ANSI-coloured copy
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one that writes `fmt` lines to `stream`
    (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt.lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # uvicorn's own logging set-up (if anything in the process ran one) gives its loggers
    # handlers, propagate=False and levels of their own; ours run uvicorn with
    # log_config=None, so its lines must reach the root handler in our format and level.
    for name in UVICORN_LOGGERS:
        lg = logging.getLogger(name)
        for old in list(lg.handlers):
            lg.removeHandler(old)
        lg.propagate = True
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
