"""Helpers for the generation-run tests: generated tones and WAV probes."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np

from renderlib.audio import SAMPLE_RATE, decode_audio


def make_tone(
    path: Path, seconds: float, freq: float = 440, delay: float = 0.0, volume: float = 3.0
) -> Path:
    """A mono sine tone of amplitude 0.125 * volume (after ``delay`` s of silence)."""
    filters = f"sine=frequency={freq}:duration={seconds}:sample_rate=48000,volume={volume}"
    if delay:
        filters += f",adelay={int(delay * 1000)},apad=whole_dur={seconds + delay}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", filters, "-ac", "1", str(path)],
        check=True,
    )
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples as floats in [-1, 1], shape (n, channels), and the sample rate."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data.reshape(-1, wav.getnchannels()).astype(float) / 32768, wav.getframerate()


def rms(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    part = samples[int(start * rate) : int(end * rate)]
    return float(np.sqrt(np.mean(part**2)))


def band_level(samples: np.ndarray, rate: int, start: float, end: float, freq: float) -> float:
    """Amplitude of the ``freq`` component between ``start`` and ``end`` (left channel)."""
    part = samples[int(start * rate) : int(end * rate), 0]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    bins = np.fft.rfftfreq(len(part), 1 / rate)
    near = np.abs(bins - freq) < 15
    return float(spectrum[near].max() / len(part))


def small_run(folder: Path) -> Path:
    """A short generation run (320x180, 10 fps) whose timing the render tests probe.

    Scenes: "intro" 0-2 s (red, title slide), "details" 2-4.5 s (blue, fades in
    over 0.4 s; bullets cued at 2.8 s and 3.6 s, captions, progress bar),
    "outro" 4.5-5.5 s (green, wipes in over 0.4 s). The last narration clip ends
    at 6.2 s, after the declared 5 s and the last scene: the video is 6.2 s. Music
    loops from 1 s (ducked under narration), a 3 kHz sfx plays at 4.5 s.
    """
    audio = folder / "audio"
    audio.mkdir(parents=True)
    make_tone(audio / "voice.ogg", 1.0, freq=1000)
    make_tone(audio / "music.wav", 1.0, freq=220)  # exact length: seamless loop
    make_tone(audio / "ding.ogg", 0.2, freq=3000)
    script = {
        "meta": {
            "title": "Small run",
            "width": 320,
            "height": 180,
            "fps": 10,
            "duration": 5.0,
            "poster": 3.5,
        },
        "scenes": [
            {
                "id": "intro",
                "title": "Intro",
                "start": 0,
                "end": 2,
                "background": "#c00000",
                "layers": [{"type": "title", "subtitle": "a test"}],
            },
            {
                "id": "details",
                "title": "Details",
                "start": 2,
                "end": 4.5,
                "background": "#0000c0",
                "transition": {"type": "fade", "duration": 0.4},
                "layers": [
                    {"type": "bullets", "reveal": 0.2},
                    {"type": "captions"},
                    {"type": "progress", "interval": 1},
                ],
                "cues": [
                    {
                        "id": "c1",
                        "text": "First point.",
                        "start": 2.8,
                        "end": 3.5,
                        "bullets": ["First point"],
                        "segments": [
                            {"text": "First", "start": 2.8, "end": 3.1},
                            {"text": "point.", "start": 3.1, "end": 3.5},
                        ],
                    },
                    {
                        "id": "c2",
                        "text": "Second point.",
                        "start": 3.6,
                        "end": 4.4,
                        "bullets": ["Second point"],
                    },
                ],
            },
            {
                "id": "outro",
                "title": "Outro",
                "start": 4.5,
                "end": 5.5,
                "background": "#00a000",
                "transition": {"type": "wipe", "duration": 0.4},
            },
        ],
    }
    timeline = {
        "tracks": [
            {
                "name": "narration",
                "clips": [
                    {"src": "audio/voice.ogg", "start": 2.8},
                    {"src": "audio/voice.ogg", "start": 5.2},
                ],
            },
            {
                "name": "music",
                "duck": {"under": "narration", "volume": 0.25},
                "clips": [
                    {"src": "audio/music.wav", "start": 1.0, "loop": True, "volume": 0.5},
                ],
            },
            {"name": "sfx", "clips": [{"src": "audio/ding.ogg", "start": 4.5}]},
        ]
    }
    write_run(folder, script, timeline)
    return folder


def write_run(folder: Path, script: dict | None, timeline: dict | None) -> Path:
    if script is not None:
        (folder / "script.json").write_text(json.dumps(script, indent=1))
    if timeline is not None:
        (folder / "timeline.json").write_text(json.dumps(timeline, indent=1))
    return folder


def decode_frames(mp4: Path, width: int, height: int) -> np.ndarray:
    """Every video frame of ``mp4`` as RGB, shape (frames, height, width, 3)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp4), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)


def decode_audio_track(mp4: Path) -> tuple[np.ndarray, int]:
    """The MP4's audio as floats, shape (n, 2), at renderlib's mix rate."""
    return decode_audio(mp4).astype(float), SAMPLE_RATE
