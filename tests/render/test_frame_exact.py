"""Frame-exact output: timestamps exactly N/fps through joins and the audio mux, media
elements on the frame whose interval holds N/fps, clocks as browsers have them."""

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from renderlib import Composition, render
from renderlib.errors import VerificationError
from renderlib.verify import verify
from tests.helpers import decode_frames, left_edge, video_frame_times
from tests.render.conftest import write_composition

PLAIN = """<!doctype html><html><body style="margin:0;background:#345">
<script>requestAnimationFrame(function f(t) {
  document.body.style.background = `hsl(${t / 5 % 360}, 50%, 50%)`;
  requestAnimationFrame(f);
})</script></body></html>"""


def stream_durations(video: Path) -> dict[str, float]:
    info = json.loads(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type,duration:format=duration",
                "-of",
                "json",
                str(video),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    found = {s["codec_type"]: float(s["duration"]) for s in info["streams"]}
    found["format"] = float(info["format"]["duration"])
    return found


def tone(path: Path, seconds: float) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-ar",
            "48000",
            "-y",
            str(path),
        ],
        check=True,
    )
    return path


# 53 frames split 26 + 27 (and cut by the 2 s grid) give segments that are no whole number
# of milliseconds at any of these rates.
@pytest.mark.parametrize(
    "fps, rate",
    [
        (30, Fraction(30)),
        (29.97, Fraction(30000, 1001)),
        (24, Fraction(24)),
        (25, Fraction(25)),
        (60, Fraction(60)),
    ],
)
def test_every_frame_is_at_exactly_n_over_fps_with_two_workers(page_dir, fps, rate):
    path = write_composition(page_dir, PLAIN, width=64, height=36, fps=fps, frames=53)
    result = render(Composition.load(path), page_dir / "out.mp4", workers=2)
    assert video_frame_times(result.path) == [(n / rate, 1 / rate) for n in range(53)]
    assert stream_durations(result.path)["video"] == pytest.approx(float(53 / rate), abs=1e-6)


def test_the_audio_mux_and_a_partial_range_keep_the_timing(page_dir):
    tone(page_dir / "tone.wav", 5)
    path = write_composition(
        page_dir, PLAIN, width=64, height=36, fps=29.97, frames=105, audio=[{"src": "tone.wav"}]
    )
    result = render(Composition.load(path), page_dir / "out.mp4", workers=2, frame_range=(7, 105))
    rate = Fraction(30000, 1001)
    assert video_frame_times(result.path) == [(n / rate, 1 / rate) for n in range(98)]
    durations = stream_durations(result.path)
    assert durations["video"] == durations["format"] == pytest.approx(float(98 / rate), abs=1e-6)
    assert durations["audio"] == pytest.approx(float(98 / rate), abs=1 / 48000)


# --- media elements --------------------------------------------------------------------

VIDEO_PAGE = """<!doctype html><html><body style="margin:0;background:#000">
<video src="clip.mp4" muted playsinline preload="auto" style="display:block;width:64px;height:36px">
</video></body></html>"""
CLIP_FRAMES = 90  # 3 s at 30 fps, each frame a flat colour that encodes its index


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("video")
    colour = "r='mod(N,16)*16+8':g='floor(N/16)*16+8':b=128"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"nullsrc=size=64x36:rate=30,format=gbrp,geq={colour}",
            "-frames:v",
            str(CLIP_FRAMES),
            "-c:v",
            "libx264",
            "-qp",
            "4",
            "-pix_fmt",
            "yuv420p",
            "-y",
            str(folder / "clip.mp4"),
        ],
        check=True,
    )
    return folder


def clip_frames_shown(video: Path) -> list[int]:
    frames = decode_frames(video).astype(int)
    centre = frames[:, 18, 32, :]
    return [int(round((r - 8) / 16) + 16 * round((g - 8) / 16)) for r, g, _ in centre]


def render_video_page(folder: Path, out: Path, *, fps: float, **options) -> list[int]:
    path = write_composition(
        folder, VIDEO_PAGE, width=64, height=36, fps=fps, duration=3, output={"crf": 0}
    )
    return clip_frames_shown(render(Composition.load(path), out, **options).path)


