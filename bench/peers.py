"""Benchmark: renderlib against timecut on one scene, interleaved runs.

    python bench/peers.py --with-peers [--rounds 3] [--frames 300]

The scene is bench/peer_scene (1280x720, 30 fps: a gradient backdrop, moving and
rotating cards, a counter that changes every frame, requestAnimationFrame and one
CSS animation). Each round runs every configuration once, in turn:

  renderlib, 2 workers / 1 worker      (`renderlib render`, quality standard)
  timecut, JPEG, 2 threads             (its fastest configuration here)
  timecut, JPEG piped, 1 thread        (its leanest)

and reports the median wall time, CPU-seconds per frame (the whole process tree:
Python or Node, chromedriver, Chromium, ffmpeg) and peak memory (RSS summed over
the tree), then renderlib's ratios against the targets of the speed issue.

--with-peers installs timecut 0.3.3 (BSD licence) with npm into bench/.peers,
driving the system Chromium (/usr/bin/chromium): puppeteer's browser download is
skipped. Without it, only renderlib runs. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import Measured, run_measured

from renderlib.browser import CONTAINER_FLAGS

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "bench" / "peer_scene"
PEERS = ROOT / "bench" / ".peers"
TIMECUT_VERSION = "0.3.3"
CHROMIUM = "/usr/bin/chromium"
# The flags renderlib's own browser needs on a closed network, for timecut's browser too.
CHROMIUM_FLAGS = " ".join(CONTAINER_FLAGS)


def install_timecut() -> Path:
    binary = PEERS / "node_modules" / ".bin" / "timecut"
    if not binary.exists():
        PEERS.mkdir(parents=True, exist_ok=True)
        print(f"installing timecut {TIMECUT_VERSION} into {PEERS} (no browser download)")
        environment = dict(
            os.environ, PUPPETEER_SKIP_DOWNLOAD="1", PUPPETEER_SKIP_CHROMIUM_DOWNLOAD="1"
        )
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PEERS),
                f"timecut@{TIMECUT_VERSION}",
            ],
            check=True,
            env=environment,
        )
    return binary


def renderlib_command(workers: int, frames: int, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "renderlib", "render", str(SCENE / "composition.json"),
        "-o", str(out), "--workers", str(workers), "--frames", f"0:{frames}",
    ]  # fmt: skip


def timecut_command(timecut: Path, threads: int, piped: bool, frames: int, out: Path) -> list[str]:
    # No --user-data-dir: puppeteer gives each of its browsers a fresh one.
    command = [
        str(timecut), (SCENE / "index.html").as_uri(), "--viewport", "1280,720", "--fps", "30",
        "--frames", str(frames), "--threads", str(threads), "--screenshot-type", "jpeg",
        "--executable-path", CHROMIUM, "--launch-arguments", CHROMIUM_FLAGS,
        "--output", str(out), "--quiet",
    ]  # fmt: skip
    return [*command, "--pipe-mode"] if piped else command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--with-peers", action="store_true", help="install and run timecut too")
    args = parser.parse_args()
    timecut = install_timecut() if args.with_peers else None

    results: dict[str, list[Measured]] = {}
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        configurations = {
            "renderlib, 2 workers": lambda out: renderlib_command(2, args.frames, out),
            "renderlib, 1 worker": lambda out: renderlib_command(1, args.frames, out),
        }
        if timecut is not None:
            configurations["timecut, JPEG, 2 threads"] = lambda out: timecut_command(
                timecut, 2, False, args.frames, out
            )
            configurations["timecut, JPEG piped, 1 thread"] = lambda out: timecut_command(
                timecut, 1, True, args.frames, out
            )
        for round_number in range(1, args.rounds + 1):
            for name, command in configurations.items():
                out = work / f"{len(results.get(name, []))}-{name.split(',')[0]}.mp4"
                measured = run_measured(command(out))
                results.setdefault(name, []).append(measured)
                print(
                    f"round {round_number}: {name:32s} {measured.wall:6.2f} s wall, "
                    f"{measured.cpu:6.2f} CPU-s, {measured.peak_rss / 2**30:4.2f} GiB peak",
                    flush=True,
                )

    print(
        f"\n{args.frames} frames, 1280x720 @ 30 fps, {os.cpu_count()} cores, "
        f"medians of {args.rounds}:"
    )
    print(f"{'tool':34s} {'wall':>8s} {'frames/s':>9s} {'CPU ms/frame':>13s} {'peak RSS':>9s}")
    medians = {}
    for name, runs in results.items():
        wall = statistics.median(run.wall for run in runs)
        cpu = statistics.median(run.cpu for run in runs) / args.frames
        peak = statistics.median(run.peak_rss for run in runs)
        medians[name] = (wall, cpu)
        print(
            f"{name:34s} {wall:7.2f}s {args.frames / wall:9.1f} {1000 * cpu:13.1f} "
            f"{peak / 2**30:8.2f}G"
        )
    if timecut is None:
        return
    peers = [name for name in medians if name.startswith("timecut")]
    fastest = min(peers, key=lambda name: medians[name][0])
    leanest = min(peers, key=lambda name: medians[name][1])
    two, one = medians["renderlib, 2 workers"], medians["renderlib, 1 worker"]
    single = medians["timecut, JPEG piped, 1 thread"]
    print(f"\ntimecut's fastest: {fastest}; its leanest: {leanest}")
    print(f"renderlib 2 workers, wall: {medians[fastest][0] / two[0]:.2f}x faster (target >= 1.5x)")
    print(
        f"renderlib 2 workers, CPU per frame: {two[1] / medians[fastest][1]:.2f}x "
        f"timecut's fastest (target <= 0.75x), {two[1] / medians[leanest][1]:.2f}x its leanest"
    )
    print(
        f"renderlib 1 worker vs timecut 1 thread: {single[0] / one[0]:.2f}x faster (target >= 1.3x)"
    )


if __name__ == "__main__":
    main()
