"""A page that says a frame is unchanged gets its previous capture reused, with the same pixels."""

import numpy as np

from renderlib import Composition, render
from tests.helpers import decode_frames
from tests.render.conftest import write_composition

# The box jumps every 5th frame; in between the page declares the frame unchanged
# (when DECLARE is true) because nothing moved.
PAGE = """<!doctype html><html><body style="margin:0;background:#000">
<div id="box" style="position:absolute;top:20px;width:20px;height:20px;background:#fff"></div>
<script>
const DECLARE = window.renderlib.props.declare;
window.renderFrame = (frame) => {
  document.getElementById("box").style.left = Math.floor(frame / 5) * 20 + "px";
  if (DECLARE && frame % 5 !== 0) window.renderlib.unchanged();
};
</script></body></html>"""


def _render(folder, declare: bool, workers: int):
    path = write_composition(
        folder, PAGE, fps=10, frames=22, props={"declare": declare}, output={"crf": 0}
    )
    return render(Composition.load(path), folder / f"out-{declare}-{workers}.mp4", workers=workers)


def test_unchanged_frames_are_not_captured_again_and_pixels_match(page_dir):
    reused = _render(page_dir, declare=True, workers=2)
    every = _render(page_dir, declare=False, workers=1)
    # Worker 1 has frames 0-10 and captures 0, 5, 10; worker 2 starts at 11, which it
    # must capture (it has no previous frame), then 15 and 20.
    assert reused.captures == 6
    assert every.captures == 22
    assert reused.frames == every.frames == 22
    assert np.array_equal(decode_frames(reused.path), decode_frames(every.path))
