"""Real animation libraries (vendored: tests/render/fixtures/vendor) land where their own
semantics put them at N/fps, with exact timestamps and the same frames however split."""

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from renderlib import Composition, render
from tests.helpers import decode_frames, left_edge, video_frame_times
from tests.render.conftest import write_composition

FIXTURES = Path(__file__).parent / "fixtures"

# Each row holds one 10 px box moving 100 px per second for 2 s, by a different library.
PAGE = """<!doctype html><html><head><style>
body { margin: 0; background: #000; }
.box { position: absolute; width: 10px; height: 10px; left: 0; background: #fff; }
#css { top: 60px; animation: move 2s linear both; }
@keyframes move { from { left: 0; } to { left: 200px; } }
#lottie { position: absolute; top: 35px; left: 0; width: 220px; height: 20px; }
</style>
<script src="gsap.min.js"></script><script src="anime.min.js"></script>
<script src="lottie_svg.min.js"></script></head><body>
<div class="box" id="gsap" style="top:0"></div><div class="box" id="anime" style="top:15px"></div>
<div id="lottie"></div><div class="box" id="css"></div>
<canvas id="canvas" width="220" height="10" style="position:absolute;top:75px"></canvas>
<div class="box" id="counter" style="top:90px"></div>
<script>
gsap.to("#gsap", {x: 200, duration: 2, ease: "none"});
anime({targets: "#anime", translateX: 200, duration: 2000, easing: "linear"});
lottie.loadAnimation({container: document.getElementById("lottie"), renderer: "svg",
                      loop: false, autoplay: true, animationData: ANIMATION});
const ctx = document.getElementById("canvas").getContext("2d");
(function draw(now) {
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 220, 10);
  ctx.fillStyle = "#fff"; ctx.fillRect(Math.min(now, 2000) / 10, 0, 10, 10);
  requestAnimationFrame(draw);
})(0);
let count = 0;
const counter = document.getElementById("counter");
setInterval(() => {
  count = Math.min(count + 1, 20);
  counter.style.left = count * 10 + "px";
}, 100);
</script></body></html>"""

ROWS = {"gsap": 5, "anime": 20, "lottie": 45, "css": 65, "canvas": 80, "counter": 95}
FPS = 10
FRAMES = 24


@pytest.fixture(scope="module")
def composition(tmp_path_factory) -> Composition:
    folder = tmp_path_factory.mktemp("libraries")
    vendor = FIXTURES / "vendor"
    for library in (
        "gsap-3.15.0/gsap.min.js",
        "animejs-3.2.2/anime.min.js",
        "lottie-web-5.13.0/lottie_svg.min.js",
    ):
        shutil.copy(vendor / library, folder)
    animation = json.loads((FIXTURES / "lottie_move.json").read_text())
    html = PAGE.replace("ANIMATION", json.dumps(animation))
    path = write_composition(
        folder, html, width=220, height=110, fps=FPS, frames=FRAMES, output={"crf": 0}
    )
    return Composition.load(path)


@pytest.fixture(scope="module")
def one_worker(composition, tmp_path_factory) -> tuple[Path, np.ndarray]:
    result = render(composition, tmp_path_factory.mktemp("w1") / "w1.mp4", workers=1)
    return result.path, decode_frames(result.path)


@pytest.mark.parametrize("frame", [0, 1, 3, 7, 12, 19, 20, 23])
@pytest.mark.parametrize("library", list(ROWS))
def test_each_library_puts_its_box_where_time_n_over_fps_does(one_worker, library, frame):
    # anime.js 3 takes a first tick at timestamp 0 for "not started yet" (`if (!startTime)`)
    # and starts on the next one: in its own semantics it runs one frame late.
    moving_since = frame - 1 if library == "anime" else frame
    expected = min(max(moving_since, 0), 20) * 10  # 100 px/s for 2 s at 10 fps, then it stays
    assert abs(left_edge(one_worker[1][frame], ROWS[library]) - expected) <= 1


def test_every_frame_is_presented_at_exactly_n_over_fps(one_worker):
    times = video_frame_times(one_worker[0])
    assert times == [(Fraction(n, FPS), Fraction(1, FPS)) for n in range(FRAMES)]


def test_two_workers_and_a_partial_range_give_the_same_frames(composition, one_worker, tmp_path):
    two = decode_frames(render(composition, tmp_path / "w2.mp4", workers=2).path)
    assert np.array_equal(two, one_worker[1])
    part = decode_frames(render(composition, tmp_path / "p.mp4", frame_range=(7, 13)).path)
    assert np.array_equal(part, one_worker[1][7:13])
