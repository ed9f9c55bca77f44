"""Helpers for the generation-run tests: generated tones and WAV probes."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np


def make_tone(path: Path, seconds: float, freq: float = 440, delay: float = 0.0,
              volume: float = 3.0) -> Path:
    """A mono sine tone of amplitude 0.125 * volume (after ``delay`` s of silence)."""
    filters = f"sine=frequency={freq}:duration={seconds}:sample_rate=48000,volume={volume}"
    if delay:
        filters += f",adelay={int(delay * 1000)},apad=whole_dur={seconds + delay}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", filters, "-ac", "1",
                    str(path)], check=True)
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples as floats in [-1, 1], shape (n, channels), and the sample rate."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data.reshape(-1, wav.getnchannels()).astype(float) / 32768, wav.getframerate()


def rms(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    part = samples[int(start * rate):int(end * rate)]
    return float(np.sqrt(np.mean(part ** 2)))


def band_level(samples: np.ndarray, rate: int, start: float, end: float, freq: float) -> float:
    """Amplitude of the ``freq`` component between ``start`` and ``end`` (left channel)."""
    part = samples[int(start * rate):int(end * rate), 0]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    bins = np.fft.rfftfreq(len(part), 1 / rate)
    near = np.abs(bins - freq) < 15
    return float(spectrum[near].max() / len(part))
