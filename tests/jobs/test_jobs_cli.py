"""The CLI: `renderlib api serve`, `renderlib submit`, `renderlib jobs [show]`."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest

from renderlib.cli import main
from renderlib.errors import GenerationRunError, InvalidValueError, NotAuthorizedError
from renderlib.jobs.api_keys import ApiKeys
from renderlib.jobs.auth import ApiKeyAuth
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


def serve(db_path, *options):
    process = subprocess.Popen(
        [sys.executable, "-m", "renderlib", "api", "serve", "--db", str(db_path), "--port", "0",
         *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    assert line.startswith("jobs API at http://127.0.0.1:"), line
    keys_line = process.stdout.readline()
    keys_file = db_path.parent / "api-keys.json"
    assert keys_line.startswith(f"API keys in {keys_file}: the farm's, and one for each org")
    return process, line.split()[3]


def test_api_serve_authenticates_and_keeps_jobs_across_a_restart(tmp_path, capsys):
    db_path = tmp_path / "farm" / "jobs.db"
    process, url = serve(db_path, "--org", "org-1")
    keys = ApiKeys(tmp_path / "farm" / "api-keys.json")
    studio = JobsClient(url, ApiKeyAuth(keys.org_key("org-1")))
    try:
        with pytest.raises(NotAuthorizedError):
            JobsClient(url, retries=0).list_jobs("queued")
        job = studio.create_job("org-1", {"generationRunId": "g", "videoId": "v"})
    finally:
        process.terminate()
        process.wait(timeout=10)
    # `renderlib api key ORG` prints an org's key, making it if needed.
    assert main(["api", "key", "org-1", "--keys", str(keys.path)]) == 0
    assert capsys.readouterr().out.strip() == keys.org_key("org-1")
    assert main(["api", "key", "org-2", "--keys", str(keys.path)]) == 0
    assert capsys.readouterr().out.strip() == keys.org_key("org-2")
    process, url = serve(db_path)
    try:
        studio = JobsClient(url, ApiKeyAuth(keys.org_key("org-1")))
        assert studio.get_job(job.id).input == {"generationRunId": "g", "videoId": "v"}
        other = JobsClient(url, ApiKeyAuth(keys.org_key("org-2")))
        with pytest.raises(NotAuthorizedError):
            other.get_job(job.id)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_submit_run_folder_to_local_storage(api, api_keys, client, run_folder, tmp_path, capsys):
    storage = tmp_path / "storage"
    api_keys.add_org("org-1")
    argv = ["submit", str(run_folder), "--org", "org-1", "--api", api.url,
            "--storage", str(storage), "--keys", str(api_keys.path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    job_id = out.split("job ")[1].split()[0]
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


def test_submit_run_folder_to_s3(studio, run_folder, aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="farm-bucket")
    submitted = submit_generation_run(
        studio("org-1"), run_folder, "org-1", "s3://farm-bucket/inputs", video_id="video-9"
    )
    run = submitted.generation_run
    assert run.script_artifact_key.startswith("inputs/generations/org-1/video-9/")
    body = s3.get_object(Bucket="farm-bucket", Key=run.timeline_artifact_key)["Body"].read()
    assert json.loads(body) == {"clips": []}


def test_submit_input_file_and_errors(api, api_keys, client, tmp_path, run_folder, capsys):
    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps({"generationRunId": "gen-123", "videoId": "v-1"}))
    api_keys.add_org("org-2")
    cli = ["--org", "org-2", "--api", api.url, "--keys", str(api_keys.path)]
    assert main(["submit", str(input_file), *cli]) == 0
    job_id = capsys.readouterr().out.split("job ")[1].split()[0]
    assert client.get_job(job_id).input["generationRunId"] == "gen-123"

    input_file.write_text("[1, 2]")
    assert main(["submit", str(input_file), *cli]) == 1
    assert "must be a JSON object" in capsys.readouterr().err
    assert main(["submit", str(run_folder), *cli]) == 1
    assert "needs --storage" in capsys.readouterr().err
    assert main(["submit", str(input_file), *cli[:-2], "--keys", str(tmp_path / "no.json")]) == 1
    assert "no.json does not exist" in capsys.readouterr().err
    assert main(["submit", str(input_file), "--org", "org-9", *cli[2:]]) == 1
    assert "has no key for org 'org-9'" in capsys.readouterr().err
    with pytest.raises(InvalidValueError, match="the video id .* is not a valid id"):
        submit_generation_run(client, run_folder, "org-2", str(tmp_path), video_id="my video")
    (run_folder / "timeline.json").unlink()
    with pytest.raises(GenerationRunError, match="needs timeline.json"):
        submit_generation_run(client, run_folder, "org-2", str(tmp_path))


def test_jobs_list_and_show(api, api_keys, client, studio, capsys):
    queued = studio("org-1").create_job("org-1", {"videoId": "a"})
    running = studio("org-1").create_job("org-1", {"videoId": "b"})
    other = studio("org-2").create_job("org-2", {"videoId": "c"})
    client.claim(running.id, "agent")
    client.mark_running(running.id)
    client.heartbeat(running.id, 0.4, "rendering 40%")

    cli = ["--api", api.url, "--keys", str(api_keys.path)]
    assert main(["jobs", *cli]) == 0  # the farm's key: every org's jobs
    out = capsys.readouterr().out
    assert queued.id in out and running.id in out and other.id in out and "40%" in out

    assert main(["jobs", "--status", "queued", "--org", "org-1", *cli]) == 0
    out = capsys.readouterr().out
    assert queued.id in out and running.id not in out and other.id not in out

    assert main(["jobs", *cli, "show", running.id]) == 0
    out = capsys.readouterr().out
    assert "status:      running" in out and "claimed by:  agent" in out
    assert "rendering 40%" in out and "running (attempt 0)" in out
    assert "cost:" not in out  # no RenderRun yet

    client.create_render_run(
        running.id, org_id="org-1", video_id="b", task_seconds=75.0, estimated_cost_usd=0.0199
    )
    assert main(["jobs", *cli, "show", running.id]) == 0
    out = capsys.readouterr().out
    assert "cost:        75.0 task-seconds, ~$0.0199 (Fargate, estimated)" in out

    assert main(["jobs", *cli, "show", "no-such-job"]) == 1
    assert "no job with id 'no-such-job'" in capsys.readouterr().err
    assert main(["jobs", *cli, "--org", "org-2", "show", running.id]) == 1
    assert "UnauthorizedException" in capsys.readouterr().err


def test_api_serve_links_to_the_page_and_serves_the_storage_beside_its_database(tmp_path):
    from tests.jobs.test_jobs_media_links import MP4, finished_job, get, run_links

    db_path = tmp_path / "farm" / "jobs.db"
    (tmp_path / "farm" / "storage").mkdir(parents=True)
    process, url = serve(db_path, "--org", "org-a")
    try:
        keys = ApiKeys(tmp_path / "farm" / "api-keys.json")
        page = url.removesuffix("/graphql") + "/"
        assert process.stdout.readline().strip() == (
            f"farm page for org org-a: {page}#key={keys.org_key('org-a')}"
        )
        farm = JobsClient(url, ApiKeyAuth(keys.farm_key()))
        studio = JobsClient(url, ApiKeyAuth(keys.org_key("org-a")))
        job_id = finished_job(farm, studio, "org-a", tmp_path / "farm" / "storage")
        assert get(page + run_links(studio, job_id)["mp4Url"].lstrip("/"))[2] == MP4
        assert get(page)[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_jobs_show_prints_a_split_jobs_chunks(api, api_keys, client, studio, capsys):
    job = studio("org-1").create_job("org-1", {"videoId": "a", "chunks": 2})
    client.claim(job.id, "agent")
    running = client.mark_running(job.id, attempt=0)
    first, second = client.plan_chunks(running, [(0, 60), (60, 90)], attempt=0)
    client.claim_chunk(first.id, "agent")
    client.mark_chunk_running(first.id, attempt=0)
    client.chunk_heartbeat(first.id, 25, attempt=0)
    client.land_chunk(job.id, 1)

    assert main(["jobs", "--api", api.url, "--keys", str(api_keys.path), "show", job.id]) == 0
    out = capsys.readouterr().out
    assert "chunks:      1/2 done, 25/90 frames rendered" in out
    assert "  chunk 0 (frames 0:60): running (attempt 0), 25/60 frames" in out
    assert "  chunk 1 (frames 60:90): queued (attempt 0), 0/30 frames" in out
