"""The same file however a render is split: 1 or 2 workers, or a range on the segment grid,
for pure pages (workers jump to their first frame) and stepped ones, with lossy encoding."""

import hashlib
from fractions import Fraction

import numpy as np
import pytest

from renderlib import Composition, render
from renderlib.segments import segment_frames, segment_grid
from tests.helpers import decode_frames, frame_hashes
from tests.render.conftest import write_composition

# A title that slides in from the page's load (CSS keyframes), a box a timer starts
# moving (CSS transition), a Web Animation, and a canvas drawn from animation frames.
PAGE = """<!doctype html><html><head><style>
body { margin: 0; background: linear-gradient(90deg, #123, #345); }
#title { position: absolute; top: 0; width: 40px; height: 12px; background: #fc3;
         animation: slide 3s ease-out both; }
@keyframes slide { from { left: -40px; } to { left: 150px; } }
#late { position: absolute; top: 20px; left: 0; width: 12px; height: 12px; background: #3cf;
        transition: left 2s linear; }
#late.go { left: 140px; }
#waapi { position: absolute; top: 40px; width: 12px; height: 12px; background: #f3c; }
</style></head><body><div id="title"></div><div id="late"></div><div id="waapi"></div>
<canvas id="c" width="200" height="20" style="position:absolute;top:60px"></canvas>
<script>
setTimeout(() => document.getElementById("late").classList.add("go"), 1000);
document.getElementById("waapi").animate([{left: "0px", transform: "rotate(0deg)"},
  {left: "180px", transform: "rotate(360deg)"}], {duration: 4000, fill: "both"});
const ctx = document.getElementById("c").getContext("2d");
requestAnimationFrame(function draw(now) {
  ctx.clearRect(0, 0, 200, 20);
  ctx.fillStyle = `hsl(${now / 20 % 360}, 80%, 60%)`;
  ctx.fillRect((now / 25) % 190, 0, 10, 20);
  requestAnimationFrame(draw);
});
</script></body></html>"""
FPS = 10
FRAMES = 45  # the 2 s grid cuts it at 20 and 40; two workers split it at 22


def test_the_grid_depends_on_the_rate_alone():
    assert segment_frames(Fraction(30)) == 60
    assert segment_frames(Fraction(30000, 1001)) == 60
    assert segment_grid(0, 45, Fraction(FPS)) == [(0, 20), (20, 40), (40, 45)]
    assert segment_grid(7, 45, Fraction(FPS)) == [(7, 20), (20, 40), (40, 45)]
    assert segment_grid(20, 25, Fraction(FPS)) == [(20, 25)]


@pytest.fixture(scope="module", params=[True, False], ids=["pure", "stepped"])
def composition(request, tmp_path_factory) -> Composition:
    folder = tmp_path_factory.mktemp("split")
    path = write_composition(
        folder, PAGE, width=200, height=80, fps=FPS, frames=FRAMES, pure=request.param
    )
    return Composition.load(path)


@pytest.fixture(scope="module")
def one_worker(composition, tmp_path_factory):
    return render(composition, tmp_path_factory.mktemp("w1") / "w1.mp4", workers=1).path


def test_two_workers_write_the_same_file_as_one(composition, one_worker, tmp_path):
    two = render(composition, tmp_path / "w2.mp4", workers=2)
    assert two.workers == 2
    assert frame_hashes(two.path) == frame_hashes(one_worker)
    assert (
        hashlib.sha256(two.path.read_bytes()).digest()
        == hashlib.sha256(one_worker.read_bytes()).digest()
    )


def test_a_range_on_the_grid_gives_the_same_frames(composition, one_worker, tmp_path):
    part = render(composition, tmp_path / "part.mp4", frame_range=(20, FRAMES), workers=2)
    assert frame_hashes(part.path) == frame_hashes(one_worker)[20:]


def test_css_animations_run_from_time_zero_in_every_worker(composition, one_worker, tmp_path):
    # The second worker starts at frame 22 (2.2 s into the 3 s ease-out slide): the title
    # is far along, not back at its start.
    frames = decode_frames(render(composition, tmp_path / "w2.mp4", workers=2).path)
    title_row = frames[:, 6, :, :].astype(int)
    yellow = (title_row[:, :, 0] > 180) & (title_row[:, :, 2] < 120)
    lefts = [int(np.argmax(row)) if row.any() else -1 for row in yellow]
    assert lefts[22] > 120
    assert lefts == sorted(lefts)  # never restarts
    assert frame_hashes(tmp_path / "w2.mp4")[3] != frame_hashes(tmp_path / "w2.mp4")[4]
