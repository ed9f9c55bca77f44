"""The worker image's recipe, and the ffmpeg it ships, do what the renderer needs.

Cheap checks of the Dockerfile (no Docker engine here), plus proof that the
ffmpeg and ffprobe installed from system-packages.txt can do every step of a
render: JPEG frames piped in to H.264, segments joined with the concat demuxer
without re-encoding, wav/ogg/mp3/m4a narration muxed as AAC with +faststart,
and ffprobe's JSON. scripts/measure-image-size.sh runs this file again inside
the image's root, as the image's user.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from renderlib.tools import tool_path

ROOT = Path(__file__).resolve().parent.parent
FPS = 10
FRAMES_PER_SEGMENT = 10
AUDIO_FORMATS = {"wav": "pcm_s16le", "ogg": "libvorbis", "mp3": "libmp3lame", "m4a": "aac"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) for each Dockerfile instruction, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def arguments_of(keyword: str) -> list[str]:
    return [arguments for key, arguments in dockerfile_instructions() if key == keyword]


def test_dockerfile_installs_the_one_system_package_list() -> None:
    assert any("system-packages.txt" in copy for copy in arguments_of("COPY"))
    installs = [run for run in arguments_of("RUN") if "system-packages.txt" in run]
    assert len(installs) == 1
    install = installs[0]
    assert "xargs apt-get install" in install
    assert "--no-install-recommends" in install
    assert "rm -rf /var/lib/apt/lists/*" in install
    # The headless stand-in must be in place before the list is installed.
    assert install.index("headless.deb") < install.index("system-packages.txt")


def test_headless_stand_in_replaces_only_the_desktop_browser_gpu_drivers_and_gtk() -> None:
    control = (ROOT / "docker/headless/DEBIAN/control.in").read_text()
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", control, re.MULTILINE))
    assert fields["Provides"] == "libgl1-mesa-dri, libgtk-3-0, chromium (= @CHROMIUM_VERSION@)"
    assert fields["Architecture"] == "all"
    assert "Depends" not in fields and "Pre-Depends" not in fields
    assert sorted((ROOT / "docker/headless").rglob("*")) == [
        ROOT / "docker/headless/DEBIAN",
        ROOT / "docker/headless/DEBIAN/control.in",
    ]
    # Listed, the desktop browser would be installed for itself, stand-in or not.
    assert "chromium" not in system_packages()
    assert {"chromium-driver", "chromium-headless-shell"} <= set(system_packages())


def test_stand_in_provides_the_chromium_release_chromedriver_needs(tmp_path: Path) -> None:
    """The build script reads the version from apt, as the Dockerfile runs it."""
    deb = tmp_path / "headless.deb"
    subprocess.run(
        ["sh", str(ROOT / "docker/build-headless-stand-in.sh"), str(ROOT / "docker/headless"), deb],
        check=True,
    )
    provides = subprocess.run(
        ["dpkg-deb", "--field", deb, "Provides"], capture_output=True, text=True, check=True
    ).stdout.strip()
    driver = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", "chromium-driver"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    depends = re.search(r"^Depends: (.*)$", driver, re.MULTILINE).group(1)
    needed = re.search(r"(?:^|, )chromium \(= ([^)]+)\)", depends).group(1)
    assert provides == f"libgl1-mesa-dri, libgtk-3-0, chromium (= {needed})"


def system_packages() -> list[str]:
    lines = (ROOT / "system-packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_installs_the_project_with_the_farm_extra_only_and_no_pip_cache() -> None:
    installs = [run for run in arguments_of("RUN") if "pip install" in run]
    assert len(installs) == 1
    assert re.findall(r"\[[a-z,]+\]", installs[0]) == ["[farm]"], "the worker's dependencies only"
    assert "PIP_NO_BINARY=imageio-ffmpeg" in installs[0]
    assert any("PIP_NO_CACHE_DIR=1" in env for env in arguments_of("ENV"))


def test_size_measurement_replays_the_dockerfile_steps() -> None:
    """scripts/measure-image-size.sh measures the image only while it mirrors it."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    script = (ROOT / "scripts/measure-image-size.sh").read_text()
    assert "FROM debian:bookworm-slim" in dockerfile
    assert "debootstrap --variant=minbase" in script
    for step in (
        "sh /tmp/build/build-headless-stand-in.sh /tmp/build/headless /tmp/build/headless.deb",
        "apt-get install -y --no-install-recommends /tmp/build/headless.deb",
        "xargs apt-get install -y",
        "python3 -m venv /opt/venv",
        "PIP_NO_BINARY=imageio-ffmpeg PIP_USE_PEP517=1",
        "pip install --no-compile '/tmp/src[farm]'",
        "python -m pip uninstall -y pip setuptools",
        "useradd --create-home --home-dir /home/worker --uid 10001 --user-group",
    ):
        assert step in dockerfile, step
        assert step in " ".join(script.split()).replace("-q ", ""), step


