"""How long this worker task has run: from its process's start, as the kernel records it.

On Linux (every Fargate task) /proc gives the process's start in clock ticks since boot,
so interpreter start-up and imports are counted too; elsewhere the clock starts when this
module is first imported.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_IMPORTED = time.monotonic()


def process_seconds() -> float:
    """Seconds since this process started (or, without /proc, since this module loaded)."""
    try:
        # Field 22 of /proc/self/stat; the command name (field 2) may hold spaces, so
        # count from the last ')'.
        started_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return time.monotonic() - _IMPORTED
    return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
