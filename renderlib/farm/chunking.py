"""Whether and how the farm splits a render job into chunks (docs/farm.md, "Chunked renders").

A job asks for it in its inputJson (``"chunkFrames": N`` frames per chunk, or
``"chunks": N``); otherwise the farm's default applies: a video longer than
``CHUNK_AFTER_SECONDS`` is cut into chunks of ``CHUNK_SECONDS`` of video. A task takes
about 1-2 minutes to start on Fargate, and renders a second of 1080p30 video in about 1.3
seconds: chunks of 5 minutes of video (about 6.5 minutes of rendering) keep the start-up
under a quarter of each task's time, and a video under 10 minutes gains too little from
splitting to pay for a second task's start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from renderlib.chunks import chunk_ranges
from renderlib.composition import Composition
from renderlib.errors import BadInputError, ConfigError

DEFAULT_CHUNK_AFTER_SECONDS = 600.0
DEFAULT_CHUNK_SECONDS = 300.0


@dataclass(frozen=True)
class ChunkPolicy:
    """The farm's default: chunks of ``chunk_seconds`` for videos longer than
    ``chunk_after_seconds`` (0: never chunk unless the job asks)."""

    chunk_after_seconds: float = DEFAULT_CHUNK_AFTER_SECONDS
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ChunkPolicy:
        env = os.environ if env is None else env
        values = {}
        for name, field_name in (
            ("CHUNK_AFTER_SECONDS", "chunk_after_seconds"),
            ("CHUNK_SECONDS", "chunk_seconds"),
        ):
            raw = env.get(name)
            if raw in (None, ""):
                continue
            try:
                values[field_name] = float(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
            if values[field_name] < 0:
                raise ConfigError(f"{name} must be >= 0 seconds, got {raw}")
        return cls(**values)

    def ranges(self, job_input: Mapping, composition: Composition) -> list[tuple[int, int]]:
        """The chunks of the job's render: [(0, frame_count)] when it is not split."""
        frames, rate = composition.frame_count, composition.frame_rate
        asked = {name: job_input.get(name) for name in ("chunkFrames", "chunks")}
        asked = {name: value for name, value in asked.items() if value is not None}
        for name, value in asked.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadInputError(
                    f"the job's inputJson.{name} must be a whole number >= 1, got {value!r}"
                )
        if len(asked) == 2:
            raise BadInputError("the job's inputJson gives chunkFrames and chunks: give one")
        if "chunkFrames" in asked:
            return chunk_ranges(frames, rate, chunk_frames=asked["chunkFrames"])
        if "chunks" in asked:
            return chunk_ranges(frames, rate, chunks=asked["chunks"])
        duration = frames / rate
        if self.chunk_after_seconds <= 0 or duration <= self.chunk_after_seconds:
            return [(0, frames)]
        return chunk_ranges(frames, rate, chunk_frames=max(1, round(self.chunk_seconds * rate)))
