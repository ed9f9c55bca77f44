"""renderlib installs alone: a fresh virtualenv with the project and no extras renders a
video, has none of the farm's libraries, and the CLI names the extra a farm command needs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import decode_frames

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("core") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)],
        check=True,
        env={**os.environ, "PIP_NO_BINARY": "imageio-ffmpeg"},
        timeout=900,
    )
    return venv


def test_the_core_has_none_of_the_farm_libraries(core_venv):
    probe = (
        "import importlib.util as u; print([m for m in ('boto3', 'gql', 'ariadne', "
        "'werkzeug', 'pulumi') if u.find_spec(m)])"
    )
    found = subprocess.run(
        [str(core_venv / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout.strip()
    assert found == "[]"


def test_the_core_renders_a_video(core_venv, tmp_path):
    (tmp_path / "index.html").write_text(
        '<body style="margin:0;background:#0a0"><script>requestAnimationFrame(function f(t)'
        '{document.body.style.background=t>500?"#00a":"#0a0";requestAnimationFrame(f)})'
        "</script></body>"
    )
    (tmp_path / "c.json").write_text(
        json.dumps({"page": "index.html", "width": 64, "height": 36, "fps": 10, "frames": 10})
    )
    done = subprocess.run(
        [
            str(core_venv / "bin" / "renderlib"),
            "render",
            str(tmp_path / "c.json"),
            "-o",
            str(tmp_path / "out.mp4"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    frames = decode_frames(tmp_path / "out.mp4")
    assert frames.shape == (10, 36, 64, 3)
    assert frames[0, 18, 32, 1] > 120 and frames[9, 18, 32, 2] > 120  # green, then blue


def test_a_farm_command_names_the_extra_it_needs(core_venv, tmp_path):
    done = subprocess.run(
        [str(core_venv / "bin" / "renderlib"), "api", "serve", "--db", str(tmp_path / "j.db")],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 1
    assert "needs the farm extra" in done.stderr and "babulus-render[farm]" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
