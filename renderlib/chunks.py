"""How a render is split into chunks: frame ranges on the segment grid, one task each.

A chunk boundary is always a boundary of the segment grid (renderlib/segments.py), so
each chunk encodes exactly the segments a single render would, and the chunks joined
without re-encoding are the single render's video, frame for frame.
"""

from __future__ import annotations

import math
from fractions import Fraction

from renderlib.errors import CompositionError
from renderlib.segments import segment_frames


def chunk_ranges(
    frame_count: int,
    frame_rate: Fraction,
    *,
    chunk_frames: int | None = None,
    chunks: int | None = None,
) -> list[tuple[int, int]]:
    """The frame ranges [start, end) of the chunks covering ``frame_count`` frames.

    Give ``chunk_frames`` (frames per chunk) or ``chunks`` (how many); either is rounded
    up to whole segments, so a short video may get fewer chunks than asked for.
    """
    if (chunk_frames is None) == (chunks is None):
        raise CompositionError("give either chunkFrames or chunks, not both and not neither")
    if frame_count < 1:
        raise CompositionError(f"a render needs at least one frame, got {frame_count}")
    if chunks is not None:
        if chunks < 1:
            raise CompositionError(f"chunks: expected at least 1, got {chunks}")
        chunk_frames = math.ceil(frame_count / chunks)
    if chunk_frames < 1:
        raise CompositionError(f"chunkFrames: expected at least 1, got {chunk_frames}")
    size = segment_frames(frame_rate)
    step = math.ceil(chunk_frames / size) * size
    bounds = [*range(0, frame_count, step), frame_count]
    return list(zip(bounds, bounds[1:], strict=False))
