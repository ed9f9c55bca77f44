"""Whether and how the farm splits a render job into chunks (docs/farm.md, "Chunked renders").

A job asks for it in its inputJson (``"chunkFrames": N`` frames per chunk, or
``"chunks": N``); otherwise the farm's default applies: a video longer than
``CHUNK_AFTER_SECONDS`` is cut into chunks of ``CHUNK_SECONDS`` of video. A task takes
about 1-2 minutes to start on Fargate, and renders a second of 1080p30 video in about 1.3
seconds: chunks of 5 minutes of video (about 6.5 minutes of rendering) keep the start-up
under a quarter of each task's time, and a video under 10 minutes gains too little from
splitting to pay for a second task's start.

Who splits: the dispatcher, at claim time, when the job's inputJson states the video's
length (``"frames"`` and ``"fps"``, which ``renderlib submit`` counts from the run), so the
chunk tasks start at once and only one task start-up lies on the way; otherwise the
job's own task loads the run and splits it (a second start-up before the chunks'). Every
task that loads the run checks a stated length against the run's own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from renderlib.chunks import chunk_ranges
from renderlib.composition import MAX_FPS, Composition, exact_frame_rate
from renderlib.errors import BadInputError, ConfigError
from renderlib.jobs.client import JobsClient
from renderlib.jobs.records import Job, RenderChunk

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

    def ranges(self, job_input: Mapping, frames: int, rate: Fraction) -> list[tuple[int, int]]:
        """The chunks of the job's render of ``frames`` frames at ``rate``: [(0, frames)]
        when it is not split."""
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


def stated_length(job_input: Mapping) -> tuple[int, Fraction] | None:
    """The video's length the job's inputJson states (``frames`` at ``fps``), if it states
    one that could be a video's; None otherwise."""
    frames, fps = job_input.get("frames"), job_input.get("fps")
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
        return None
    if not isinstance(fps, int | float) or isinstance(fps, bool) or not 0 < fps <= MAX_FPS:
        return None
    return frames, exact_frame_rate(fps)


def check_stated_length(job_input: Mapping, composition: Composition) -> None:
    """BadInputError unless the length the job's inputJson states, if any, is the run's:
    chunks planned from a wrong length would not make the run's video."""
    if job_input.get("frames") is None and job_input.get("fps") is None:
        return
    if stated_length(job_input) != (composition.frame_count, composition.frame_rate):
        raise BadInputError(
            f"the job's inputJson says the video is {_shown(job_input.get('frames'))} frames "
            f"at {_shown(job_input.get('fps'))} fps, but its generation run makes "
            f"{composition.frame_count} frames at {composition.fps:g} fps: submit it again "
            'with the run\'s own length (renderlib submit counts it) or without "frames" '
            'and "fps"'
        )


def _shown(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return repr(value)


def split_job(
    client: JobsClient, job: Job, ranges: list[tuple[int, int]], frame_rate: Fraction
) -> list[RenderChunk]:
    """Make the running job's chunks (the dispatcher does this at claim time when the
    job states its length, else the job's own task) and say so in its events; the
    chunks."""
    chunks = client.plan_chunks(job, ranges, attempt=job.retry_count)
    frames = ranges[0][1] - ranges[0][0]
    client.add_event(
        job.id,
        "status",
        f"split into {len(ranges)} chunks of {frames} frames "
        f"({float(frames / frame_rate):g} s of video), each its own task",
        data={"chunks": len(ranges), "chunkFrames": frames},
        org_id=job.org_id,
    )
    return chunks
