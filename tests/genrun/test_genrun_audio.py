"""The audio mix alone: generated tones through mix_audio, probed with RMS and FFT."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from genrun_helpers import band_level, make_tone, read_wav, rms

from renderlib.audio import DUCK_RAMP, SAMPLE_RATE, mix_audio
from renderlib.composition import AudioTrack, Composition
from renderlib.errors import AudioError


def mixed(page_dir: Path, tracks: list[AudioTrack], duration: float = 4.0, fps: float = 10):
    composition = Composition(
        page="index.html",
        width=320,
        height=180,
        fps=fps,
        duration=duration,
        audio=tuple(tracks),
        base_dir=page_dir,
    )
    out = mix_audio(composition, page_dir / "mix.wav")
    return read_wav(out)


def test_mix_is_48k_stereo_exactly_the_video_long_with_silence_where_nothing_plays(page_dir):
    make_tone(page_dir / "beep.ogg", 1.0)
    # 61.4 s at 30 fps is 1842 frames: the WAV must match to the sample, pauses included.
    samples, rate = mixed(page_dir, [AudioTrack(src="beep.ogg", start=30.0)], duration=61.4, fps=30)
    assert rate == SAMPLE_RATE
    assert samples.shape == (round(1842 / 30 * SAMPLE_RATE), 2)
    assert rms(samples, rate, 0, 29.9) == 0
    assert rms(samples, rate, 30.1, 30.9) > 0.15
    assert rms(samples, rate, 31.1, 61.4) == 0


def test_start_volume_and_clip_cut_at_the_video_end(page_dir):
    make_tone(page_dir / "tone.mp3", 2.0)
    samples, rate = mixed(
        page_dir,
        [
            AudioTrack(src="tone.mp3", start=0.5, volume=1.0),
            AudioTrack(src="tone.mp3", start=3.5),  # runs 1.5 s past the end: cut, not dropped
        ],
    )
    loud = rms(samples, rate, 0.7, 2.3)
    assert rms(samples, rate, 0, 0.45) == 0
    assert loud > 0.15
    assert rms(samples, rate, 2.6, 3.45) == 0
    assert rms(samples, rate, 3.6, 4.0) == pytest.approx(loud, rel=0.05)
    assert len(samples) == 4 * rate

    quiet, _ = mixed(page_dir, [AudioTrack(src="tone.mp3", start=0.5, volume=0.5)])
    assert rms(quiet, rate, 0.7, 2.3) == pytest.approx(loud / 2, rel=0.05)


def test_loop_offset_and_duration(page_dir):
    # 1 s of silence, then 1 s of tone.
    make_tone(page_dir / "late.ogg", 1.0, delay=1.0)
    samples, rate = mixed(
        page_dir,
        [
            AudioTrack(src="late.ogg", start=0, offset=1.0, duration=0.5),
        ],
    )
    assert rms(samples, rate, 0.05, 0.45) > 0.15
    assert rms(samples, rate, 0.55, 4.0) == 0

    make_tone(page_dir / "short.ogg", 0.5)
    looped, _ = mixed(page_dir, [AudioTrack(src="short.ogg", start=1.0, loop=True)])
    assert rms(looped, rate, 0, 0.95) == 0
    for second in (1.2, 2.2, 3.2, 3.7):
        assert rms(looped, rate, second, second + 0.2) > 0.15
    limited, _ = mixed(page_dir, [AudioTrack(src="short.ogg", start=0, loop=True, duration=1.6)])
    assert rms(limited, rate, 1.3, 1.55) > 0.15
    assert rms(limited, rate, 1.65, 4.0) == 0


def test_fades(page_dir):
    make_tone(page_dir / "tone.ogg", 4.0)
    samples, rate = mixed(page_dir, [AudioTrack(src="tone.ogg", fade_in=1.0, fade_out=1.0)])
    full = rms(samples, rate, 1.5, 2.5)
    assert rms(samples, rate, 0.0, 0.1) < full * 0.15
    assert rms(samples, rate, 0.45, 0.55) == pytest.approx(full / 2, rel=0.1)
    assert rms(samples, rate, 3.9, 4.0) < full * 0.15


def test_music_is_ducked_while_narration_plays(page_dir):
    make_tone(page_dir / "music.wav", 1.0, freq=220)  # exact length: seamless loop
    make_tone(page_dir / "voice.ogg", 1.0, freq=1000)
    music = dict(src="music.wav", loop=True, track="music")
    voice = AudioTrack(src="voice.ogg", start=2.0, track="narration")
    plain, rate = mixed(page_dir, [AudioTrack(**music), voice])
    ducked, _ = mixed(
        page_dir,
        [
            AudioTrack(**music, duck_under="narration", duck_volume=0.25),
            voice,
        ],
    )
    before = band_level(ducked, rate, 0.5, 1.5, 220)
    under = band_level(ducked, rate, 2.2, 2.8, 220)
    assert before == pytest.approx(band_level(plain, rate, 0.5, 1.5, 220), rel=0.05)
    assert under == pytest.approx(before * 0.25, rel=0.1)
    assert band_level(plain, rate, 2.2, 2.8, 220) == pytest.approx(before, rel=0.05)
    # Lowered gradually over the ramp before the narration, not in one step.
    ramping = band_level(ducked, rate, 2.0 - 2 * DUCK_RAMP / 3, 2.0 - DUCK_RAMP / 3, 220)
    assert under * 1.2 < ramping < before * 0.9
    # Back to full level once the narration and the ramp are over.
    assert band_level(ducked, rate, 3.0 + DUCK_RAMP, 4.0, 220) == pytest.approx(before, rel=0.05)
    # The narration itself is untouched.
    assert band_level(ducked, rate, 2.2, 2.8, 1000) == pytest.approx(
        band_level(plain, rate, 2.2, 2.8, 1000), rel=0.05
    )


def test_missing_file_is_an_error_naming_it(page_dir):
    with pytest.raises(AudioError, match=r"nowhere\.ogg does not exist"):
        mixed(page_dir, [AudioTrack(src="nowhere.ogg")])


def test_undecodable_file_is_an_error_naming_it(page_dir):
    (page_dir / "broken.mp3").write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(AudioError, match=r"broken\.mp3 cannot be decoded"):
        mixed(page_dir, [AudioTrack(src="broken.mp3")])


def test_file_without_audio_is_an_error_naming_it(page_dir):
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=64x64:d=1",
            str(page_dir / "silent.mp4"),
        ],
        check=True,
    )
    with pytest.raises(AudioError, match=r"silent\.mp4 has no audio stream"):
        mixed(page_dir, [AudioTrack(src="silent.mp4")])


def test_clip_starting_after_the_end_is_an_error(page_dir):
    make_tone(page_dir / "tone.ogg", 1.0)
    with pytest.raises(AudioError, match=r"starts at 5 s, at or after the video's end"):
        mixed(page_dir, [AudioTrack(src="tone.ogg", start=5.0)])
