"""Render a Composition to a verified MP4: the orchestration of every step.

Frames [start, end) are split into one contiguous range per worker; each worker
is one Chromium piping JPEG captures into its own ffmpeg segment encoder. The
segments are joined without re-encoding, the audio mix is muxed in, ffprobe
verifies the result and only then is it moved to the output path.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from renderlib.browser import Browser
from renderlib.composition import Composition
from renderlib.encode import SegmentEncoder, join_and_mux
from renderlib.errors import CompositionError, OutputPathError
from renderlib.page_server import AssetServer, RefusingProxy
from renderlib.progress import Progress, no_progress
from renderlib.segments import SegmentWriter, segment_grid
from renderlib.verify import ProbedVideo, verify

# Starting a browser costs about as much as capturing this many frames; a
# worker is only worth it with at least this many frames to capture.
MIN_FRAMES_PER_WORKER = 30


@dataclass(frozen=True)
class RenderResult:
    """What a render produced."""

    path: Path
    poster_path: Path
    frames: int
    captures: int
    width: int
    height: int
    fps: float
    duration: float
    size_bytes: int
    seconds: float
    workers: int

    def summary(self) -> str:
        return (
            f"rendered {self.path}: {self.frames} frames ({self.captures} captured), "
            f"{self.width}x{self.height} @ {self.fps:g} fps, {self.duration:.2f} s, "
            f"{self.size_bytes / 1e6:.1f} MB in {self.seconds:.1f} s "
            f"({self.frames / self.seconds:.1f} frames/s, {self.workers} workers)"
        )


class _Cancelled(Exception):
    """Another worker failed; this one stopped early."""


def load_source(path: Path | str, *, quality: str | None = None) -> Composition:
    """A composition from a .json file, or from a generation run folder."""
    path = Path(path)
    if path.is_dir():
        from renderlib.generation_run import load_generation_run

        composition = load_generation_run(path)
    else:
        composition = Composition.load(path)
    if quality is not None:
        composition = dataclasses.replace(
            composition, output=dataclasses.replace(composition.output, quality=quality)
        )
    return composition


def default_workers(frames: int) -> int:
    return max(1, min(os.cpu_count() or 1, frames // MIN_FRAMES_PER_WORKER))


def render(
    composition: Composition,
    output_path: Path | str,
    *,
    workers: int | None = None,
    frame_range: tuple[int, int] | None = None,
    progress: Progress = no_progress,
    hold_timeout: float = 30.0,
) -> RenderResult:
    """Render ``composition`` (or frames [start, end) of it) to ``output_path``.

    The MP4 and a poster JPEG beside it (same name, .jpg) appear only once the
    whole render is verified; on any error neither is written.
    """
    started = time.monotonic()
    start, end = _check_range(frame_range, composition.frame_count)
    workers = _check_workers(workers, end - start)
    output = _prepare_output(Path(output_path))

    with tempfile.TemporaryDirectory(prefix=".renderlib-", dir=output.parent) as work_dir:
        work = Path(work_dir)
        audio = _mix_audio(composition, work, progress)
        capture = _capture_segments(composition, work, start, end, workers, progress, hold_timeout)
        return _finish(
            composition,
            capture.segments.paths,
            output,
            work,
            audio=audio,
            frame_range=(start, end),
            poster=capture.poster,
            captures=capture.captures,
            workers=workers,
            started=started,
            progress=progress,
        )


@dataclass(frozen=True)
class ChunkResult:
    """One chunk of a render: frames [start, end) as a video-only MP4 of their grid
    segments, ready to be joined with the other chunks by ``join_chunks``."""

    path: Path
    start: int
    end: int
    captures: int
    # The poster frame's JPEG, when the poster frame is in this chunk.
    poster: bytes | None
    seconds: float
    workers: int


def render_chunk(
    composition: Composition,
    output_path: Path | str,
    *,
    frame_range: tuple[int, int],
    workers: int | None = None,
    progress: Progress = no_progress,
    hold_timeout: float = 30.0,
) -> ChunkResult:
    """Render frames [start, end) of ``composition`` to a video-only MP4 at ``output_path``.

    The range should start and end on the segment grid (renderlib/chunks.py plans such
    ranges): then the chunks of a render joined by ``join_chunks`` are the same video a
    single render makes. The file appears only once it is verified.
    """
    started = time.monotonic()
    start, end = _check_range(frame_range, composition.frame_count)
    workers = _check_workers(workers, end - start)
    output = _prepare_output(Path(output_path))
    poster_frame = _poster_frame(composition, 0, composition.frame_count)
    with tempfile.TemporaryDirectory(prefix=".renderlib-", dir=output.parent) as work_dir:
        work = Path(work_dir)
        capture = _capture_segments(
            composition, work, start, end, workers, progress, hold_timeout, poster_frame
        )
        joined = work / "chunk.mp4"
        _join_verified(composition, capture.segments.paths, joined, None, start, end, progress)
        os.replace(joined, output)
    return ChunkResult(
        path=output,
        start=start,
        end=end,
        captures=capture.captures,
        poster=capture.poster if start <= poster_frame < end else None,
        seconds=time.monotonic() - started,
        workers=workers,
    )


def join_chunks(
    composition: Composition,
    chunk_paths: list[Path],
    output_path: Path | str,
    *,
    poster: bytes,
    captures: int,
    audio_pieces: list[Path] | None = None,
    progress: Progress = no_progress,
) -> RenderResult:
    """The whole render from its chunks (``render_chunk`` files covering every frame, in
    order): joined without re-encoding, the audio mixed for the whole duration and muxed,
    verified; the MP4 and its poster JPEG (``poster``: the poster frame's JPEG) appear
    only once verified. ``captures``: the frames the chunks captured, in all.
    ``audio_pieces``: each chunk's part of the mix (``renderlib.audio.mix_audio`` with the
    chunk's frame range), in order, joined here into the same mix; without them the whole
    mix is made here."""
    started = time.monotonic()
    output = _prepare_output(Path(output_path))
    with tempfile.TemporaryDirectory(prefix=".renderlib-", dir=output.parent) as work_dir:
        work = Path(work_dir)
        if audio_pieces and composition.audio:
            from renderlib.audio import join_audio

            pieces = [Path(piece) for piece in audio_pieces]
            audio = join_audio(composition, pieces, work / "audio.wav")
        else:
            audio = _mix_audio(composition, work, progress)
        return _finish(
            composition,
            [Path(path) for path in chunk_paths],
            output,
            work,
            audio=audio,
            frame_range=(0, composition.frame_count),
            poster=poster,
            captures=captures,
            workers=len(chunk_paths),
            started=started,
            progress=progress,
        )


def _check_workers(workers: int | None, frames: int) -> int:
    if workers is not None and workers < 1:
        raise CompositionError(f"workers: expected at least 1, got {workers}")
    return min(workers or default_workers(frames), frames)


def _poster_frame(composition: Composition, start: int, end: int) -> int:
    poster_frame = composition.output.poster_frame
    if poster_frame is None or not start <= poster_frame < end:
        poster_frame = start + (end - start) // 2
    return poster_frame


def _mix_audio(composition: Composition, work: Path, progress: Progress) -> Path | None:
    if not composition.audio:
        return None
    from renderlib.audio import mix_audio

    progress("audio", 0, 1)
    audio = mix_audio(composition, work / "audio.wav")
    progress("audio", 1, 1)
    return audio


def _capture_segments(
    composition: Composition,
    work: Path,
    start: int,
    end: int,
    workers: int,
    progress: Progress,
    hold_timeout: float,
    poster_frame: int | None = None,
) -> _Capture:
    """Capture frames [start, end) into their grid segments in ``work``, all written."""
    settings = composition.output.resolved()
    rate = composition.frame_rate
    with SegmentWriter(
        segment_grid(start, end, rate),
        work,
        lambda path: SegmentEncoder(
            path, frame_rate=rate, crf=settings["crf"], preset=settings["preset"]
        ),
    ) as segments:
        capture = _Capture(
            composition,
            settings,
            _worker_ranges(start, end, workers),
            segments,
            _poster_frame(composition, start, end) if poster_frame is None else poster_frame,
            progress,
            hold_timeout,
        )
        capture.run()
        segments.finish()
    return capture


def _join_verified(
    composition: Composition,
    paths: list[Path],
    joined: Path,
    audio: Path | None,
    start: int,
    end: int,
    progress: Progress,
) -> ProbedVideo:
    rate = composition.frame_rate
    progress("encode", 0, 1)
    join_and_mux(
        paths,
        joined,
        audio=audio,
        audio_start=start / rate,
        duration=(end - start) / rate,
        frame_rate=rate,
        audio_bitrate=composition.output.audio_bitrate,
    )
    progress("encode", 1, 1)
    progress("verify", 0, 1)
    probed = verify(
        joined,
        width=composition.width,
        height=composition.height,
        frames=end - start,
        frame_rate=rate,
        with_audio=audio is not None,
    )
    progress("verify", 1, 1)
    return probed


def _finish(
    composition: Composition,
    paths: list[Path],
    output: Path,
    work: Path,
    *,
    audio: Path | None,
    frame_range: tuple[int, int],
    poster: bytes,
    captures: int,
    workers: int,
    started: float,
    progress: Progress,
) -> RenderResult:
    """Join, mux and verify in ``work``, then move the MP4 and its poster into place."""
    start, end = frame_range
    joined = work / "video.mp4"
    probed = _join_verified(composition, paths, joined, audio, start, end, progress)
    poster_file = work / "poster.jpg"
    poster_file.write_bytes(poster)
    poster_path = output.with_suffix(".jpg")
    os.replace(poster_file, poster_path)
    os.replace(joined, output)
    return RenderResult(
        path=output,
        poster_path=poster_path,
        frames=end - start,
        captures=captures,
        width=probed.width,
        height=probed.height,
        fps=composition.fps,
        duration=probed.duration,
        size_bytes=probed.size_bytes,
        seconds=time.monotonic() - started,
        workers=workers,
    )


class _Capture:
    """Runs one browser per range of frames in parallel threads, into the segment writer."""

    def __init__(
        self,
        composition: Composition,
        settings: dict,
        ranges: list[tuple[int, int]],
        segments: SegmentWriter,
        poster_frame: int,
        progress: Progress,
        hold_timeout: float,
    ) -> None:
        self.composition = composition
        self.settings = settings
        self.ranges = ranges
        self.segments = segments
        self.poster_frame = poster_frame
        self.progress = progress
        self.hold_timeout = hold_timeout
        self.captures = 0
        self.poster = b""
        self._done = 0
        self._total = sum(end - start for start, end in ranges)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self) -> None:
        with AssetServer(self.composition.base_dir) as assets, RefusingProxy() as proxy:
            url = (
                self.composition.page
                if self.composition.is_url
                else assets.url_for(self.composition.page_path)
            )
            allowed = _origin_of(url)
            self.progress("capture", 0, self._total)
            pool = ThreadPoolExecutor(
                max_workers=len(self.ranges), thread_name_prefix="renderlib-worker"
            )
            futures = [
                pool.submit(self._render_range, start, end, url, allowed, proxy.origin)
                for start, end in self.ranges
            ]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            finally:
                # On an error (or Ctrl-C / SIGTERM in this thread) every worker stops
                # and closes its browser and encoder before we go on.
                self._stop.set()
                pool.shutdown(wait=True)
            errors = [f.exception() for f in futures if f.exception() is not None]
            real = [e for e in errors if not isinstance(e, _Cancelled)]
            if real:
                raise real[0]

    def _render_range(self, start: int, end: int, url: str, allowed: str, proxy: str) -> None:
        composition = self.composition
        with Browser(
            width=composition.width,
            height=composition.height,
            allowed_origin=allowed,
            proxy_origin=proxy,
        ) as browser:
            browser.open(
                url,
                frame_rate=composition.frame_rate,
                props=composition.props,
                hold_timeout=self.hold_timeout,
            )
            # A page whose state builds up frame by frame must live through every
            # earlier frame; a pure page can jump straight to the first one.
            first_seek = start if composition.pure else 0
            previous: bytes | None = None
            for frame in range(start, end):
                if self._stop.is_set():
                    raise _Cancelled()
                state = browser.seek(first_seek if frame == start else frame, frame)
                reuse = state.unchanged and previous is not None
                jpeg = previous if reuse else browser.capture_jpeg(self.settings["jpeg_quality"])
                self.segments.write(frame, jpeg)
                previous = jpeg
                if frame == self.poster_frame:
                    self.poster = jpeg
                with self._lock:
                    self.captures += 0 if reuse else 1
                    self._done += 1
                    self.progress("capture", self._done, self._total)


def _worker_ranges(start: int, end: int, workers: int) -> list[tuple[int, int]]:
    frames = end - start
    bounds = [start + frames * i // workers for i in range(workers + 1)]
    return list(zip(bounds, bounds[1:], strict=False))


def _check_range(frame_range: tuple[int, int] | None, frame_count: int) -> tuple[int, int]:
    if frame_range is None:
        return 0, frame_count
    start, end = frame_range
    if not 0 <= start < end <= frame_count:
        raise CompositionError(
            f"frames {start}:{end}: expected 0 <= START < END <= {frame_count} (the frame count)"
        )
    return start, end


def _prepare_output(output: Path) -> Path:
    output = output.absolute()
    if output.suffix.lower() != ".mp4":
        raise OutputPathError(f"{output}: the output must be an .mp4 file")
    if output.is_dir():
        raise OutputPathError(f"{output} is a folder; give a file name ending in .mp4")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create the folder for {output}: {exc.strerror}") from exc
    if not os.access(output.parent, os.W_OK):
        raise OutputPathError(f"cannot write to {output.parent}")
    return output


def _origin_of(url: str) -> str:
    return urlsplit(url).netloc
