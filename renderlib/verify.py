"""Check a produced MP4 with ffprobe before anyone is told it is done."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
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
    time_base: Fraction
    # (pts, duration) of every video packet in presentation order, in time_base ticks.
    frame_times: list[tuple[int, int]]


def probe(path: Path) -> ProbedVideo:
    """What ffprobe reads from ``path`` (frames and timestamps from packets, no decoding)."""
    completed = subprocess.run(
        [
            tool_path("ffprobe"),
            "-v",
            "error",
            "-count_packets",
            "-show_streams",
            "-show_format",
            "-show_entries",
            "packet=stream_index,pts,duration",
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
    numerator, denominator = video["r_frame_rate"].split("/")
    frame_times = sorted(
        (int(packet["pts"]), int(packet["duration"]))
        for packet in info.get("packets", [])
        if packet["stream_index"] == video["index"]
    )
    return ProbedVideo(
        width=int(video["width"]),
        height=int(video["height"]),
        frames=int(video["nb_read_packets"]),
        fps=float(numerator) / float(denominator) if float(denominator) else 0.0,
        duration=float(video.get("duration") or info["format"]["duration"]),
        audio_duration=float(audio["duration"]) if audio and "duration" in audio else None,
        size_bytes=int(info["format"]["size"]),
        time_base=Fraction(video["time_base"]),
        frame_times=frame_times,
    )


def verify(
    path: Path, *, width: int, height: int, frames: int, frame_rate: Fraction, with_audio: bool
) -> ProbedVideo:
    """Probe ``path`` and raise VerificationError if it is not what was asked for.

    Frame N must be presented at exactly N / frame_rate and last exactly one frame.
    """
    found = probe(path)
    expected_duration = float(frames / frame_rate)
    frame_time = float(1 / frame_rate)
    problems = []
    if (found.width, found.height) != (width, height):
        problems.append(f"size {found.width}x{found.height}, expected {width}x{height}")
    if found.frames != frames:
        problems.append(f"{found.frames} frames, expected {frames}")
    ticks = 1 / (frame_rate * found.time_base)
    late = [
        n
        for n, (pts, duration) in enumerate(found.frame_times)
        if pts != n * ticks or duration != ticks
    ]
    if late:
        n = late[0]
        at, lasting = (float(value * found.time_base) for value in found.frame_times[n])
        problems.append(
            f"{len(late)} frame(s) off the frame grid, first frame {n} at {at:.6f} s "
            f"lasting {lasting:.6f} s"
        )
    if abs(found.duration - expected_duration) > 1e-6:
        problems.append(f"video lasts {found.duration:.6f} s, expected {expected_duration:.6f} s")
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
