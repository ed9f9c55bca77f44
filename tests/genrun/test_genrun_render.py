"""A small generation run rendered for real (Chromium, ffmpeg, MoviePy), then probed.

The run (genrun_helpers.small_run) is 320x180 at 10 fps, so frame n is at n/10 s.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from genrun_helpers import (
    band_level,
    decode_audio_track,
    decode_frames,
    rms,
    small_run,
    write_run,
)
from PIL import Image

from renderlib.generation_run import TEMPLATE_DIR, load_generation_run
from renderlib.renderer import render

W, H, FPS = 320, 180, 10
RED, BLUE, GREEN = (192, 0, 0), (0, 0, 192), (0, 160, 0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return small_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def cli_render(run_dir, tmp_path_factory) -> tuple[Path, str]:
    """The run rendered through the CLI, as a user would: (MP4, summary line)."""
    out = tmp_path_factory.mktemp("out") / "video.mp4"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "renderlib",
            "render",
            str(run_dir),
            "-o",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out, done.stdout


@pytest.fixture(scope="module")
def frames(cli_render) -> np.ndarray:
    return decode_frames(cli_render[0], W, H)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def close_to(pixel: np.ndarray, colour: tuple, tolerance: int = 12) -> bool:
    return bool(np.abs(pixel.astype(int) - colour).max() <= tolerance)


def test_duration_is_the_runs_with_an_audio_stream_as_long(cli_render):
    mp4, summary = cli_render
    # 6.2 s: the last narration clip ends after the declared 5 s and the last scene (5.5 s).
    assert "62 frames" in summary
    info = ffprobe(mp4)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["width"], video["height"]) == (W, H)
    assert int(video["nb_frames"]) == 62
    assert abs(float(video["duration"]) - 6.2) <= 1 / FPS
    assert abs(float(audio["duration"]) - 6.2) <= 1 / FPS
    assert abs(float(info["format"]["duration"]) - 6.2) <= 1 / FPS


def test_each_scene_shows_at_its_time(frames):
    assert close_to(frames[10][90, 10], RED)  # 1.0 s: intro
    assert close_to(frames[30][90, 10], BLUE)  # 3.0 s: scene 2, "details"
    assert close_to(frames[52][90, 10], GREEN)  # 5.2 s: outro
    assert close_to(frames[61][90, 10], GREEN)  # the last scene stays until the video ends


def test_mid_transition_frames_differ_from_both_scenes(frames):
    def differs(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(int) - b.astype(int)).mean())

    # Fade intro -> details over 2.0-2.4 s: frame 22 is a blend of red and blue.
    mid_fade = frames[22]
    assert differs(mid_fade, frames[15]) > 40 and differs(mid_fade, frames[26]) > 40
    assert not close_to(mid_fade[90, 10], RED, 40) and not close_to(mid_fade[90, 10], BLUE, 40)
    # Wipe details -> outro over 4.5-4.9 s: at 4.7 s the left is outro, the right still details.
    mid_wipe = frames[47]
    assert differs(mid_wipe, frames[44]) > 40 and differs(mid_wipe, frames[52]) > 40
    assert close_to(mid_wipe[90, 10], GREEN) and close_to(mid_wipe[90, 310], BLUE)


def test_bullets_appear_only_after_their_cue(frames):
    def text_pixels(frame: np.ndarray, top: int, bottom: int) -> int:
        return int((frame[top:bottom, :200].min(axis=2) > 170).sum())

    first, second = (30, 50), (52, 70)  # rows of the first and second bullet
    for n in (26, 27, 28):  # after the fade, before cue c1 (2.8 s) has revealed anything
        assert text_pixels(frames[n], *first) == 0
    assert text_pixels(frames[31], *first) > 20  # revealed by 3.0 s (reveal 0.2 s)
    for n in (31, 34, 36):  # cue c2 starts at 3.6 s
        assert text_pixels(frames[n], *second) == 0
    assert text_pixels(frames[38], *second) > 20


def caption_box_pixels(frame: np.ndarray) -> int:
    """Pixels of the caption's dark box, in the band above the progress bar."""
    return int((frame[140:172].astype(int).sum(axis=2) < 120).sum())


def test_captions_follow_the_timed_segments(frames):
    # Cue c1 speaks "First" 2.8-3.1 s and "point." 3.1-3.5 s; nothing is captioned before.
    assert caption_box_pixels(frames[26]) == 0
    assert caption_box_pixels(frames[29]) > 50 and caption_box_pixels(frames[32]) > 50
    # The same caption on both frames, up to the lossy encoding's noise.
    assert np.abs(frames[29, 140:172].astype(int) - frames[30, 140:172]).mean() < 0.15
    assert np.abs(frames[29, 140:172].astype(int) - frames[32, 140:172]).mean() > 0.3


