"""CloudWatch metrics as embedded metric format (EMF) log lines: CloudWatch turns each
line into metric data points, so no PutMetricData call (nor permission) is needed.
The alarms in infra/monitoring.py read these names."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import TextIO

NAMESPACE = "BabulusRender"


def emf_line(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    *,
    namespace: str = NAMESPACE,
    timestamp_ms: int | None = None,
) -> str:
    """One EMF document: ``metrics`` maps a name to (value, CloudWatch unit)."""
    document: dict = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [
                        {"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()
                    ],
                }
            ],
        },
        **dimensions,
    }
    document.update({name: value for name, (value, _) in metrics.items()})
    return json.dumps(document)


def publish(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    stream: TextIO | None = None,
) -> None:
    stream = sys.stdout if stream is None else stream
    stream.write(emf_line(metrics, dimensions) + "\n")
    stream.flush()