def test_runtime_dependencies_leave_out_infra_and_dev_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    for heavy in ("pulumi", "pytest", "moto", "ruff"):
        assert heavy not in runtime, f"{heavy} would be installed into the worker image"


def test_every_gql_requirement_admits_only_the_gql_the_client_needs() -> None:
    # renderlib/jobs/client.py executes GraphQLRequest objects, which gql 4.0 introduced.
    from packaging.requirements import Requirement

    lambda_lines = (ROOT / "scripts" / "lambda-requirements.txt").read_text().splitlines()
    farm = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = farm["optional-dependencies"]["farm"] + [
        line for line in lambda_lines if line.strip() and not line.startswith("#")
    ]
    gql = [Requirement(r) for r in declared if Requirement(r).name == "gql"]
    assert len(gql) == 2, "pyproject's farm extra and the Lambda layer both need gql"
    for requirement in gql:
        assert not requirement.specifier.contains("3.5.3"), requirement
        assert requirement.specifier.contains("4.0.0"), requirement


def test_dockerfile_runs_the_worker_as_a_non_root_user() -> None:
    users = arguments_of("USER")
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert arguments_of("ENTRYPOINT")[-1] == '["python", "-m", "handlers.worker"]'


def test_dockerfile_bakes_in_no_secrets() -> None:
    names: list[str] = []
    for keyword in ("ENV", "ARG"):
        for arguments in arguments_of(keyword):
            tokens = arguments.split()
            if "=" in tokens[0]:
                names += [token.split("=")[0] for token in tokens if "=" in token]
            else:
                names.append(tokens[0])
    assert names
    for name in names:
        assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", name, re.IGNORECASE), name


def test_build_context_is_an_allow_list_covering_every_copy() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert entries[0] == "*", "everything is excluded unless listed"
    allowed = [entry[1:].rstrip("/") for entry in entries if entry.startswith("!")]
    assert not [entry for entry in allowed if re.search(r"env|secret|cred|key", entry, re.I)]
    for copy in arguments_of("COPY"):
        *sources, _destination = [token for token in copy.split() if not token.startswith("--")]
        for source in sources:
            assert source.split("/")[0] in allowed, f"{source} is not in the build context"


def ffmpeg_list(option: str) -> set[str]:
    """Names ffmpeg prints for -encoders, -decoders, -muxers or -demuxers."""
    output = subprocess.run(
        [tool_path("ffmpeg"), "-hide_banner", option], capture_output=True, text=True, check=True
    ).stdout
    # A legend, a line of dashes, then one "FLAGS NAME[,NAME] description" line each.
    listing = re.split(r"^\s*-+\s*$", output, maxsplit=1, flags=re.MULTILINE)[1]
    names: set[str] = set()
    for line in listing.strip().splitlines():
        names.update(line.split()[1].split(","))
    return names


