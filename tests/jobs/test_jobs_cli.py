"""The CLI: `renderlib api serve`, `renderlib submit`, `renderlib jobs [show]`."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest

from renderlib.cli import main
from renderlib.errors import GenerationRunError
from renderlib.jobs.client import JobsClient
from renderlib.jobs.status import JobStatus
from renderlib.jobs.submit import submit_generation_run


@pytest.fixture
def run_folder(tmp_path):
    folder = tmp_path / "run-1"
    (folder / "audio").mkdir(parents=True)
    (folder / "script.json").write_text(json.dumps({"meta": {"videoId": "video-7"}, "scenes": []}))
    (folder / "timeline.json").write_text(json.dumps({"clips": []}))
    (folder / "audio" / "narration-1.wav").write_bytes(b"RIFF....WAVE")
    (folder / "audio" / "music.mp3").write_bytes(b"ID3")
    (folder / ".DS_Store").write_bytes(b"junk")
    return folder


def serve(db_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "renderlib", "api", "serve", "--db", str(db_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("jobs API at http://127.0.0.1:"), line
    return process, line.split()[3]


def test_api_serve_keeps_jobs_across_a_restart(tmp_path):
    db_path = tmp_path / "farm" / "jobs.db"
    process, url = serve(db_path)
    try:
        job = JobsClient(url).create_job("org-1", {"generationRunId": "g", "videoId": "v"})
    finally:
        process.terminate()
        process.wait(timeout=10)
    process, url = serve(db_path)
    try:
        assert JobsClient(url).get_job(job.id).input == {"generationRunId": "g", "videoId": "v"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_submit_run_folder_to_local_storage(api, run_folder, tmp_path, capsys):
    storage = tmp_path / "storage"
    assert (
        main(
            [
                "submit",
                str(run_folder),
                "--org",
                "org-1",
                "--api",
                api.url,
                "--storage",
                str(storage),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    job_id = out.split("job ")[1].split()[0]
    client = JobsClient(api.url)
    job = client.get_job(job_id)
    assert job.status == JobStatus.QUEUED and job.kind == "render" and job.org_id == "org-1"
    run = client.get_generation_run(job.input["generationRunId"])
    assert job.input == {"generationRunId": run.id, "videoId": "video-7"}
    prefix = f"generations/org-1/video-7/{run.id}/"
    assert run.artifact_prefix == prefix
    assert run.script_artifact_key == prefix + "script.json"
    assert run.timeline_artifact_key == prefix + "timeline.json"
    assert sorted(run.audio_artifact_keys) == [
        prefix + "audio/music.mp3",
        prefix + "audio/narration-1.wav",
    ]
    assert (storage / prefix / "audio" / "narration-1.wav").read_bytes() == b"RIFF....WAVE"
    assert not (storage / prefix / ".DS_Store").exists()


def test_submit_run_folder_to_s3(api, run_folder, aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="farm-bucket")
    client = JobsClient(api.url)
    submitted = submit_generation_run(
        client, run_folder, "org-1", "s3://farm-bucket/inputs", video_id="video-9"
    )
    run = submitted.generation_run
    assert run.script_artifact_key.startswith("inputs/generations/org-1/video-9/")
    body = s3.get_object(Bucket="farm-bucket", Key=run.timeline_artifact_key)["Body"].read()
    assert json.loads(body) == {"clips": []}


def test_submit_input_file_and_errors(api, tmp_path, run_folder, capsys):
    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps({"generationRunId": "gen-123", "videoId": "v-1"}))
    assert main(["submit", str(input_file), "--org", "org-2", "--api", api.url]) == 0
    job_id = capsys.readouterr().out.split("job ")[1].split()[0]
    assert JobsClient(api.url).get_job(job_id).input["generationRunId"] == "gen-123"

    input_file.write_text("[1, 2]")
    assert main(["submit", str(input_file), "--org", "org-2", "--api", api.url]) == 1
    assert "must be a JSON object" in capsys.readouterr().err
    assert main(["submit", str(run_folder), "--org", "org-2", "--api", api.url]) == 1
    assert "needs --storage" in capsys.readouterr().err
    (run_folder / "timeline.json").unlink()
    with pytest.raises(GenerationRunError, match="needs timeline.json"):
        submit_generation_run(JobsClient(api.url), run_folder, "org-2", str(tmp_path))


def test_jobs_list_and_show(api, capsys):
    client = JobsClient(api.url)
    queued = client.create_job("org-1", {"videoId": "a"})
    running = client.create_job("org-1", {"videoId": "b"})
    client.claim(running.id, "agent")
    client.mark_running(running.id)
    client.heartbeat(running.id, 0.4, "rendering 40%")

    assert main(["jobs", "--api", api.url]) == 0
    out = capsys.readouterr().out
    assert queued.id in out and running.id in out and "40%" in out

    assert main(["jobs", "--status", "queued", "--api", api.url]) == 0
    out = capsys.readouterr().out
    assert queued.id in out and running.id not in out

    assert main(["jobs", "--api", api.url, "show", running.id]) == 0
    out = capsys.readouterr().out
    assert "status:      running" in out and "claimed by:  agent" in out
    assert "rendering 40%" in out and "running (attempt 0)" in out

    assert main(["jobs", "--api", api.url, "show", "no-such-job"]) == 1
    assert "no job with id 'no-such-job'" in capsys.readouterr().err
