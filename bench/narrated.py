"""Benchmark: the example narrated generation run, end to end (mix and mux included).

    python bench/narrated.py [RUN_DIR] [--workers N]

Prints the video's length, the wall time of the whole render (loading and
validating the run, the MoviePy mix, capture, encode, mux, verification) and
how many frames were actually captured. Target on 2 cores: wall time at most
half the video's length, thanks to static-frame reuse.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from renderlib.renderer import load_source, render

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "narrated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, default=EXAMPLE)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        result = render(load_source(args.run_dir), Path(out) / "narrated.mp4", workers=args.workers)
        wall = time.monotonic() - started
    print(
        f"video: {result.duration:.2f} s, {result.width}x{result.height} @ {result.fps:g} fps, "
        f"{result.frames} frames, {result.captures} captured "
        f"({100 * result.captures / result.frames:.0f}%), {result.workers} workers"
    )
    print(
        f"wall: {wall:.1f} s = {wall / result.duration:.2f} x the video's length "
        f"({result.duration / wall:.1f}x faster than real time; target >= 2x)"
    )


if __name__ == "__main__":
    main()
