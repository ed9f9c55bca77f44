"""ffmpeg steps: JPEG frames into an H.264 segment, and segments plus audio into the MP4.

Segments are joined with the concat demuxer and ``-c:v copy``, so the video is
encoded exactly once however many workers rendered it. Every timestamp is a whole
number of ticks of one timescale in which a frame lasts a whole number of ticks, so
frame N is at exactly N / rate through every join.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import wave
from fractions import Fraction
from pathlib import Path

from renderlib.errors import EncodeError
from renderlib.tools import tool_path

# x264 on one thread: its output depends on the thread count, and a segment must encode
# the same on a laptop and on a Fargate task of any size. Workers run in parallel instead.
ENCODER_THREADS = 1


def timescale_for(frame_rate: Fraction) -> int:
    """A timescale near 90 kHz in which one frame lasts a whole number of ticks."""
    step = frame_rate.numerator // math.gcd(frame_rate.numerator, 90000 * frame_rate.denominator)
    return 90000 * step


def frame_ticks(frame_rate: Fraction) -> int:
    """How long one frame lasts in ``timescale_for(frame_rate)`` ticks."""
    return int(timescale_for(frame_rate) / frame_rate)


class SegmentEncoder:
    """An ffmpeg process that turns JPEG frames written to it into an H.264 MP4 segment.

    The segment starts with a keyframe and depends on nothing but its own frames and
    the settings, so the same frames always give the same bytes.
    """

    def __init__(self, path: Path, *, frame_rate: Fraction, crf: int, preset: str) -> None:
        self.path = Path(path)
        self._log = tempfile.TemporaryFile()
        timescale = timescale_for(frame_rate)
        command = _ffmpeg(
            *f"-f image2pipe -framerate {frame_rate} -c:v mjpeg -i -".split(),
            *f"-c:v libx264 -preset {preset} -crf {crf} -pix_fmt yuv420p".split(),
            *f"-threads {ENCODER_THREADS} -video_track_timescale {timescale}".split(),
            *f"-movie_timescale {timescale} -an -y".split(),
            str(self.path),
        )
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=self._log)

    def write(self, jpeg: bytes) -> None:
        try:
            self._process.stdin.write(jpeg)
        except BrokenPipeError:
            self._process.wait()
            raise EncodeError(
                f"ffmpeg stopped while encoding {self.path.name}: {self._error()}"
            ) from None

    def end_input(self) -> None:
        """No more frames: ffmpeg finishes the segment on its own while capture goes on."""
        if not self._process.stdin.closed:
            self._process.stdin.close()

    def finish(self) -> None:
        """Wait until the segment is written; raise EncodeError if ffmpeg failed."""
        self.end_input()
        if self._process.wait() != 0:
            raise EncodeError(f"ffmpeg failed to encode {self.path.name}: {self._error()}")

    def abort(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._process.stdin and not self._process.stdin.closed:
            try:
                self._process.stdin.close()
            except BrokenPipeError:
                pass

    def __enter__(self) -> SegmentEncoder:
        return self

    def close(self) -> None:
        self.abort()
        self._log.close()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def _error(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {self._process.returncode}"


def join_and_mux(
    segments: list[Path],
    output: Path,
    *,
    audio: Path | None = None,
    audio_start: Fraction = Fraction(0),
    duration: Fraction,
    frame_rate: Fraction,
    audio_bitrate: str = "192k",
) -> None:
    """Join ``segments`` without re-encoding and mux ``audio`` (AAC) into ``output``.

    ``audio_start`` skips that much of the audio file, for partial renders.
    """
    timescale = str(timescale_for(frame_rate))
    listing = output.with_suffix(".segments.txt")
    listing.write_text("".join(f"file '{segment.resolve()}'\n" for segment in segments))
    command = _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing))
    if audio is not None:
        command += ["-i", str(audio), "-map", "0:v", "-map", "1:a"]
        command += ["-af", _audio_window(audio, audio_start, duration)]
        command += ["-c:a", "aac", "-b:a", audio_bitrate]
    command += ["-c:v", "copy", "-video_track_timescale", timescale, "-movie_timescale", timescale]
    command += ["-movflags", "+faststart", "-f", "mp4", "-y", str(output)]
    completed = subprocess.run(command, capture_output=True, text=True)
    listing.unlink()
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        raise EncodeError(f"ffmpeg failed to join the video: {lines[-1] if lines else 'no output'}")


def _audio_window(audio: Path, start: Fraction, duration: Fraction) -> str:
    """The filter that cuts the WAV to the video's time, to the sample and never a sample
    longer than the frames, so the MP4 lasts exactly as long as its video."""
    with wave.open(str(audio)) as wav:
        rate = wav.getframerate()
    first = round(start * rate)
    end = first + math.floor(duration * rate)
    return f"atrim=start_sample={first}:end_sample={end},asetpts=PTS-STARTPTS"


def _ffmpeg(*arguments: str) -> list[str]:
    """An ffmpeg command that prints only errors and never reads the terminal."""
    return [tool_path("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", *arguments]
