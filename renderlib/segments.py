"""The fixed grid of video segments, and the writer that feeds each one its frames in order.

Every SEGMENT_SECONDS of the video, counted from frame 0, starts a new segment encoded on
its own (keyframe first). The grid depends only on the frame rate, never on how many
workers or tasks render the frames, so any split of a render gives the same segments
and therefore the same file.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from renderlib.encode import SegmentEncoder

# Two seconds between keyframes, as streaming services recommend: short enough to
# balance workers and chunk tasks, long enough to keep keyframes a small part of the file.
SEGMENT_SECONDS = 2


def segment_frames(frame_rate: Fraction) -> int:
    """Frames in one whole segment of the grid."""
    return max(1, round(SEGMENT_SECONDS * frame_rate))


def segment_grid(start: int, end: int, frame_rate: Fraction) -> list[tuple[int, int]]:
    """The segments covering frames [start, end): grid cells, cut at ``start`` and ``end``."""
    size = segment_frames(frame_rate)
    inner = range((start // size + 1) * size, end, size)
    bounds = [start, *inner, end]
    return list(zip(bounds, bounds[1:], strict=False))


@dataclass
class _Slot:
    start: int
    end: int
    path: Path
    next: int = 0
    pending: dict[int, bytes] = field(default_factory=dict)
    encoder: SegmentEncoder | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class SegmentWriter:
    """Takes captured frames from any worker and writes each segment's frames in order.

    Worker ranges need not line up with the grid: a frame that arrives before the
    earlier frames of its segment waits in memory (at most one segment's worth at
    each boundary between workers) until whoever writes those earlier frames writes
    it too. A segment's encoder finishes in the background once its last frame is in.
    """

    def __init__(
        self,
        grid: list[tuple[int, int]],
        folder: Path,
        open_encoder: Callable[[Path], SegmentEncoder],
    ) -> None:
        self._slots = [
            _Slot(start, end, folder / f"segment-{index:05d}.mp4", next=start)
            for index, (start, end) in enumerate(grid)
        ]
        self._starts = [slot.start for slot in self._slots]
        self._open_encoder = open_encoder

    @property
    def paths(self) -> list[Path]:
        return [slot.path for slot in self._slots]

    def write(self, frame: int, jpeg: bytes) -> None:
        slot = self._slots[bisect.bisect_right(self._starts, frame) - 1]
        with slot.lock:
            slot.pending[frame] = jpeg
            while slot.next in slot.pending:
                if slot.encoder is None:
                    slot.encoder = self._open_encoder(slot.path)
                slot.encoder.write(slot.pending.pop(slot.next))
                slot.next += 1
            if slot.next == slot.end:
                slot.encoder.end_input()

    def finish(self) -> None:
        """Wait for every segment to be written (all frames must have been given)."""
        for slot in self._slots:
            if slot.next != slot.end:
                raise RuntimeError(f"segment {slot.start}:{slot.end} is missing frames")
            slot.encoder.finish()

    def close(self) -> None:
        """Stop every encoder still running (after finish, nothing is)."""
        for slot in self._slots:
            if slot.encoder is not None:
                slot.encoder.close()

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
