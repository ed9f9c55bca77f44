"""`renderlib estimate` on a tiny composition, with real Chromium and ffmpeg: it renders
its sample, and prints a table of sane figures (no timing is asserted)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from renderlib.cli import main
from renderlib.composition import Composition
from renderlib.sample_render import TreeCpu, measure_sample, sample_ranges
from tests.render.conftest import write_composition

# State that builds up frame by frame: not pure.
PAGE = """<body style="margin:0;background:#123"><div id="b" style="position:absolute;
width:8px;height:8px;background:#fff"></div><script>let x = 0;
window.renderFrame = () => { x += 2; document.getElementById("b").style.left = x + "px"; };
</script></body>"""

ROW = re.compile(r"^\s*(\d+)\s+([\d,]+)\s+(\S+)\s+([\d,]+)\s+([\d.]+)\s+(\S+(?: s)?)$")


def test_estimate_prints_one_task_and_n_tasks(page_dir, capsys):
    tone = page_dir / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=4", str(tone)],
        check=True,
    )
    path = write_composition(page_dir, PAGE, fps=10, duration=4, audio=[{"src": "tone.wav"}])

    code = main(
        ["estimate", str(path), "--tasks", "4", "--samples", "2", "--sample-seconds", "1",
         "--duration", "600", "--provisioning-seconds", "60"]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert "page not pure" in out and "video: 600.0 s = 6,000 frames" in out
    assert "task: 4 vCPU / 16 GB / 50 GB storage, 4 browsers" in out
    rows = [ROW.match(line) for line in out.splitlines() if ROW.match(line)]
    assert [int(r.group(1)) for r in rows] == [1, 4]
    assert [r.group(2) for r in rows] == ["6,000", "1,500"]
    for row in rows:
        minutes, seconds = re.fullmatch(r"(\d+)m(\d\d)s", row.group(3)).groups()
        wall = int(minutes) * 60 + int(seconds)
        task_seconds = float(row.group(4).replace(",", ""))
        assert wall > 60  # provisioning, then the render
        assert task_seconds > 0 and float(row.group(5)) > 0
        assert row.group(6).endswith(" s")  # stepping, in seconds, for a page that is not pure
    one, four = (float(r.group(4).replace(",", "")) for r in rows)
    assert four > one  # four chunk tasks each start a browser, and step further


def test_sample_ranges_spread_over_the_video_and_measure_each(page_dir):
    path = write_composition(page_dir, PAGE, fps=10, frames=40, pure=True)
    composition = Composition.load(path)
    assert sample_ranges(composition, 3, 0.5) == [(0, 5), (17, 22), (35, 40)]

    report = measure_sample(composition, page_dir.parent / "scratch", ranges=2, seconds=1)
    assert [(t.start, t.frames) for t in report.ranges] == [(0, 10), (30, 10)]
    sample = report.sample
    assert sample.frames == 40 and sample.pure and sample.step_seconds_per_frame == 0
    assert report.cpu_measured and sample.cpu_seconds_per_frame > 0
    assert sample.browser_start_seconds > 0 and sample.bytes_per_frame > 0
    assert sample.audio_mix_seconds == 0  # no audio


def test_tree_cpu_counts_a_grandchild_that_is_not_ours_to_reap():
    burn = (
        "import os, time\n"
        "while time.process_time() < 0.6: pass\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    with TreeCpu() as cpu:
        before = cpu.seconds()
        # A shell between us and the burner, as chromedriver is between us and Chromium.
        # (It burns 0.6 CPU-s; /proc counts whole clock ticks.)
        child = subprocess.Popen(
            ["sh", "-c", '"$1" -c "$0" & wait', burn, sys.executable],
            stdout=subprocess.PIPE,
            text=True,
        )
        grandchild = None
        try:
            grandchild = int(child.stdout.readline())
            assert grandchild != child.pid
            assert cpu.seconds() - before >= 0.5
        finally:
            if grandchild:
                os.kill(grandchild, signal.SIGKILL)
            else:
                child.kill()
            child.wait(timeout=60)