def progress_width(frame: np.ndarray) -> int:
    """Columns of the bottom row in the accent colour of its leftmost pixel."""
    row = frame[H - 2].astype(int)
    return int((np.abs(row - row[0]).sum(axis=1) < 30).sum())


def test_progress_bar_grows_with_time(frames):
    widths = [progress_width(frames[n]) for n in (25, 32, 41)]
    assert 0 < widths[0] < widths[1] < widths[2] < W


def test_poster_is_the_chosen_frame(cli_render, frames):
    poster = cli_render[0].with_suffix(".jpg")
    image = Image.open(poster)
    assert image.format == "JPEG" and image.size == (W, H)
    # meta.poster is 3.5 s: frame 35, the details slide with its first bullet.
    pixels = np.asarray(image.convert("RGB")).astype(int)
    assert np.abs(pixels - frames[35]).mean() < 4
    assert np.abs(pixels - frames[15]).mean() > 40


def test_audio_follows_the_timeline(cli_render):
    samples, rate = decode_audio_track(cli_render[0])
    assert abs(len(samples) / rate - 6.2) <= 1 / FPS
    # Nothing plays before the music starts at 1 s.
    assert rms(samples, rate, 0.05, 0.9) < 0.002

    # Narration (1 kHz) plays at 2.8-3.8 s, not before.
    def level(start: float, end: float, freq: float) -> float:
        return band_level(samples, rate, start, end, freq)

    assert level(3.0, 3.6, 1000) > 10 * level(1.5, 2.4, 1000)
    # Music (220 Hz) ducked to 0.25 under the narration.
    music_alone, music_under = level(1.5, 2.4, 220), level(3.0, 3.6, 220)
    assert music_alone > 0.01
    assert music_under == pytest.approx(music_alone * 0.25, rel=0.3)
    # The 3 kHz sfx sounds at 4.5 s.
    assert level(4.5, 4.68, 3000) > 10 * level(4.0, 4.4, 3000)


def test_static_frames_are_reused_and_change_no_pixel(run_dir, tmp_path):
    composition = load_generation_run(run_dir)
    reused = render(composition, tmp_path / "reused.mp4", workers=1)
    assert reused.frames == 62
    assert reused.captures < reused.frames / 2

    # The same template with its unchanged() call removed captures every frame.
    template = shutil.copytree(TEMPLATE_DIR, tmp_path / "template")
    script = template / "standard.js"
    source = script.read_text()
    assert "window.renderlib.unchanged();" in source
    script.write_text(source.replace("window.renderlib.unchanged();", ""))
    every = render(
        dataclasses.replace(composition, base_dir=template), tmp_path / "every.mp4", workers=1
    )
    assert every.captures == every.frames == 62
    assert np.array_equal(decode_frames(reused.path, W, H), decode_frames(every.path, W, H))


@pytest.mark.parametrize("kind", ["fade", "slide", "wipe"])
def test_each_transition_runs_over_its_duration(kind, tmp_path):
    # Red "a" (0-1 s) then blue "b" (1-2 s) entering by `kind` over 1.0-1.4 s; frames 9-15 only.
    script = {
        "meta": {"width": W, "height": H, "fps": FPS},
        "scenes": [
            {"id": "a", "title": "A", "start": 0, "end": 1, "background": "#c00000"},
            {
                "id": "b",
                "title": "B",
                "start": 1,
                "end": 2,
                "background": "#0000c0",
                "transition": {"type": kind, "duration": 0.4},
            },
        ],
    }
    composition = load_generation_run(write_run(tmp_path, script, {"tracks": []}))
    result = render(composition, tmp_path / "t.mp4", workers=1, frame_range=(9, 16))
    video = decode_frames(result.path, W, H)  # video[i] is frame 9 + i
    before, start, middle, done = video[0], video[1], video[3], video[5]
    assert close_to(before[90, 10], RED) and close_to(before[90, 310], RED)
    assert close_to(start[90, 10], RED)  # 1.0 s: the transition has not moved yet
    assert close_to(done[90, 10], BLUE) and close_to(done[90, 310], BLUE)  # over at 1.4 s
    left, right = middle[90, 10], middle[90, 310]  # 1.2 s: halfway
    if kind == "fade":
        assert close_to(left, (96, 0, 96), 20) and close_to(right, (96, 0, 96), 20)
    elif kind == "slide":
        assert close_to(left, RED) and close_to(right, BLUE)
        # The old scene moves out to the left: its heading is gone from the left edge.
        assert not (middle[10:30, 10:60].min(axis=2) > 170).any()
        assert (video[0][10:30, 10:60].min(axis=2) > 170).any()
    else:
        assert close_to(left, BLUE) and close_to(right, RED)
        # A wipe moves nothing: the new scene's heading is uncovered in its place.
        assert (middle[10:30, 10:60].min(axis=2) > 170).any()
