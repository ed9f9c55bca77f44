"""The audio mix: every AudioTrack of a composition into one WAV covering the video.

MoviePy composes the clips (starts, offsets, durations, loops, volumes, fades);
the ducking envelope is applied with a MoviePy transform. Sources are decoded
by ffmpeg into memory (float32, ~0.4 MB per second of source) rather than read
through MoviePy's streaming file reader, which fails on loops and on chunks
that span more than half a short file (MoviePy 2.1/2.2). The result is a
48 kHz stereo 16-bit WAV exactly ``composition.seconds`` long, with silence
wherever nothing plays; the render muxes it into the MP4 as AAC.

A mix may also cover a frame range of the video (a chunk's, renderlib/chunks.py): every
sample is computed at its own time in the whole video, so the mixes of adjacent ranges,
joined by ``join_audio``, are the whole video's mix sample for sample.
"""

from __future__ import annotations

import json
import subprocess
import wave
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from moviepy import AudioArrayClip, AudioClip, CompositeAudioClip, afx

from renderlib.composition import AudioTrack, Composition
from renderlib.errors import AudioError
from renderlib.tools import tool_path

SAMPLE_RATE = 48_000
CHANNELS = 2
# A ducked track ramps down over this long before the other track starts
# playing, and back up over this long after it stops.
DUCK_RAMP = 0.3
BLOCK_SAMPLES = SAMPLE_RATE // 2  # computed and written at a time


