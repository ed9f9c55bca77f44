"""Bad input gives a specific error, no partial output and no leftover Chromium or ffmpeg."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from renderlib import (
    AudioError,
    Composition,
    CompositionError,
    HoldTimeoutError,
    OutputPathError,
    PageError,
    render,
)
from tests.helpers import decode_frames, processes_mentioning
from tests.render.conftest import write_composition

GOOD = {"page": "index.html", "width": 160, "height": 90, "fps": 10, "duration": 1}
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"fps": 0}, "fps: expected a number above 0 and at most 120"),
        ({"fps": 121}, "fps: expected a number above 0 and at most 120"),
        ({"width": 161}, "width: 161 is odd"),
        ({"height": 4320}, "height: 4320 is larger than the maximum 2160"),
        ({"page": "missing.html"}, "missing.html does not exist"),
        ({"duration": None}, "duration: give the video's duration in seconds, or frames"),
        ({"duration": -1}, "duration: expected seconds > 0"),
        ({"frames": 10}, "duration/frames: give one of them, not both"),
        ({"props": [1, 2]}, "props: expected a JSON object"),
        ({"audio": [{"start": 1}]}, "audio[0].src: missing (required)"),
        ({"audio": [{"src": "a.wav", "volume": -1}]}, "audio[0].volume: expected a number >= 0"),
        ({"output": {"quality": "ultra"}}, "output.quality: expected one of draft, standard, high"),
        ({"page": "http://example.com/"}, "is not on a loopback host"),
        ({"page": "../index.html"}, "is outside the composition folder"),
    ],
)
def test_invalid_composition_is_refused_with_a_specific_message(tmp_path, change, message):
    folder = tmp_path / "comp"
    folder.mkdir()
    (folder / "index.html").write_text("<html></html>")
    (tmp_path / "index.html").write_text("<html></html>")
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(CompositionError) as error:
        Composition.from_dict(data, base_dir=folder)
    assert message in str(error.value)


def test_a_missing_field_is_named(tmp_path):
    with pytest.raises(CompositionError, match="width: missing"):
        Composition.from_dict({"page": "x.html", "height": 90, "fps": 10}, base_dir=tmp_path)


def assert_nothing_left(folder: Path, output: Path) -> None:
    assert not output.exists()
    assert not output.with_suffix(".jpg").exists()
    assert [p.name for p in output.parent.iterdir() if p.name.startswith(".renderlib-")] == []
    assert processes_mentioning(str(folder.parent)) == []
    assert processes_mentioning(tempfile.gettempdir()) == []


def test_page_that_throws_while_loading(page_dir):
    path = write_composition(page_dir, "<script>throw new Error('boom at load')</script>")
    output = page_dir / "out.mp4"
    with pytest.raises(PageError, match="while loading: .*boom at load"):
        render(Composition.load(path), output, workers=2)
    assert_nothing_left(page_dir, output)


def test_page_that_throws_in_a_later_frame(page_dir):
    html = (
        "<script>window.renderFrame = f => { if (f === 6) throw new Error('bad frame'); };</script>"
    )
    path = write_composition(page_dir, html)
    output = page_dir / "out.mp4"
    with pytest.raises(PageError, match="at frame 6: .*bad frame"):
        render(Composition.load(path), output, workers=2)
    assert_nothing_left(page_dir, output)


def test_hold_that_never_releases_times_out_naming_it(page_dir):
    html = "<script>window.renderlib.hold('chart data');</script>"
    path = write_composition(page_dir, html)
    output = page_dir / "out.mp4"
    with pytest.raises(HoldTimeoutError, match='hold\\(s\\) "chart data"'):
        render(Composition.load(path), output, hold_timeout=1)
    assert_nothing_left(page_dir, output)


def test_released_hold_delays_the_frame_until_ready(page_dir):
    html = """<body style="margin:0;background:#000"><script>
    const release = window.renderlib.hold("late paint");
    fetch("index.html").then(() => { document.body.style.background = "#fff"; release(); });
    </script></body>"""
    path = write_composition(page_dir, html, frames=1)
    result = render(Composition.load(path), page_dir / "out.mp4")
    assert decode_frames(result.path)[0].mean() > 200


def test_missing_audio_file(page_dir):
    path = write_composition(page_dir, "<p>hi</p>", audio=[{"src": "narration.wav"}])
    output = page_dir / "out.mp4"
    with pytest.raises(AudioError, match="narration.wav"):
        render(Composition.load(path), output)
    assert_nothing_left(page_dir, output)


def test_unwritable_output_path(page_dir):
    path = write_composition(page_dir, "<p>hi</p>")
    blocker = page_dir / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    output = blocker / "out.mp4"
    with pytest.raises(OutputPathError, match="cannot create the folder"):
        render(Composition.load(path), output)
    assert blocker.read_text() == "a file where a folder should be"
    folder_named_mp4 = page_dir / "folder.mp4"
    folder_named_mp4.mkdir()
    with pytest.raises(OutputPathError, match="is a folder"):
        render(Composition.load(path), folder_named_mp4)


def test_an_existing_output_is_untouched_when_the_render_fails(page_dir):
    path = write_composition(page_dir, "<script>throw new Error('boom')</script>")
    output = page_dir / "out.mp4"
    output.write_bytes(b"the previous good render")
    with pytest.raises(PageError):
        render(Composition.load(path), output)
    assert output.read_bytes() == b"the previous good render"


def test_cli_prints_one_line_and_exits_non_zero(page_dir):
    path = write_composition(page_dir, "<p>hi</p>")
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "fps": 500}))
    completed = subprocess.run(
        [sys.executable, "-m", "renderlib", "render", str(path), "-o", str(page_dir / "o.mp4")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        "renderlib: error: fps: expected a number above 0 and at most 120, got 500"
    ]
    assert not (page_dir / "o.mp4").exists()


def test_sigterm_stops_a_cli_render_and_leaves_nothing_behind(page_dir):
    path = write_composition(page_dir, "<p>slow</p>", frames=2000)
    output = page_dir / "out.mp4"
    scratch = tempfile.mkdtemp(prefix="sigterm-", dir="/tmp")  # short: Chromium's profile goes here
    process = subprocess.Popen(
        [sys.executable, "-m", "renderlib", "render", str(path), "-o", str(output)],
        cwd=REPO,
        env={**os.environ, "TMPDIR": scratch},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not [p for p in processes_mentioning(str(page_dir)) if "ffmpeg" in p]:
        assert time.monotonic() < deadline, process.communicate(timeout=60)
        time.sleep(0.1)
    assert [p for p in processes_mentioning(scratch) if "chromium" in p]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert process.stderr.read().strip().endswith("renderlib: interrupted")
    assert_nothing_left(page_dir, output)
    assert processes_mentioning(scratch) == []
    assert os.listdir(scratch) == []
    os.rmdir(scratch)


def test_a_deep_temp_folder_does_not_stop_chromium(page_dir, monkeypatch):
    # Chromium's Unix socket lives under $TMPDIR; a deep one would overflow its path.
    deep = page_dir.parent / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    path = write_composition(page_dir, "<p>hi</p>", frames=1)
    assert render(Composition.load(path), page_dir / "out.mp4").frames == 1
