"""Check a produced MP4 with ffprobe before anyone is told it is done."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from renderlib.errors import VerificationError
from renderlib.tools import tool_path


@dataclass(frozen=True)
class ProbedVideo:
    width: int
    height: int
    frames: int
    fps: float
    duration: float
    audio_duration: float | None
    size_bytes: int


def probe(path: Path) -> ProbedVideo:
    """What ffprobe reads from ``path`` (frames counted from packets, no decoding)."""
    completed = subprocess.run(
        [
            tool_path("ffprobe"),
            "-v",
            "error",
            "-count_packets",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise VerificationError(f"ffprobe cannot read {path}: {completed.stderr.strip()}")
    info = json.loads(completed.stdout)
    video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None:
        raise VerificationError(f"{path} has no video stream")
    audio = next((s for s in info.get("streams", []) if s.get("codec_type") == "audio"), None)
    numerator, denominator = video["avg_frame_rate"].split("/")
    return ProbedVideo(
        width=int(video["width"]),
        height=int(video["height"]),
        frames=int(video["nb_read_packets"]),
        fps=float(numerator) / float(denominator) if float(denominator) else 0.0,
        duration=float(video.get("duration") or info["format"]["duration"]),
        audio_duration=float(audio["duration"]) if audio and "duration" in audio else None,
        size_bytes=int(info["format"]["size"]),
    )


def verify(
    path: Path, *, width: int, height: int, frames: int, fps: float, with_audio: bool
) -> ProbedVideo:
    """Probe ``path`` and raise VerificationError if it is not what was asked for."""
    found = probe(path)
    expected_duration = frames / fps
    frame_time = 1 / fps
    problems = []
    if (found.width, found.height) != (width, height):
        problems.append(f"size {found.width}x{found.height}, expected {width}x{height}")
    if abs(found.fps - fps) > 0.01:
        problems.append(f"{found.fps:g} fps, expected {fps:g}")
    if found.frames != frames:
        problems.append(f"{found.frames} frames, expected {frames}")
    if abs(found.duration - expected_duration) > frame_time:
        problems.append(f"video lasts {found.duration:.3f} s, expected {expected_duration:.3f} s")
    if with_audio:
        if found.audio_duration is None:
            problems.append("no audio stream")
        # AAC works in 1024-sample frames, so allow one of those beyond a video frame.
        elif abs(found.audio_duration - expected_duration) > frame_time + 0.025:
            problems.append(
                f"audio lasts {found.audio_duration:.3f} s, expected {expected_duration:.3f} s"
            )
    elif found.audio_duration is not None:
        problems.append("unexpected audio stream")
    if problems:
        raise VerificationError(f"{path.name} failed verification: {'; '.join(problems)}")
    return found
