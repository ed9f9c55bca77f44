"""How long this worker task has run: from its process's start, as the kernel records it.

On Linux (every Fargate task) /proc gives the process's start in clock ticks since boot,
so interpreter start-up and imports are counted too; elsewhere the clock starts when this
module is first imported.
"""

from __future__ import annotations

import time
from pathlib import Path

from renderlib.process_tree import TICKS_PER_SECOND, stat_of

_IMPORTED = time.monotonic()


def process_seconds() -> float:
    """Seconds since this process started (or, without /proc, since this module loaded)."""
    own = stat_of("self")
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        own = None
    if own is None:
        return time.monotonic() - _IMPORTED
    return max(0.0, uptime - own.started_ticks / TICKS_PER_SECOND)
