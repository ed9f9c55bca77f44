"""Measure a short sample render of a composition: what ``renderlib estimate`` builds on.

A few short frame ranges spread over the video are each rendered by one browser
(``renderlib.render`` with ``frame_range``), timed through the progress callback, with
the CPU of the whole process tree (this process, ffmpeg, chromedriver, Chromium)
measured from /proc on Linux. The steady capture rate is taken between the first and
the last frame of a range, so browser start-up, stepping and the join are measured
apart from it.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import threading
import time
from pathlib import Path

from renderlib import process_tree
from renderlib.composition import Composition
from renderlib.errors import CompositionError
from renderlib.estimate import Sample
from renderlib.renderer import render

# A page that is not pure steps through every frame before a range: its samples are
# kept within the first minute of video so the sample stays short.
IMPURE_SPREAD_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class RangeTiming:
    start: int
    frames: int
    captures: int  # frames captured; the others were reused (the page said unchanged)
    to_first_frame: float  # browser start, page load, stepping, first capture
    wall_per_frame: float  # steady state, first to last frame
    cpu_per_frame: float | None  # steady state, whole process tree (None without /proc)
    audio_seconds: float | None
    join_seconds: float  # join + mux + verify
    size_bytes: int


@dataclasses.dataclass(frozen=True)
class SampleReport:
    """The measured sample: the model's input and the ranges behind it."""

    sample: Sample
    ranges: tuple[RangeTiming, ...]
    browser_frames_per_second: float  # one browser's wall rate here (for reference)
    cpu_measured: bool


class TreeCpu:
    """CPU seconds used by this process and every process below it, so far.

    Descendants are read from /proc: a thread polls it, so a process that ends between
    two readings still counts up to its last poll; the polling's own CPU is left out.
    Without /proc (``available`` False) only reaped children count (getrusage), which
    missed about half the CPU of a render when compared here: Chromium's processes are
    not reaped into it.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.available = process_tree.available()
        self._interval = interval
        self._seen: dict[tuple[int, int], float] = {}  # (pid, start tick) -> CPU seconds
        self._polling = 0.0  # CPU seconds the polling thread used
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="renderlib-cpu", daemon=True)

    def __enter__(self) -> TreeCpu:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def seconds(self) -> float:
        own = time.process_time()
        if not self.available:
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            return own + children.ru_utime + children.ru_stime
        self._scan()
        with self._lock:
            return own - self._polling + sum(self._seen.values())

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            began = time.thread_time()
            self._scan()
            with self._lock:
                self._polling += time.thread_time() - began

    def _scan(self) -> None:
        own = os.getpid()
        tree = process_tree.tree_of(own, process_tree.process_table())
        with self._lock:
            for stat in (stat for stat in tree if stat.pid != own):
                key = (stat.pid, stat.started_ticks)
                self._seen[key] = max(self._seen.get(key, 0.0), stat.cpu_seconds)


def sample_ranges(composition: Composition, count: int, seconds: float) -> list[tuple[int, int]]:
    """``count`` ranges of ``seconds`` of video each, spread evenly over the video (over
    its first minute for a page that is not pure), the first at frame 0."""
    total = composition.frame_count
    length = max(2, min(round(seconds * composition.fps), total // max(1, count)))
    spread = total
    if not composition.pure:
        spread = min(total, round(IMPURE_SPREAD_SECONDS * composition.fps))
    last_start = max(0, spread - length)
    starts = sorted({last_start * k // max(1, count - 1) for k in range(count)})
    return [(start, min(total, start + length)) for start in starts]


def measure_sample(
    composition: Composition,
    work_dir: Path,
    *,
    ranges: int = 3,
    seconds: float = 2.0,
    frames: int | None = None,
) -> SampleReport:
    """Render the sample ranges of ``composition`` under ``work_dir`` and measure them;
    the Sample describes a video of ``frames`` frames (default: the composition's)."""
    if composition.frame_count < 2:
        raise CompositionError("an estimate needs a video of at least 2 frames")
    timings = []
    # The mix covers the whole video whatever the range: measured once, in the first.
    silent = dataclasses.replace(composition, audio=())
    with TreeCpu() as cpu:
        for start, end in sample_ranges(composition, ranges, seconds):
            source = silent if timings else composition
            timings.append(_render_range(source, work_dir, start, end, cpu))
    base = timings[0]
    stepped = [t for t in timings if t.start > 0]
    step = 0.0
    if not composition.pure and stepped:
        extra = sum(max(0.0, t.to_first_frame - base.to_first_frame) for t in stepped)
        step = extra / sum(t.start for t in stepped)
    wall = sum(t.wall_per_frame * t.frames for t in timings) / sum(t.frames for t in timings)
    measured = [t for t in timings if t.cpu_per_frame is not None]
    # Without /proc, one browser is taken to keep one core busy.
    cpu_per_frame = (
        sum(t.cpu_per_frame * t.frames for t in measured) / sum(t.frames for t in measured)
        if measured
        else wall
    )
    target = frames or composition.frame_count
    sample = Sample(
        frames=target,
        seconds=float(target / composition.frame_rate),
        pure=composition.pure,
        cpu_seconds_per_frame=cpu_per_frame,
        browser_start_seconds=base.to_first_frame,
        step_seconds_per_frame=step,
        audio_mix_seconds=(base.audio_seconds or 0.0) * target / composition.frame_count,
        join_fixed_seconds=min(t.join_seconds for t in timings),
        bytes_per_frame=sum(t.size_bytes for t in timings) / sum(t.frames for t in timings),
    )
    return SampleReport(sample, tuple(timings), 1 / wall if wall else 0.0, bool(measured))


def _render_range(
    composition: Composition, work_dir: Path, start: int, end: int, cpu: TreeCpu
) -> RangeTiming:
    marks: dict[tuple[str, object], tuple[float, float | None, int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        # The first frame done, the last, and the first report of every other stage.
        if stage == "capture" and done > 0:
            if ("capture", "first") not in marks or done == total:
                mark = (time.monotonic(), cpu.seconds(), done)
                marks.setdefault(("capture", "first"), mark)
                if done == total:
                    marks[("capture", "last")] = mark
        elif (stage, done) not in marks:
            marks[(stage, done)] = (time.monotonic(), None, done)

    began = time.monotonic()
    # One browser per range: each range measures one browser's start-up, stepping and
    # steady rate.
    result = render(
        composition, work_dir / f"sample-{start}.mp4", workers=1, frame_range=(start, end),
        progress=progress,
    )  # fmt: skip
    ended = time.monotonic()
    first, last = marks[("capture", "first")], marks[("capture", "last")]
    steady = max(1, last[2] - first[2])
    audio = None
    if ("audio", 1) in marks:
        audio = marks[("audio", 1)][0] - marks.get(("audio", 0), (began,))[0]
    joined = marks.get(("verify", 1), (ended,))[0] - marks.get(("encode", 0), last)[0]
    return RangeTiming(
        start=start,
        frames=end - start,
        captures=result.captures,
        to_first_frame=first[0] - marks.get(("capture", 0), (began,))[0],
        wall_per_frame=(last[0] - first[0]) / steady,
        cpu_per_frame=(last[1] - first[1]) / steady if cpu.available else None,
        audio_seconds=audio,
        join_seconds=joined,
        size_bytes=result.size_bytes,
    )