def probe_audio(path: Path) -> float:
    """The duration (s) of an audio file; AudioError if it is missing or not audio."""
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    result = subprocess.run(
        [
            tool_path("ffprobe"),
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines() or ["ffprobe failed"]
        raise AudioError(f"audio file {path} cannot be decoded: {reason[-1]}")
    info = json.loads(result.stdout)
    if not any(s.get("codec_type") == "audio" for s in info.get("streams", [])):
        raise AudioError(f"audio file {path} has no audio stream")
    duration = float(info.get("format", {}).get("duration") or 0)
    if duration <= 0:
        raise AudioError(f"audio file {path} has no duration (empty or unreadable)")
    return duration


def decode_audio(path: Path) -> np.ndarray:
    """The whole file as float32 samples, shape (n, 2), at SAMPLE_RATE."""
    result = subprocess.run(
        [
            tool_path("ffmpeg"),
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-vn",
            "-f",
            "f32le",
            "-ac",
            str(CHANNELS),
            "-ar",
            str(SAMPLE_RATE),
            "-",
        ],
        capture_output=True,
    )
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines() or ["ffmpeg failed"]
        raise AudioError(f"audio file {path} cannot be decoded: {reason[-1]}")
    samples = np.frombuffer(result.stdout, dtype="<f4").reshape(-1, CHANNELS)
    if not len(samples):
        raise AudioError(f"audio file {path} cannot be decoded: it holds no samples")
    return samples


def track_end(track: AudioTrack, source_duration: float) -> float | None:
    """When the clip stops playing (s into the video); None if it loops to the video's end."""
    if track.loop and track.duration is None:
        return None
    available = source_duration - track.offset
    length = track.duration if track.loop else min(track.duration or available, available)
    return track.start + length


def audio_sample(composition: Composition, frame: int) -> int:
    """The index of the first audio sample of ``frame`` (at the frame count: the mix's
    length in samples)."""
    return round(float(frame / composition.frame_rate) * SAMPLE_RATE)


def mix_audio(
    composition: Composition, out_path: Path, frame_range: tuple[int, int] | None = None
) -> Path:
    """Mix every audio track of ``composition`` into the WAV at ``out_path``: the whole
    video, or its frames ``frame_range`` [start, end)."""
    start, end = frame_range or (0, composition.frame_count)
    first, last = audio_sample(composition, start), audio_sample(composition, end)
    mix = _composite(composition)
    with wave.open(str(out_path), "wb") as wav:
        wav.setnchannels(mix.nchannels)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        for block in range(first, last, BLOCK_SAMPLES):
            # The times as MoviePy's own writer computes them, sample by sample.
            times = (1.0 / SAMPLE_RATE) * np.arange(block, min(block + BLOCK_SAMPLES, last))
            samples = mix.to_soundarray(times, fps=SAMPLE_RATE, quantize=True, nbytes=2)
            wav.writeframes(samples.tobytes())
    return out_path


def join_audio(composition: Composition, pieces: Sequence[Path], out_path: Path) -> Path:
    """The WAV at ``out_path``: the ``pieces`` (mixes of adjacent frame ranges of
    ``composition``, in order) one after the other; AudioError unless they make the
    whole video's mix."""
    samples = 0
    with wave.open(str(out_path), "wb") as joined:
        for index, piece in enumerate(pieces):
            with wave.open(str(piece), "rb") as wav:
                if index == 0:
                    joined.setparams(wav.getparams())
                elif wav.getparams()[:3] != joined.getparams()[:3]:
                    raise AudioError(
                        f"{piece}: {wav.getnchannels()} channels of {8 * wav.getsampwidth()}"
                        f"-bit samples at {wav.getframerate()} Hz, unlike the pieces before it"
                    )
                samples += wav.getnframes()
                joined.writeframes(wav.readframes(wav.getnframes()))
    expected = audio_sample(composition, composition.frame_count)
    if samples != expected:
        raise AudioError(
            f"the {len(pieces)} audio pieces hold {samples} samples, the video's mix "
            f"{expected}: each piece must be mix_audio of its chunk's frame range"
        )
    return out_path


def _composite(composition: Composition) -> AudioClip:
    """Every track of ``composition`` placed, ducked and composed, as long as the video."""
    seconds = composition.seconds
    sources: dict[Path, np.ndarray] = {}  # a file used by several clips is decoded once
    clips = []
    for index, track in enumerate(composition.audio):
        path = composition.audio_path(track)
        if path not in sources:
            probe_audio(path)  # a clear error for a missing file or one that holds no audio
            sources[path] = decode_audio(path)
        where = f"audio[{index}] ({path})"
        clips.append((track, _placed_clip(track, sources[path], seconds, where)))
    placed = [_ducked(clip, track, clips) if track.duck_under else clip for track, clip in clips]
    # The composite is silent wherever nothing plays.
    return CompositeAudioClip(placed).with_duration(seconds)


def _placed_clip(track: AudioTrack, samples: np.ndarray, seconds: float, where: str) -> AudioClip:
    """The track's clip (``samples`` of its source) trimmed, looped, faded and placed."""
    # Time by the decoded samples, not the container's header, so loops are seamless.
    source_duration = len(samples) / SAMPLE_RATE
    if track.start >= seconds:
        raise AudioError(
            f"{where}: starts at {track.start:g} s, at or after the video's end ({seconds:g} s)"
        )
    if track.offset >= source_duration:
        raise AudioError(
            f"{where}: offset {track.offset:g} s is past the end of the file "
            f"({source_duration:g} s long)"
        )
    source = AudioArrayClip(samples, fps=SAMPLE_RATE)
    available = source_duration - track.offset
    end = track_end(track, source_duration)
    length = (end if end is not None else seconds) - track.start
    clip = source.time_transform(_source_time(track.offset, available, track.loop))
    clip = clip.with_duration(length)
    effects = []
    if track.volume != 1:
        effects.append(afx.MultiplyVolume(track.volume))
    if track.fade_in:
        effects.append(afx.AudioFadeIn(min(track.fade_in, clip.duration)))
    if track.fade_out:
        effects.append(afx.AudioFadeOut(min(track.fade_out, clip.duration)))
    clip = clip.with_effects(effects) if effects else clip
    return clip.with_start(track.start)


def _source_time(offset: float, available: float, loop: bool) -> Callable[..., np.ndarray]:
    """Maps clip time to source time: skip ``offset``, then wrap around if looping."""

    def source_time(t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return offset + (np.mod(t, available) if loop else t)

    return source_time


def _ducked(
    clip: AudioClip,
    track: AudioTrack,
    clips: list[tuple[AudioTrack, AudioClip]],
) -> AudioClip:
    """``clip`` lowered to ``track.duck_volume`` while any clip of ``track.duck_under`` plays."""
    spans = [(c.start, c.end) for t, c in clips if t.track == track.duck_under]
    if not spans:
        return clip
    gain = _duck_gain(spans, track.duck_volume)
    start = clip.start
    return clip.transform(lambda get_frame, t: _scale(get_frame(t), gain(t + start)))


def _duck_gain(spans: list[tuple[float, float]], level: float) -> Callable[..., np.ndarray]:
    """Gain over time: ``level`` inside the spans, 1 away from them, linear ramps between."""

    def gain(t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        depth = np.zeros_like(t)
        for begin, end in spans:
            rise = np.clip((t - (begin - DUCK_RAMP)) / DUCK_RAMP, 0, 1)
            fall = np.clip(((end + DUCK_RAMP) - t) / DUCK_RAMP, 0, 1)
            depth = np.maximum(depth, np.minimum(rise, fall))
        return 1 - (1 - level) * depth

    return gain


def _scale(samples: np.ndarray, gain: np.ndarray) -> np.ndarray:
    return samples * (gain[..., None] if np.ndim(gain) else gain)
