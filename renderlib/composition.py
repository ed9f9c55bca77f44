"""What to render: the Composition model and its JSON file format.

A composition file is JSON; relative paths in it (``page``, audio ``src``) are
resolved against the file's folder, which is also the folder the page may read
from (see page_server). The format is documented in README.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from renderlib.errors import CompositionError

MAX_WIDTH = 3840
MAX_HEIGHT = 2160
MAX_FPS = 120

QUALITY_PRESETS: dict[str, dict[str, Any]] = {
    # crf: libx264 constant rate factor; jpeg: quality of the captured frames.
    "draft": {"crf": 30, "preset": "ultrafast", "jpeg_quality": 70},
    "standard": {"crf": 23, "preset": "veryfast", "jpeg_quality": 85},
    "high": {"crf": 18, "preset": "medium", "jpeg_quality": 95},
}


@dataclass(frozen=True)
class AudioTrack:
    """One audio clip placed on the video's timeline.

    ``start`` is when it begins in the video (s); ``offset`` skips that much of
    the source; ``duration`` limits how long it plays (with ``loop`` the source
    repeats until ``duration`` or the end of the video).
    """

    src: str
    start: float = 0.0
    volume: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    loop: bool = False
    duration: float | None = None
    offset: float = 0.0
    track: str = "main"
    duck_under: str | None = None
    duck_volume: float = 0.3

    def validate(self, where: str) -> None:
        if not self.src:
            raise CompositionError(f"{where}.src: expected an audio file path, got nothing")
        for name in ("start", "fade_in", "fade_out", "offset"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise CompositionError(f"{where}.{name}: expected a number >= 0, got {value!r}")
        if not _is_number(self.volume) or self.volume < 0:
            raise CompositionError(f"{where}.volume: expected a number >= 0, got {self.volume!r}")
        if self.duration is not None and (not _is_number(self.duration) or self.duration <= 0):
            raise CompositionError(
                f"{where}.duration: expected a number > 0 or null, got {self.duration!r}"
            )
        if not isinstance(self.loop, bool):
            raise CompositionError(f"{where}.loop: expected true or false, got {self.loop!r}")
        if not _is_number(self.duck_volume) or not 0 <= self.duck_volume <= 1:
            raise CompositionError(
                f"{where}.duck_volume: expected a number from 0 to 1, got {self.duck_volume!r}"
            )


@dataclass(frozen=True)
class OutputSettings:
    """How the MP4 is encoded. ``quality`` picks a preset; explicit fields override it."""

    quality: str = "standard"
    crf: int | None = None
    preset: str | None = None
    jpeg_quality: int | None = None
    audio_bitrate: str = "192k"
    poster_frame: int | None = None

    def validate(self) -> None:
        if self.quality not in QUALITY_PRESETS:
            raise CompositionError(
                f"output.quality: expected one of {', '.join(QUALITY_PRESETS)}, "
                f"got {self.quality!r}"
            )
        if self.crf is not None and not (isinstance(self.crf, int) and 0 <= self.crf <= 51):
            raise CompositionError(f"output.crf: expected a whole number 0..51, got {self.crf!r}")
        if self.jpeg_quality is not None and not (
            isinstance(self.jpeg_quality, int) and 1 <= self.jpeg_quality <= 100
        ):
            raise CompositionError(
                f"output.jpeg_quality: expected a whole number 1..100, got {self.jpeg_quality!r}"
            )
        if self.poster_frame is not None and (
            not isinstance(self.poster_frame, int) or self.poster_frame < 0
        ):
            raise CompositionError(
                f"output.poster_frame: expected a frame number >= 0, got {self.poster_frame!r}"
            )

    def resolved(self) -> dict[str, Any]:
        """The effective crf, preset and jpeg_quality."""
        settings = dict(QUALITY_PRESETS[self.quality])
        for name in ("crf", "preset", "jpeg_quality"):
            if getattr(self, name) is not None:
                settings[name] = getattr(self, name)
        return settings


@dataclass(frozen=True)
class Composition:
    """A page to capture, its size and timing, the data it gets and its audio.

    ``page`` is a path (relative to ``base_dir``) or an http(s) URL on a
    loopback host. Give ``duration`` (seconds) or ``frames``; ``frame_count``
    is what is rendered. ``pure`` declares the page a function of time only,
    so a worker may jump straight to its first frame.
    """

    page: str
    width: int
    height: int
    fps: float
    duration: float | None = None
    frames: int | None = None
    props: dict[str, Any] = field(default_factory=dict)
    audio: tuple[AudioTrack, ...] = ()
    output: OutputSettings = field(default_factory=OutputSettings)
    pure: bool = False
    base_dir: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_dir", Path(self.base_dir).resolve())
        object.__setattr__(self, "audio", tuple(self.audio))
        self.validate()

    @property
    def frame_count(self) -> int:
        return self.frames if self.frames is not None else frame_count(self.duration, self.fps)

    @property
    def frame_rate(self) -> Fraction:
        """The exact rate: frame N is at N / frame_rate seconds."""
        return exact_frame_rate(self.fps)

    @property
    def seconds(self) -> float:
        return float(self.frame_count / self.frame_rate)

    @property
    def is_url(self) -> bool:
        return urlparse(self.page).scheme in ("http", "https")

    @property
    def page_path(self) -> Path:
        return (self.base_dir / self.page).resolve()

    def audio_path(self, track: AudioTrack) -> Path:
        return (self.base_dir / track.src).resolve()

    def validate(self) -> None:
        if not isinstance(self.page, str) or not self.page:
            raise CompositionError("page: expected the page's path or URL, got nothing")
        for name, limit in (("width", MAX_WIDTH), ("height", MAX_HEIGHT)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise CompositionError(f"{name}: expected a whole number of pixels, got {value!r}")
            if value % 2:
                raise CompositionError(
                    f"{name}: {value} is odd; H.264 needs an even {name}, use {value + 1}"
                )
            if value > limit:
                raise CompositionError(f"{name}: {value} is larger than the maximum {limit}")
        if not _is_number(self.fps) or not 0 < self.fps <= MAX_FPS:
            raise CompositionError(
                f"fps: expected a number above 0 and at most {MAX_FPS}, got {self.fps!r}"
            )
        if self.duration is None and self.frames is None:
            raise CompositionError("duration: give the video's duration in seconds, or frames")
        if self.duration is not None and self.frames is not None:
            raise CompositionError("duration/frames: give one of them, not both")
        if self.duration is not None and (not _is_number(self.duration) or self.duration <= 0):
            raise CompositionError(f"duration: expected seconds > 0, got {self.duration!r}")
        if self.frames is not None and (
            not isinstance(self.frames, int) or isinstance(self.frames, bool) or self.frames <= 0
        ):
            raise CompositionError(f"frames: expected a whole number > 0, got {self.frames!r}")
        if not isinstance(self.props, dict):
            raise CompositionError(
                f"props: expected a JSON object, got {type(self.props).__name__}"
            )
        try:
            json.dumps(self.props)
        except (TypeError, ValueError) as exc:
            raise CompositionError(f"props: not JSON-serialisable ({exc})") from exc
        if self.is_url:
            host = urlparse(self.page).hostname or ""
            if host not in ("localhost", "::1") and not host.startswith("127."):
                raise CompositionError(
                    f"page: {self.page} is not on a loopback host; put the page's files next to "
                    "the composition so renderlib can serve them"
                )
        elif not self.page_path.is_file():
            raise CompositionError(f"page: {self.page_path} does not exist")
        elif not self.page_path.is_relative_to(self.base_dir):
            raise CompositionError(
                f"page: {self.page} is outside the composition folder {self.base_dir}"
            )
        for index, track in enumerate(self.audio):
            track.validate(f"audio[{index}]")
        self.output.validate()

    @classmethod
    def from_dict(cls, data: dict[str, Any], base_dir: Path | str) -> Composition:
        if not isinstance(data, dict):
            raise CompositionError("composition: expected a JSON object")
        known = {f.name for f in fields(cls)} - {"base_dir"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CompositionError(
                f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
            )
        for required in ("page", "width", "height", "fps"):
            if required not in data:
                raise CompositionError(f"{required}: missing (required)")
        values = dict(data)
        values["audio"] = tuple(
            _build(AudioTrack, item, f"audio[{i}]") for i, item in enumerate(data.get("audio", []))
        )
        values["output"] = _build(OutputSettings, data.get("output", {}), "output")
        return cls(base_dir=Path(base_dir), **values)

    @classmethod
    def load(cls, path: Path | str) -> Composition:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CompositionError(f"{path}: no such composition file") from exc
        except json.JSONDecodeError as exc:
            raise CompositionError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, base_dir=path.parent)


def exact_frame_rate(fps: float) -> Fraction:
    """``fps`` as a fraction; 23.976, 29.97, 59.94 (any rate k*1000/1001 to 3 decimals) are
    the NTSC rates 24000/1001, 30000/1001, 60000/1001, as video tools read them."""
    ntsc = Fraction(round(fps * 1001 / 1000) * 1000, 1001)
    if not float(fps).is_integer() and abs(fps - ntsc) < 0.0005:
        return ntsc
    return Fraction(fps).limit_denominator(1000)


def frame_count(duration: float, fps: float) -> int:
    """Frames needed to cover ``duration`` seconds at ``fps``."""
    # round() first so 2.0 s at 30 fps is 60 frames even with float error.
    return math.ceil(round(duration * float(exact_frame_rate(fps)), 6))


def _build(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise CompositionError(f"{where}: expected a JSON object")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CompositionError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        )
    if kind is AudioTrack and "src" not in data:
        raise CompositionError(f"{where}.src: missing (required)")
    return kind(**data)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
