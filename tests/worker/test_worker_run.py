"""run_worker in-process against the local jobs API and S3 on moto: the happy path,
every kind of bad input, transient failures and the time limit."""

from __future__ import annotations

import json
import re
import subprocess

import boto3

from renderlib.farm.worker import run_worker
from renderlib.jobs.status import JobStatus
from tests.worker.conftest import ORG, submit_and_claim, tiny_run


def run(client, storage, job, **options):
    options.setdefault("heartbeat_interval", 0.2)
    options.setdefault("time_limit", 300)
    return run_worker(job.id, job.retry_count, client=client, storage=storage, **options)


def ffprobe(path) -> dict:
    return json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format",
             "-of", "json", str(path)],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip


def test_happy_path_s3_in_s3_out(client, s3_storage, bucket, tmp_path):
    submitted = submit_and_claim(client, f"s3://{bucket}", tiny_run(tmp_path / "run", 2.0))
    job, generation_run = submitted.job, submitted.generation_run
    assert generation_run.script_artifact_key.startswith(f"generations/{ORG}/")

    outcome = run(client, s3_storage, job, work_dir=tmp_path)

    assert outcome.status == "succeeded", outcome.reason
    assert outcome.exit_code == 0
    done = client.get_job(job.id)
    assert done.status == JobStatus.SUCCEEDED and done.progress == 1.0
    (render_run,) = client.list_render_runs(job.id)
    prefix = f"renders/{ORG}/{generation_run.video_id}/{job.id}/"
    assert render_run.mp4_artifact_key == prefix + "video.mp4"
    assert render_run.poster_artifact_key == prefix + "poster.jpg"
    assert render_run.generation_run_id == generation_run.id
    assert (render_run.frames, render_run.width, render_run.height) == (20, 320, 180)
    assert render_run.fps == 10 and render_run.render_seconds > 0

    s3 = boto3.client("s3")
    s3.download_file(bucket, render_run.mp4_artifact_key, str(tmp_path / "got.mp4"))
    info = ffprobe(tmp_path / "got.mp4")
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (320, 180, 20)
    assert any(s["codec_type"] == "audio" for s in info["streams"])
    assert abs(float(info["format"]["duration"]) - 2.0) < 0.1
    head = s3.head_object(Bucket=bucket, Key=render_run.mp4_artifact_key)
    assert head["ContentType"] == "video/mp4"
    poster = s3.get_object(Bucket=bucket, Key=render_run.poster_artifact_key)
    assert poster["ContentType"] == "image/jpeg" and poster["Body"].read()[:2] == b"\xff\xd8"

    messages = [e.message for e in client.list_events(job.id) if e.type == "progress"]
    assert messages[0] == "loading"
    assert any(re.fullmatch(r"rendering \d+%", m) for m in messages)
    assert messages.index("encoding") < messages.index("uploading")
    statuses = [e.message for e in client.list_events(job.id) if e.type == "status"]
    assert statuses[-1] == "succeeded"
    # The worker's temporary folder is gone.
    assert list(tmp_path.glob("renderlib-job-*")) == []

    # Running the same attempt again changes nothing: it is no longer claimed.
    again = run(client, s3_storage, job)
    assert again.status == "not-ours"
    assert len(client.list_render_runs(job.id)) == 1
