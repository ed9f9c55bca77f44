"""Structured logs: one JSON object a line on stdout, as CloudWatch Logs Insights reads them.

log = farm_logger("renderlib.farm.dispatcher")
log_event(log, "launched", job_id=job.id, attempt=0, task=arn)
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_FIELDS = "farm_fields"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, _FIELDS, {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (captured in tests, redirected by tools)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def farm_logger(name: str, level: int | str = logging.INFO) -> logging.Logger:
    """A logger writing JSON lines to stdout (once, however often it is asked for)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        # Lambda's runtime puts its own text handler on the root logger: do not echo there.
        logger.propagate = False
    logger.setLevel(level)
    return logger


def log_event(
    logger: logging.Logger, message: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    logger.log(level, message, extra={_FIELDS: fields})
