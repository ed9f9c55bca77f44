"""What Linux's /proc says of processes: their parent, start, CPU time and memory.

A render is a tree of processes (Python, chromedriver, Chromium's helpers, ffmpeg), and
Chromium's helpers are not reaped into getrusage(RUSAGE_CHILDREN): their CPU is read here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    parent: int
    started_ticks: int  # clock ticks after boot
    cpu_seconds: float  # user + system
    rss_bytes: int


def available() -> bool:
    return Path("/proc/self/stat").exists()


def stat_of(pid: int | str) -> ProcessStat | None:
    """The process's /proc/PID/stat, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return ProcessStat(
        pid=int(text.split(" ", 1)[0]),
        parent=int(fields[1]),
        started_ticks=int(fields[19]),
        cpu_seconds=(int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND,
        rss_bytes=int(fields[21]) * PAGE_BYTES,
    )


def process_table() -> dict[int, ProcessStat]:
    """Every process there is now."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := stat_of(entry)) is not None:
            table[stat.pid] = stat
    return table


def tree_of(root: int, table: dict[int, ProcessStat]) -> list[ProcessStat]:
    """``root`` (when in ``table``) and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.parent, []).append(stat.pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            tree.append(table[pid])
        todo.extend(children.get(pid, []))
    return tree
