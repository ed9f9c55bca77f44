"""What render() produces: a verified MP4 of the asked size, frames and duration, and a poster."""

import subprocess
import sys
from pathlib import Path

from PIL import Image

from renderlib import Composition, render
from renderlib.verify import probe
from tests.render.conftest import write_composition

REPO = Path(__file__).resolve().parents[2]
PAGE = """<body style="margin:0;background:#123"><div id="b" style="position:absolute;width:8px;
height:8px;background:#fff;animation:m 1s linear infinite"></div><style>@keyframes m{to{left:150px}}
</style></body>"""


def test_mp4_matches_the_composition_and_poster_sits_beside_it(page_dir):
    tone = page_dir / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(tone)],
        check=True,
    )
    path = write_composition(
        page_dir,
        PAGE,
        width=160,
        height=90,
        fps=12,
        duration=2.5,
        audio=[{"src": "tone.wav", "start": 0.5}],
    )
    seen = []
    result = render(
        Composition.load(path),
        page_dir / "out" / "video.mp4",
        workers=2,
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert result.path == page_dir / "out" / "video.mp4"
    assert (result.frames, result.width, result.height, result.fps) == (30, 160, 90, 12)
    probed = probe(result.path)
    assert probed.frames == 30
    assert abs(probed.duration - 2.5) < 1 / 12
    assert abs(probed.audio_duration - 2.5) < 1 / 12
    assert result.size_bytes == result.path.stat().st_size
    assert result.poster_path == page_dir / "out" / "video.jpg"
    assert Image.open(result.poster_path).size == (160, 90)
    assert ("capture", 30, 30) in seen
    assert [s for s, *_ in seen if s != "capture"] == [
        "audio",
        "audio",
        "encode",
        "encode",
        "verify",
        "verify",
    ]
    assert "30 frames (30 captured), 160x90 @ 12 fps, 2.50 s" in result.summary()


def test_frame_range_renders_only_those_frames(page_dir):
    path = write_composition(page_dir, PAGE, fps=10, duration=3)
    result = render(Composition.load(path), page_dir / "part.mp4", frame_range=(12, 20))
    assert result.frames == 8 and probe(result.path).frames == 8


def test_cli_renders_a_range_at_a_quality_and_prints_a_summary(page_dir):
    path = write_composition(page_dir, PAGE, fps=10, duration=3)
    out = page_dir / "cli.mp4"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "renderlib",
            "render",
            str(path),
            "-o",
            str(out),
            "--frames",
            "5:15",
            "--quality",
            "draft",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"rendered {out}: 10 frames")
    assert probe(out).frames == 10


def test_cli_refuses_a_bad_frame_range(page_dir):
    path = write_composition(page_dir, PAGE, fps=10, duration=1)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "renderlib",
            "render",
            str(path),
            "-o",
            str(page_dir / "x.mp4"),
            "--frames",
            "5:50",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert completed.returncode == 1
    assert "frames 5:50: expected 0 <= START < END <= 10" in completed.stderr
