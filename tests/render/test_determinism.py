"""The same frame always yields the same pixels, however the frames are split among workers."""

import numpy as np
import pytest

from renderlib import Composition, render
from tests.helpers import decode_frames
from tests.render.conftest import write_composition

# State that builds up frame by frame (a random walk seeded once, advanced per
# animation frame) plus CSS and canvas animation: a worker starting mid-way must
# step through the earlier frames to show the same thing.
PAGE = """<!doctype html><html><head><style>
body { margin: 0; background: #202020; }
#spin { position: absolute; left: 60px; top: 20px; width: 40px; height: 40px;
        background: linear-gradient(90deg, #e33, #33e); animation: spin 2s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
</style></head><body><canvas id="c" width="160" height="90"></canvas><div id="spin"></div>
<script>
let seed = 7, x = 80, y = 45;
const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const ctx = document.getElementById("c").getContext("2d");
function step(now) {
  x = Math.max(0, Math.min(150, x + (random() - 0.5) * 12));
  y = Math.max(0, Math.min(80, y + (random() - 0.5) * 12));
  ctx.fillStyle = `hsl(${now / 10 % 360}, 80%, 60%)`;
  ctx.fillRect(x, y, 10, 10);
  requestAnimationFrame(step);
}
requestAnimationFrame(step);
</script></body></html>"""


@pytest.fixture(scope="module")
def composition(tmp_path_factory):
    folder = tmp_path_factory.mktemp("determinism")
    # crf 0 is lossless, so decoded frames compare exactly.
    path = write_composition(folder, PAGE, fps=10, frames=24, output={"crf": 0})
    return Composition.load(path)


@pytest.fixture(scope="module")
def one_worker(composition, tmp_path_factory):
    out = tmp_path_factory.mktemp("w1") / "w1.mp4"
    return decode_frames(render(composition, out, workers=1).path)


def test_two_workers_give_the_same_frames_as_one(composition, one_worker, tmp_path):
    result = render(composition, tmp_path / "w2.mp4", workers=2)
    assert result.workers == 2
    two_workers = decode_frames(result.path)
    assert two_workers.shape == one_worker.shape
    assert np.array_equal(two_workers, one_worker)


def test_rendering_a_frame_again_gives_identical_pixels(composition, one_worker, tmp_path):
    first = decode_frames(render(composition, tmp_path / "a.mp4", frame_range=(17, 19)).path)
    second = decode_frames(render(composition, tmp_path / "b.mp4", frame_range=(17, 19)).path)
    assert np.array_equal(first, second)
    assert np.array_equal(first, one_worker[17:19])


def test_frames_differ_over_time(one_worker):
    # Guards the tests above against a page that renders nothing at all.
    assert not np.array_equal(one_worker[3], one_worker[4])
