"""Two orgs on one local farm, end to end (real jobs API over HTTP, dispatcher, worker
processes, Chromium, ffmpeg): each studio submits with its own key through the CLI, sees
and touches only its own work, and org B's content never appears in org A's video."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from renderlib.cli import main
from renderlib.errors import JobsApiError
from renderlib.farm.local import FarmConfig, LocalFarm
from renderlib.jobs.auth import ApiKeyAuth
from renderlib.jobs.client import JobsClient
from renderlib.jobs.status import FINISHED_STATUSES, JobStatus
from tests.genrun.genrun_helpers import make_tone
from tests.helpers import decode_frames, processes_mentioning

A, B = "org-a", "org-b"
COLOURS = {A: (32, 64, 192), B: (192, 32, 32)}


def org_run(folder, org: str):
    """One second, 160x90 at 10 fps, on the org's own background colour."""
    (folder / "audio").mkdir(parents=True)
    make_tone(folder / "audio" / "voice.wav", 0.5, freq=660)
    script = {
        "meta": {"title": org, "width": 160, "height": 90, "fps": 10, "duration": 1.0},
        "scenes": [
            {
                "id": "only",
                "title": f"{org} only",
                "start": 0,
                "end": 1.0,
                "background": "#{:02x}{:02x}{:02x}".format(*COLOURS[org]),
                "layers": [],
            }
        ],
    }
    timeline = {
        "tracks": [{"name": "narration", "clips": [{"src": "audio/voice.wav", "start": 0}]}]
    }
    (folder / "script.json").write_text(json.dumps(script))
    (folder / "timeline.json").write_text(json.dumps(timeline))
    return folder


def submit(farm, folder, org: str, capsys) -> str:
    argv = ["submit", str(folder), "--org", org, "--api", farm.url,
            "--storage", str(farm.storage), "--keys", str(farm.keys.path),
            "--video-id", f"video-of-{org}"]  # fmt: skip
    assert main(argv) == 0
    return capsys.readouterr().out.split("job ")[1].split()[0]


def test_two_orgs_share_a_farm_and_see_only_their_own_work(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JOBS_API_AUTH", raising=False)
    config = FarmConfig(
        folder=tmp_path / "farm", port=0, render_workers=1, orgs=(A, B), sweep_interval=2.0
    )
    with LocalFarm(config) as farm:
        studios = {org: JobsClient(farm.url, ApiKeyAuth(farm.keys.org_key(org))) for org in (A, B)}
        farm_client = JobsClient(farm.url, ApiKeyAuth(farm.keys.farm_key()))
        jobs = {org: submit(farm, org_run(tmp_path / org, org), org, capsys) for org in (A, B)}
        deadline = time.monotonic() + 600
        while not all(farm_client.get_job(j).status in FINISHED_STATUSES for j in jobs.values()):
            assert time.monotonic() < deadline
            time.sleep(0.5)

        a, b = studios[A], studios[B]
        for org, job_id in jobs.items():
            job = studios[org].get_job(job_id)
            assert job.status == JobStatus.SUCCEEDED, job.failure_reason
            (render_run,) = studios[org].list_render_runs(job_id)
            assert render_run.mp4_artifact_key == (
                f"renders/{org}/video-of-{org}/{job_id}/video.mp4"
            )
        # Org A sees its own job, and nothing of B's: not its job, runs, events or inputs.
        assert [j.id for j in a.list_jobs("succeeded").items] == [jobs[A]]
        b_job = b.get_job(jobs[B])
        b_run = b.get_generation_run(b_job.input["generationRunId"])
        for read in (
            lambda: a.get_job(jobs[B]),
            lambda: a.list_render_runs(jobs[B]),
            lambda: a.list_events(jobs[B]),
            lambda: a.get_generation_run(b_run.id),
            lambda: a.get_render_run(b.list_render_runs(jobs[B])[0].id),
        ):
            with pytest.raises(JobsApiError, match="UnauthorizedException"):
                read()
        # ... cannot make work for B, nor point its own job at B's inputs.
        with pytest.raises(JobsApiError, match="UnauthorizedException"):
            a.create_job(B, {"generationRunId": b_run.id})
        with pytest.raises(JobsApiError, match="not org org-a's"):
            a.create_job(A, {"generationRunId": b_run.id})
        # The CLI lists for one org with its key, and for every org with the farm's.
        assert main(["jobs", "--api", farm.url, "--keys", str(farm.keys.path), "--org", A]) == 0
        listed = capsys.readouterr().out
        assert jobs[A] in listed and jobs[B] not in listed
        assert main(["jobs", "--api", farm.url, "--keys", str(farm.keys.path)]) == 0
        listed = capsys.readouterr().out
        assert jobs[A] in listed and jobs[B] in listed

        # Every frame of A's video is A's colour; none is B's.
        (render_run,) = a.list_render_runs(jobs[A])
        frames = decode_frames(farm.storage / render_run.mp4_artifact_key)
        corners = frames[:, 2, 2, :].astype(int)
        assert len(frames) == 10
        assert np.abs(corners - COLOURS[A]).max() < 24, corners
        assert (np.abs(corners - COLOURS[B]).max(axis=1) > 100).all()
        # Nothing of either org was written outside its own folders.
        keys = sorted(p.relative_to(farm.storage).as_posix() for p in farm.storage.rglob("*.*"))
        for key in keys:
            folder, org = key.split("/")[:2]
            assert folder in ("generations", "renders") and org in (A, B), key
    assert processes_mentioning(str(tmp_path)) == []
