"""The local worker processes running now on one farm folder, whoever started them.

The local farm's concurrency cap must count what really runs, as ECS ListTasks does in
the cloud: workers a killed ``farm up`` left behind (they keep rendering) and workers of
a second farm on the same folder count as much as this process's own. Each launch
records ``<pid>.json`` in the folder; a count keeps the records whose process is still
alive and is still the process recorded (Linux reuses pids: the start time in
/proc/<pid>/stat tells them apart) and deletes the others.

Two farms that count at the same moment may both see the same free slot, as two
dispatcher Lambdas may; each job still runs once (the claim and the attempt).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) from /proc, None where there is no /proc entry."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return fields[0], int(fields[19])  # fields 3 (state) and 22 (starttime) of proc(5)


def _alive(pid: int, started: int | None) -> bool:
    stat = _proc_stat(pid)
    if stat is not None:
        state, start = stat
        return state not in ("Z", "X") and (started is None or start == started)
    if Path("/proc/self").exists():
        return False  # a /proc system without this pid: it is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunningWorkers:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def add(self, pid: int, job_id: str, attempt: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stat = _proc_stat(pid)
        record = {"pid": pid, "jobId": job_id, "attempt": attempt, "started": stat and stat[1]}
        path = self.folder / f"{pid}.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(record))
        partial.replace(path)  # a counting farm never reads half a record

    def count(self) -> int:
        """How many recorded workers are alive; forgets the ones that are not."""
        alive = 0
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_text())
            except FileNotFoundError:
                continue  # another farm forgot it first
            except ValueError:
                record = None
            if isinstance(record, dict) and _alive(int(record["pid"]), record.get("started")):
                alive += 1
            else:
                path.unlink(missing_ok=True)
        return alive
