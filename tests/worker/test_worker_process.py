"""The worker as the farm runs it: ``python -m handlers.worker`` in its own process,
stopped by SIGTERM or killed with SIGKILL in the middle of a render."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from renderlib.jobs.status import JobStatus
from tests.worker.conftest import ORG, leftover_processes, submit_and_claim, tiny_run

ROOT = Path(__file__).resolve().parents[2]


def start_worker(api, api_keys, job, marker: Path, **env) -> subprocess.Popen:
    environment = {
        **os.environ,
        "JOB_ID": job.id,
        "JOB_ATTEMPT": str(job.retry_count),
        "JOBS_API_URL": api.url,
        "JOBS_API_AUTH": "api_key",
        "JOBS_API_KEY": api_keys.farm_key(),
        "TMPDIR": str(marker),
        "HEARTBEAT_INTERVAL_SECONDS": "0.3",
        "RENDER_WORKERS": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "handlers.worker"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_rendering(client, job_id: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        messages = [e.message or "" for e in client.list_events(job_id)]
        if any(m.startswith("rendering") and m != "rendering 0%" for m in messages):
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    pytest.fail("the worker never reported rendering progress")


def log_lines(stdout: str, job) -> list[dict]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    for line in lines:
        assert line["jobId"] == job.id and line["attempt"] == job.retry_count, line
        assert {"time", "level", "message"} <= line.keys()
    return lines


def s3_has(bucket: str, key: str) -> bool:
    try:
        boto3.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("404", "NoSuchKey")
        return False
    return True


def test_sigterm_mid_render_requeues_and_leaves_nothing(
    api, api_keys, client, studio, bucket, tmp_path, marker_tmpdir
):
    folder = tiny_run(tmp_path / "run", 20.0, moving=True)
    job = submit_and_claim(client, studio, f"s3://{bucket}", folder).job
    worker = start_worker(api, api_keys, job, marker_tmpdir, RENDER_BUCKET=bucket)
    try:
        wait_until_rendering(client, job.id, worker)
        worker.send_signal(signal.SIGTERM)
        stdout, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr

    after = client.get_job(job.id)
    assert after.status == JobStatus.QUEUED and after.retry_count == 1
    assert "the worker received SIGTERM" in after.failure_reason
    assert leftover_processes(str(marker_tmpdir)) == {}
    assert list(marker_tmpdir.iterdir()) == []
    assert boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="renders/")["KeyCount"] == 0
    assert client.list_render_runs(job.id) == []
    lines = log_lines(stdout, job)
    assert any("received SIGTERM" in line["message"] for line in lines)
    assert stderr == ""


def test_kill_9_mid_render_then_a_later_attempt_finishes(
    api, api_keys, client, studio, bucket, tmp_path, marker_tmpdir
):
    folder = tiny_run(tmp_path / "run", 20.0, moving=True)
    job = submit_and_claim(client, studio, f"s3://{bucket}", folder).job
    final_key = f"renders/{ORG}/run/{job.id}/video.mp4"
    worker = start_worker(api, api_keys, job, marker_tmpdir, RENDER_BUCKET=bucket)
    try:
        wait_until_rendering(client, job.id, worker)
        worker.kill()
        worker.wait(timeout=30)
        assert not s3_has(bucket, final_key)
        uploads = boto3.client("s3").list_multipart_uploads(Bucket=bucket)
        assert uploads.get("Uploads", []) == []
    finally:
        worker.kill()
        # SIGKILL leaves the dead worker's Chromium behind (a task's container would
        # take it down); end the ones this test started.
        for pid in leftover_processes(str(marker_tmpdir)):
            os.kill(pid, signal.SIGKILL)

    assert client.get_job(job.id).status == JobStatus.RUNNING
    # What the reaper does once the heartbeat is stale, then the dispatcher's claim.
    client.retry_or_fail(job.id, "no heartbeat for 180 s", expected_status=JobStatus.RUNNING)
    retried = client.claim(job.id, "test-dispatcher")
    assert retried.retry_count == 1
    second = start_worker(api, api_keys, retried, marker_tmpdir, RENDER_BUCKET=bucket)
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr

    done = client.get_job(job.id)
    assert done.status == JobStatus.SUCCEEDED and done.retry_count == 1
    (render_run,) = client.list_render_runs(job.id)
    assert render_run.mp4_artifact_key == final_key and render_run.frames == 200
    boto3.client("s3").download_file(bucket, final_key, str(tmp_path / "final.mp4"))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json",
         str(tmp_path / "final.mp4")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert abs(float(json.loads(probe.stdout)["format"]["duration"]) - 20.0) < 0.1
    lines = log_lines(stdout, retried)
    metrics = [line for line in lines if "_aws" in line]
    assert [m["_aws"]["CloudWatchMetrics"][0]["Namespace"] for m in metrics][0] == "BabulusRender"
    assert metrics[0]["RendersSucceeded"] == 1 and metrics[0]["Cluster"] == "local"