def test_ffmpeg_has_the_codecs_and_formats_the_renderer_uses() -> None:
    assert {"libx264", "aac"} <= ffmpeg_list("-encoders")
    assert {"mjpeg", "h264", "aac", "pcm_s16le", "mp3float", "vorbis"} <= ffmpeg_list("-decoders")
    assert {"mp4"} <= ffmpeg_list("-muxers")
    assert {"image2pipe", "concat", "mov", "wav", "mp3", "ogg"} <= ffmpeg_list("-demuxers")
    version = subprocess.run([tool_path("ffprobe"), "-version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("ffprobe version")


def ffmpeg(*arguments: str, stdin: bytes | None = None) -> bytes:
    completed = subprocess.run(
        [tool_path("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y", *arguments],
        input=stdin,
        capture_output=True,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout


def probe(path: Path) -> dict:
    completed = subprocess.run(
        [tool_path("ffprobe"), "-v", "error", "-count_packets", "-show_streams", "-show_format"]
        + ["-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def top_level_boxes(path: Path) -> list[str]:
    boxes, data, offset = [], path.read_bytes(), 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        if size < 8:
            break
        offset += size
    return boxes


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two H.264 segments encoded from JPEG frames piped in, as the renderer does."""
    folder = tmp_path_factory.mktemp("segments")
    paths = []
    for index, pattern in enumerate(("testsrc", "smptebars")):
        jpegs = ffmpeg(
            *("-f", "lavfi", "-i", f"{pattern}=size=64x48:rate={FPS}"),
            *("-frames:v", str(FRAMES_PER_SEGMENT), "-c:v", "mjpeg", "-f", "image2pipe", "-"),
        )
        assert jpegs.startswith(b"\xff\xd8")
        path = folder / f"segment-{index}.mp4"
        ffmpeg(
            *("-f", "image2pipe", "-framerate", str(FPS), "-c:v", "mjpeg", "-i", "-"),
            *("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"),
            *("-threads", "1", "-video_track_timescale", "90000", "-an", str(path)),
            stdin=jpegs,
        )
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def narrations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("audio")
    paths = {}
    for extension, encoder in AUDIO_FORMATS.items():
        path = folder / f"narration.{extension}"
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", encoder, str(path))
        paths[extension] = path
    return paths


@pytest.mark.parametrize("extension", AUDIO_FORMATS)
def test_segments_join_without_reencoding_and_audio_muxes_as_aac_faststart(
    segments: list[Path], narrations: dict[str, Path], extension: str, tmp_path: Path
) -> None:
    listing = tmp_path / "segments.txt"
    listing.write_text("".join(f"file '{segment}'\n" for segment in segments))
    output = tmp_path / "video.mp4"
    duration = 2 * FRAMES_PER_SEGMENT / FPS
    ffmpeg(
        *("-f", "concat", "-safe", "0", "-i", str(listing)),
        *("-t", str(duration), "-i", str(narrations[extension])),
        *("-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "128k"),
        *("-c:v", "copy", "-movflags", "+faststart", "-f", "mp4", str(output)),
    )
    streams = {stream["codec_type"]: stream for stream in probe(output)["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert int(streams["video"]["nb_read_packets"]) == 2 * FRAMES_PER_SEGMENT
    assert (streams["video"]["width"], streams["video"]["height"]) == (64, 48)
    assert streams["audio"]["codec_name"] == "aac"
    assert abs(float(streams["audio"]["duration"]) - duration) < 0.1
    boxes = top_level_boxes(output)
    assert boxes.index("moov") < boxes.index("mdat"), boxes


def test_moviepy_reads_every_narration_format_through_the_system_ffmpeg(
    narrations: dict[str, Path],
) -> None:
    script = (
        "import sys\n"
        "from moviepy import AudioFileClip\n"
        "for path in sys.argv[1:]:\n"
        "    clip = AudioFileClip(path)\n"
        "    samples = clip.to_soundarray(fps=8000)\n"
        "    assert abs(clip.duration - 2) < 0.1 and len(samples) > 15000, (path, clip.duration)\n"
        "    clip.close()\n"
    )
    environment = dict(os.environ, IMAGEIO_FFMPEG_EXE=tool_path("ffmpeg"))
    environment.pop("FFMPEG_BINARY", None)
    completed = subprocess.run(
        [sys.executable, "-c", script, *map(str, narrations.values())],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr
