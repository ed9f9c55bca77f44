"""Frame N shows the page at time N/fps, whatever clock the page animates with."""

import subprocess

import pytest

from renderlib import Composition, render
from tests.helpers import decode_frames, left_edge
from tests.render.conftest import write_composition

# Each row holds one 10 px box moving 100 px per second by a different mechanism.
PAGE = """<!doctype html><html><head><style>
body { margin: 0; background: #000; }
.box { position: absolute; width: 10px; height: 10px; left: 0; background: #fff; }
#css { top: 0; animation: move 1s linear both; }
#transition { top: 60px; transition: left 0.5s linear; }
#transition.go { left: 50px; }
@keyframes move { from { left: 0; } to { left: 100px; } }
</style></head><body>
<div class="box" id="css"></div><div class="box" id="raf" style="top:15px"></div>
<div class="box" id="waapi" style="top:30px"></div>
<div class="box" id="interval" style="top:45px"></div>
<div class="box" id="transition"></div><div class="box" id="date" style="top:75px"></div>
<canvas id="canvas" width="160" height="10" style="position:absolute;top:90px"></canvas>
<script>
const t0 = Date.now();
document.getElementById("waapi").animate([{left: "0px"}, {left: "100px"}],
                                          {duration: 1000, easing: "linear", fill: "both"});
let ticks = 0;
const interval = document.getElementById("interval");
setInterval(() => { ticks++; interval.style.left = ticks * 10 + "px"; }, 100);
setTimeout(() => document.getElementById("transition").classList.add("go"), 300);
const ctx = document.getElementById("canvas").getContext("2d");
function frame(now) {
  document.getElementById("raf").style.left = now / 10 + "px";
  document.getElementById("date").style.left = (Date.now() - t0) / 10 + "px";
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 160, 10);
  ctx.fillStyle = "#fff"; ctx.fillRect(performance.now() / 10, 0, 10, 10);
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
</script></body></html>"""

ROWS = {
    "css": 5,
    "raf": 20,
    "waapi": 35,
    "interval": 50,
    "transition": 65,
    "date": 80,
    "canvas": 95,
}


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clock")
    path = write_composition(
        folder, PAGE, width=160, height=110, fps=10, duration=1, output={"crf": 0}
    )
    result = render(Composition.load(path), folder / "out.mp4", workers=1)
    return decode_frames(result.path)


@pytest.mark.parametrize("frame", [0, 3, 7, 9])
@pytest.mark.parametrize("mechanism", ["css", "raf", "waapi", "interval", "date", "canvas"])
def test_box_is_where_time_n_over_fps_puts_it(frames, frame, mechanism):
    expected = frame * 10  # 100 px/s at 10 fps
    assert abs(left_edge(frames[frame], ROWS[mechanism]) - expected) <= 1


@pytest.mark.parametrize("frame, expected", [(2, 0), (3, 0), (5, 20), (8, 50), (9, 50)])
def test_css_transition_started_by_a_timer_runs_on_virtual_time(frames, frame, expected):
    # The timer fires at 0.3 s; the transition then runs 50 px over 0.5 s.
    assert abs(left_edge(frames[frame], ROWS["transition"]) - expected) <= 1


def test_video_elements_show_the_frame_of_the_virtual_time(page_dir):
    # One second of video: red for the first half, blue for the second.
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=64x64:r=10:d=0.5",
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:s=64x64:r=10:d=0.5",
            "-filter_complex",
            "[0][1]concat=n=2:v=1",
            "-c:v",
            "libvpx",
            "-b:v",
            "200k",
            "-g",
            "1",
            str(page_dir / "clip.webm"),
        ],
        check=True,
    )
    html = """<body style="margin:0;background:#000">
    <video src="clip.webm" muted style="width:160px;height:90px;object-fit:fill"></video>
    <script>const release = window.renderlib.hold("video metadata");
    document.querySelector("video").addEventListener("loadeddata", release);</script></body>"""
    path = write_composition(page_dir, html, fps=10, duration=1)
    frames = decode_frames(render(Composition.load(path), page_dir / "out.mp4").path)
    red, blue = frames[2][45, 80], frames[8][45, 80]
    assert red[0] > 150 and red[2] < 80, red
    assert blue[2] > 150 and blue[0] < 80, blue