def test_a_video_shows_the_frame_that_holds_n_over_fps(video_folder, tmp_path):
    shown = render_video_page(video_folder, tmp_path / "w1.mp4", fps=30, workers=1)
    assert shown == list(range(CLIP_FRAMES))


def test_a_video_at_another_rate_and_split_among_workers(video_folder, tmp_path):
    shown = render_video_page(video_folder, tmp_path / "w2.mp4", fps=24, workers=2)
    assert shown == [n * 30 // 24 for n in range(72)]


@pytest.mark.parametrize("attempt", range(4))
@pytest.mark.parametrize("first", [29, 60])
def test_the_first_frame_of_a_range_shows_the_new_video_frame(
    video_folder, tmp_path, first, attempt
):
    shown = render_video_page(
        video_folder, tmp_path / "p.mp4", fps=30, frame_range=(first, first + 2)
    )
    assert shown == [first, first + 1]


AUDIO_PAGE = """<!doctype html><html><head><style>
body { margin: 0; background: #000; }
#box { position: absolute; top: 0; left: 0; width: 10px; height: 10px; background: #fff; }
</style></head><body><audio id="a" src="tone.wav" preload="auto"></audio><div id="box"></div>
<script>
const audio = document.getElementById("a"), box = document.getElementById("box");
requestAnimationFrame(function f() {
  box.style.left = Math.round(audio.currentTime * 100) + "px"; requestAnimationFrame(f); });
</script></body></html>"""


def test_a_page_reading_audio_current_time_sees_this_frames_time(page_dir):
    tone(page_dir / "tone.wav", 3)
    path = write_composition(
        page_dir, AUDIO_PAGE, width=160, height=20, fps=10, frames=15, output={"crf": 0}
    )
    frames = decode_frames(render(Composition.load(path), page_dir / "out.mp4", workers=1).path)
    assert [left_edge(f, 5) for f in frames] == [n * 10 for n in range(15)]


# --- clocks ------------------------------------------------------------------------------

CLOCK_PAGE = """<!doctype html><html><head><style>
body { margin: 0; background: #000; }
.box { position: absolute; left: 0; width: 4px; height: 10px; background: #fff; }
</style></head><body>
<div class="box" id="date" style="top:0"></div><div class="box" id="whole" style="top:15px"></div>
<div class="box" id="perf" style="top:30px"></div>
<script>
const t0 = Date.now();
const place = (id, px) => { document.getElementById(id).style.left = px + "px"; };
requestAnimationFrame(function f() {
  place("date", Date.now() - t0);
  place("whole", (Date.now() % 1) * 100 + 10 + (new Date().getTime() % 1) * 100);
  place("perf", Math.round((performance.now() % 1) * 100));
  requestAnimationFrame(f);
});
</script></body></html>"""


def test_date_now_is_whole_milliseconds_and_performance_now_is_exact(page_dir):
    path = write_composition(
        page_dir, CLOCK_PAGE, width=160, height=40, fps=30, frames=4, output={"crf": 0}
    )
    frames = decode_frames(render(Composition.load(path), page_dir / "out.mp4", workers=1).path)
    assert [left_edge(f, 5) for f in frames] == [0, 33, 66, 100]
    assert [left_edge(f, 20) for f in frames] == [10] * 4
    assert [left_edge(f, 35) for f in frames] == [0, 33, 67, 0]


def test_verification_refuses_a_video_whose_frames_drift(tmp_path):
    # Joined the way renderlib once did: segments with a millisecond movie header.
    listing = tmp_path / "list.txt"
    for index, (first, last) in enumerate([(0, 52), (52, 105)]):
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x36:rate=30",
                "-vf",
                f"trim=start_frame={first}:end_frame={last},setpts=PTS-STARTPTS",
                "-c:v",
                "libx264",
                "-video_track_timescale",
                "90000",
                "-y",
                str(tmp_path / f"{index}.mp4"),
            ],
            check=True,
        )
        with listing.open("a") as file:
            file.write(f"file '{tmp_path / f'{index}.mp4'}'\n")
    joined = tmp_path / "joined.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-y",
            str(joined),
        ],
        check=True,
    )
    with pytest.raises(VerificationError, match=r"frame\(s\) off the frame grid, first frame 52"):
        verify(joined, width=64, height=36, frames=105, frame_rate=Fraction(30), with_audio=False)
