"""Wall time, CPU-seconds and peak memory of a command's whole process tree.

The tree is sampled every SAMPLE_SECONDS from /proc: a process's CPU time is the
last value seen for it (so at most one interval of a process that exits is missed),
memory is the RSS summed over the tree at each sample, and the peak is the largest
sum. Processes reparented away from the tree (none of the measured tools leave any)
would be missed.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.1
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measured:
    wall: float
    cpu: float
    peak_rss: int


def process_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, CPU seconds, RSS bytes) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS
        table[int(entry.name)] = (int(fields[1]), cpu, int(fields[21]) * _PAGE)
    return table


def tree_of(root: int, table: dict[int, tuple[int, float, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _cpu, _rss) in table.items():
        children.setdefault(parent, []).append(pid)
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def tree_rss_bytes(root: int) -> int:
    """RSS of ``root`` and all its descendants."""
    table = process_table()
    return sum(table[pid][2] for pid in tree_of(root, table))


def run_measured(command: list[str], *, env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` to the end; raise CalledProcessError if it fails."""
    cpu_seen: dict[int, float] = {}
    peak = 0
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    while process.poll() is None:
        table = process_table()
        tree = tree_of(process.pid, table)
        for pid in tree:
            cpu_seen[pid] = table[pid][1]
        peak = max(peak, sum(table[pid][2] for pid in tree))
        time.sleep(SAMPLE_SECONDS)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    return Measured(wall=wall, cpu=sum(cpu_seen.values()), peak_rss=peak)
