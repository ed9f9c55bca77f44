"""Structured logs for farm processes: one JSON object per line, and EMF metrics.

Every line carries ``time``, ``level``, ``message``, ``logger`` and the context
given to ``configure_logging`` (the worker's ``jobId`` and ``attempt``), plus any
fields passed as ``extra={"fields": {...}}``. CloudWatch Logs reads the lines as
JSON; a line with an ``_aws`` member is CloudWatch embedded metric format (EMF) and
becomes a metric in namespace ``BabulusRender`` with dimension ``Cluster``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, TextIO

METRICS_NAMESPACE = "BabulusRender"


class JsonFormatter(logging.Formatter):
    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.context = dict(context or {})

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            **self.context,
        }
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(
    context: Mapping[str, Any], level: str | int = "INFO", stream: TextIO | None = None
) -> None:
    """Send every logger's records (renderlib's, boto's, selenium's) through one JSON
    handler on ``stream`` (default stdout), tagged with ``context``."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(context))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Their DEBUG output is the full HTTP traffic; keep it out even at DEBUG.
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3", "selenium", "gql"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))


def emit_metric(
    logger: logging.Logger,
    name: str,
    value: float = 1,
    *,
    unit: str = "Count",
    cluster: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Log one EMF line recording ``name`` = ``value`` for the cluster (default:
    ``cluster_name()``)."""
    cluster = cluster or cluster_name()
    emf = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Cluster"]],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        "Cluster": cluster,
        name: value,
        **(fields or {}),
    }
    logger.info("metric %s=%s", name, value, extra={"fields": emf})


@cache
def cluster_name() -> str:
    """The ECS cluster this process runs in: ECS_CLUSTER, else the cluster of the task
    as the ECS task metadata endpoint tells it (a worker task is not given ECS_CLUSTER),
    else "local"."""
    if os.environ.get("ECS_CLUSTER"):
        return os.environ["ECS_CLUSTER"]
    metadata = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if metadata:
        try:
            with urllib.request.urlopen(f"{metadata}/task", timeout=2) as answer:
                arn = json.load(answer).get("Cluster") or ""
        except (OSError, ValueError) as exc:
            logging.getLogger(__name__).warning("cannot read the ECS task metadata: %s", exc)
        else:
            if arn:
                return arn.rpartition("/")[2]  # arn:aws:ecs:REGION:ACCOUNT:cluster/NAME
    return "local"
