"""Fixtures for the worker tests: the local jobs API in-process, S3 on a moto server
started here on 127.0.0.1, and tiny generation runs (320x180 or smaller, 10 fps)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from renderlib.farm.storage import LocalStorage, S3Storage, s3_client
from renderlib.jobs.client import JobsClient
from renderlib.jobs.submit import submit_generation_run

ORG = "org-1"


@pytest.fixture
def bucket(aws_env) -> str:
    name = f"render-{uuid.uuid4().hex[:12]}"
    s3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage(bucket) -> S3Storage:
    return S3Storage(bucket, s3_client())


@pytest.fixture
def local_storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
def marker_tmpdir(monkeypatch):
    """A short temp folder made TMPDIR for this process and its children, so every
    process the worker starts can be found by it (short: Chromium puts its socket
    there, and socket paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="wk-"))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def tiny_run(
    folder: Path, seconds: float = 2.0, *, width: int = 320, fps: int = 10, moving: bool = False
) -> Path:
    """A one-scene generation run of ``seconds`` with a short narration tone; ``moving``
    adds a progress bar that changes every frame, so every frame is captured."""
    audio = folder / "audio"
    audio.mkdir(parents=True)
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi",
            "-i", "sine=frequency=660:duration=0.5:sample_rate=48000",
            "-ac", "1", str(audio / "voice.wav"),
        ],
        check=True,
    )  # fmt: skip
    script = {
        "meta": {"title": "Tiny", "width": width, "height": 180, "fps": fps, "duration": seconds},
        "scenes": [
            {
                "id": "only",
                "title": "Only scene",
                "start": 0,
                "end": seconds,
                "background": "#204080",
                "layers": [{"type": "title", "subtitle": "worker test"}]
                + ([{"type": "progress", "interval": 1 / fps}] if moving else []),
            }
        ],
    }
    timeline = {
        "tracks": [{"name": "narration", "clips": [{"src": "audio/voice.wav", "start": 0.2}]}]
    }
    (folder / "script.json").write_text(json.dumps(script))
    (folder / "timeline.json").write_text(json.dumps(timeline))
    return folder


def leftover_processes(marker: str) -> dict[int, str]:
    """Processes (other than this one) whose command line or environment mentions
    ``marker``, by pid: a temp folder given to the worker as TMPDIR reaches every
    Chromium, chromedriver and ffmpeg it starts."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(") ", 1)[-1].split()[0]
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if state != "Z" and (marker.encode() in cmdline or marker.encode() in environ):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def submit_and_claim(client: JobsClient, studio, storage_url: str, folder: Path, **options):
    """Submit the run as org ORG's studio would and claim the job as the dispatcher would."""
    submitted = submit_generation_run(studio(ORG), folder, ORG, storage_url, **options)
    client.claim(submitted.job.id, "test-dispatcher")
    return submitted


def claimed_job(client: JobsClient, studio, input: dict, **options):
    job = studio(ORG).create_job(ORG, input, **options)
    return client.claim(job.id, "test-dispatcher")
