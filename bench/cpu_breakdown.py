"""Where a render's CPU goes, per frame: Python, chromedriver, each kind of Chromium
process, ffmpeg.

    python bench/cpu_breakdown.py [--workers 1] [--composition bench/peer_scene/composition.json]

Renders the composition with `renderlib render` in a child process and samples its
process tree (bench/measure.py); prints CPU-seconds and milliseconds per frame by
kind of process. docs/performance.md explains the figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from measure import SAMPLE_SECONDS

from renderlib.process_tree import process_table, tree_of

ROOT = Path(__file__).resolve().parents[1]


def kind_of(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "gone"
    if "chromedriver" in command:
        return "chromedriver"
    if name in ("ffmpeg", "ffprobe"):
        return name
    if "--type=" in command:
        return "chromium " + command.split("--type=")[1].split()[0]
    if "chrom" in command or "headless" in name:
        return "chromium browser"
    return "python" if "python" in name else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--composition", type=Path, default=ROOT / "bench" / "peer_scene" / "composition.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        command = [
            sys.executable, "-m", "renderlib", "render", str(args.composition),
            "-o", f"{work}/out.mp4", "--workers", str(args.workers),
        ]  # fmt: skip
        cpu_seen: dict[int, tuple[str, float]] = {}
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        while process.poll() is None:
            for stat in tree_of(process.pid, process_table()):
                kind = cpu_seen.get(stat.pid, (None,))[0] or kind_of(stat.pid)
                cpu_seen[stat.pid] = (kind, stat.cpu_seconds)
            time.sleep(SAMPLE_SECONDS)
        wall = time.monotonic() - started
        summary = process.stdout.read().strip()
    if process.returncode != 0:
        sys.exit(f"the render failed: {summary}")
    frames = int(summary.split(": ")[1].split()[0])
    by_kind: dict[str, float] = defaultdict(float)
    for kind, cpu in cpu_seen.values():
        by_kind[kind] += cpu
    total = sum(by_kind.values())
    print(summary)
    per_frame = 1000 * total / frames
    print(f"{frames} frames in {wall:.1f} s: {total:.1f} CPU-s, {per_frame:.1f} ms a frame")
    for kind, cpu in sorted(by_kind.items(), key=lambda item: -item[1]):
        if cpu >= 0.05:
            print(f"  {kind:24s} {cpu:6.2f} s  {1000 * cpu / frames:6.1f} ms a frame")


if __name__ == "__main__":
    main()
