"""Wall time, CPU-seconds and peak memory of a command's whole process tree.

The tree is sampled every SAMPLE_SECONDS from /proc: a process's CPU time is the
last value seen for it (so at most one interval of a process that exits is missed),
memory is the RSS summed over the tree at each sample, and the peak is the largest
sum. Processes reparented away from the tree (none of the measured tools leave any)
would be missed.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from renderlib.process_tree import process_table, tree_of

SAMPLE_SECONDS = 0.1


@dataclass(frozen=True)
class Measured:
    wall: float
    cpu: float
    peak_rss: int


def tree_rss_bytes(root: int) -> int:
    """RSS of ``root`` and all its descendants."""
    return sum(stat.rss_bytes for stat in tree_of(root, process_table()))


def run_measured(command: list[str], *, env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` to the end; raise CalledProcessError if it fails."""
    cpu_seen: dict[int, float] = {}
    peak = 0
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    while process.poll() is None:
        tree = tree_of(process.pid, process_table())
        for stat in tree:
            cpu_seen[stat.pid] = stat.cpu_seconds
        peak = max(peak, sum(stat.rss_bytes for stat in tree))
        time.sleep(SAMPLE_SECONDS)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    return Measured(wall=wall, cpu=sum(cpu_seen.values()), peak_rss=peak)
