"""run_worker in-process against the local jobs API and S3 on moto: the happy path,
every kind of bad input, transient failures and the time limit."""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import subprocess
import threading
import time

import boto3
import pytest
from botocore.config import Config

from handlers import worker as worker_handler
from renderlib import browser, renderer
from renderlib.composition import Composition
from renderlib.cost import FargatePrices, TaskSize, run_cost
from renderlib.farm.heartbeat import Heartbeat
from renderlib.farm.storage import S3Storage
from renderlib.farm.worker import run_worker
from renderlib.jobs.status import JobStatus
from tests.helpers import stored_job
from tests.worker.conftest import (
    ORG,
    claimed_job,
    leftover_processes,
    submit_and_claim,
    tiny_run,
)


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


def test_happy_path_s3_in_s3_out(client, studio, s3_storage, bucket, tmp_path):
    submitted = submit_and_claim(client, studio, f"s3://{bucket}", tiny_run(tmp_path / "run", 2.0))
    job, generation_run = submitted.job, submitted.generation_run
    assert generation_run.script_artifact_key.startswith(f"generations/{ORG}/")

    size, prices = TaskSize(4, 16, 50), FargatePrices(vcpu_hour=0.05, gb_hour=0.005)
    outcome = run(client, s3_storage, job, work_dir=tmp_path, task_size=size, prices=prices)

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
    # Task-seconds count the whole process (here pytest's), not just the render.
    assert render_run.task_seconds >= render_run.render_seconds
    expected = run_cost(size, prices, [render_run.task_seconds]).cost_usd
    assert render_run.estimated_cost_usd == pytest.approx(expected, rel=1e-3)

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
    assert messages[0] == "loading" and messages.count("loading") == 1
    assert any(re.fullmatch(r"rendering \d+%", m) for m in messages)
    assert messages.index("encoding") < messages.index("uploading")
    # Capture progress says how many frames of how many (the farm page shows it).
    frames = [
        json.loads(e.data)["frames"]
        for e in client.list_events(job.id)
        if (e.message or "").startswith("rendering")
    ]
    assert frames and all(f["total"] == 20 and 0 <= f["done"] <= 20 for f in frames)
    statuses = [e.message for e in client.list_events(job.id) if e.type == "status"]
    assert statuses[-1] == "succeeded"
    # The worker's temporary folder is gone.
    assert list(tmp_path.glob("renderlib-job-*")) == []

    # Running the same attempt again changes nothing: it is no longer claimed.
    again = run(client, s3_storage, job)
    assert again.status == "not-ours"
    assert len(client.list_render_runs(job.id)) == 1


def assert_failed_at_once(client, job, outcome, reason_pattern):
    assert outcome.status == "failed", outcome
    after = client.get_job(job.id)
    assert after.status == JobStatus.FAILED and after.retry_count == 0
    assert re.search(reason_pattern, after.failure_reason), after.failure_reason
    assert "/tmp" not in after.failure_reason  # no worker paths in what the studio shows
    assert client.list_render_runs(job.id) == []
    assert outcome.reason == after.failure_reason


@pytest.mark.parametrize(
    ("input", "reason"),
    [
        ({"videoId": "v-1"}, r'inputJson needs "generationRunId".*got None'),
        ({"generationRunId": 42}, r'inputJson needs "generationRunId".*got 42'),
        ({"generationRunId": "r", "videoId": ""}, r'inputJson.videoId "" is not a valid id'),
        ([1, 2], r"inputJson must be a JSON object"),
    ],
)
def test_malformed_input_fails_at_once(client, db_path, local_storage, input, reason):
    """Inputs the API refuses, as a studio API that checks nothing would pass them on."""
    job = client.claim(stored_job(db_path, ORG, input), "test-dispatcher")
    assert_failed_at_once(client, job, run(client, local_storage, job), reason)


def test_unknown_generation_run_fails_at_once(client, studio, local_storage):
    job = claimed_job(client, studio, {"generationRunId": "no-such-run", "videoId": "v-1"})
    outcome = run(client, local_storage, job)
    assert_failed_at_once(client, job, outcome, r"no generation run with id 'no-such-run'")


def test_missing_file_in_s3_fails_at_once(client, studio, s3_storage, bucket, tmp_path):
    submitted = submit_and_claim(client, studio, f"s3://{bucket}", tiny_run(tmp_path / "run"))
    (audio_key,) = submitted.generation_run.audio_artifact_keys
    boto3.client("s3").delete_object(Bucket=bucket, Key=audio_key)
    outcome = run(client, s3_storage, submitted.job)
    reason = rf"audio/voice.wav is missing: s3://{bucket}/{audio_key} does not exist"
    assert_failed_at_once(client, submitted.job, outcome, reason)


def test_invalid_script_fails_at_once(client, studio, local_storage, tmp_path):
    folder = tiny_run(tmp_path / "run", width=321)
    submitted = submit_and_claim(client, studio, str(local_storage.root), folder)
    outcome = run(client, local_storage, submitted.job)
    assert_failed_at_once(
        client, submitted.job, outcome, r"^script\.json: meta\.width: expected an even number"
    )


def test_a_job_stating_another_length_than_its_runs_fails_at_once(
    client, studio, local_storage, tmp_path
):
    """The dispatcher plans chunks from the stated length: a wrong one must not render."""
    submitted = submit_and_claim(client, studio, str(local_storage.root), tiny_run(tmp_path / "r"))
    assert (submitted.job.input["frames"], submitted.job.input["fps"]) == (20, 10)
    job = claimed_job(client, studio, {**submitted.job.input, "frames": 21})
    outcome = run(client, local_storage, job)
    assert_failed_at_once(
        client,
        job,
        outcome,
        r"^the job's inputJson says the video is 21 frames at 10 fps, but its generation run "
        r'makes 20 frames at 10 fps: submit it again .* or without "frames" and "fps"$',
    )


def test_page_error_fails_at_once(client, studio, local_storage, tmp_path, monkeypatch):
    """A page that throws while rendering frame 3 (the run is swapped for such a page)."""
    page = tmp_path / "page"
    page.mkdir()
    (page / "index.html").write_text(
        "<!doctype html><body style='background:#333'><script>"
        "window.renderFrame = (frame) => {"
        " if (frame === 3) throw new Error('chart data missing'); };"
        "</script></body>"
    )
    # The run's own length (20 frames at 10 fps), which the submitted job states.
    composition = Composition(
        page="index.html", width=160, height=90, fps=10, frames=20, base_dir=page
    )
    monkeypatch.setattr(renderer, "load_source", lambda _path: composition)
    submitted = submit_and_claim(
        client, studio, str(local_storage.root), tiny_run(tmp_path / "run")
    )
    outcome = run(client, local_storage, submitted.job)
    assert_failed_at_once(
        client, submitted.job, outcome, r"the page threw at frame 3: .*chart data missing"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_s3_unreachable_requeues_with_retry_count(client, studio, bucket, tmp_path):
    submitted = submit_and_claim(client, studio, f"s3://{bucket}", tiny_run(tmp_path / "run"))
    unreachable = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2),
    )
    outcome = run(client, S3Storage(bucket, unreachable), submitted.job)
    assert outcome.status == "requeued"
    after = client.get_job(submitted.job.id)
    assert after.status == JobStatus.QUEUED and after.retry_count == 1
    assert "cannot download" in after.failure_reason
    assert after.claimed_by_agent_id is None and after.heartbeat_at is None
    # Requeued, the job can be claimed again and its next attempt succeeds.
    client.claim(after.id, "test-dispatcher")
    storage = S3Storage(bucket, boto3.client("s3"))
    assert run(client, storage, after).status == "succeeded"
    assert len(client.list_render_runs(after.id)) == 1


def test_browser_crash_retries_until_max_retries(
    client, studio, local_storage, tmp_path, monkeypatch
):
    real = browser.tool_path
    monkeypatch.setattr(
        browser,
        "tool_path",
        lambda name: "/nonexistent/chromium" if name == "chromium-headless-shell" else real(name),
    )
    folder = tiny_run(tmp_path / "run")
    submitted = submit_and_claim(client, studio, str(local_storage.root), folder, max_retries=1)
    job = submitted.job
    first = run(client, local_storage, job)
    assert first.status == "requeued" and "could not start Chromium" in first.reason
    job = client.claim(job.id, "test-dispatcher")
    assert job.retry_count == 1
    second = run(client, local_storage, job)
    assert second.status == "failed"
    after = client.get_job(job.id)
    assert after.status == JobStatus.FAILED and after.retry_count == 1
    assert re.search(
        r"could not start Chromium.*\(gave up after 2 attempts\)", after.failure_reason
    )


def test_time_limit_stops_the_render_and_fails(
    client, studio, local_storage, tmp_path, marker_tmpdir, monkeypatch
):
    marker = marker_tmpdir
    folder = tiny_run(tmp_path / "run", 30.0, moving=True)
    submitted = submit_and_claim(client, studio, str(local_storage.root), folder)
    # The limit runs out once the first frame is captured, however fast the machine is: the
    # worker's own timer (armed with the limit) is made to fire then, not after N seconds.
    progress = Heartbeat.render_progress

    def expire_at_the_first_frame(self, stage, done, total):
        progress(self, stage, done, total)
        if stage == "capture" and done >= 1:
            signal.setitimer(signal.ITIMER_REAL, 0.001)

    monkeypatch.setattr(Heartbeat, "render_progress", expire_at_the_first_frame)
    outcome = run(client, local_storage, submitted.job, time_limit=600)
    assert outcome.status == "failed"
    after = client.get_job(submitted.job.id)
    assert after.status == JobStatus.FAILED and after.retry_count == 0
    assert "ran past its time limit of 600 s" in after.failure_reason
    events = [e.message for e in client.list_events(after.id)]
    assert any(m.startswith("rendering") for m in events if m)  # stopped mid-render
    assert leftover_processes(str(marker)) == {}
    assert list(marker.iterdir()) == []
    assert not list((local_storage.root / "renders").rglob("*"))


def test_job_requeued_by_the_reaper_mid_render_is_left_alone(
    client, studio, local_storage, tmp_path, marker_tmpdir
):
    """The reaper requeues the job while this attempt renders (its heartbeat looked
    stale): the heartbeat learns it, the render stops, the job is not touched."""
    folder = tiny_run(tmp_path / "run", 20.0, moving=True)
    job = submit_and_claim(client, studio, str(local_storage.root), folder).job

    def reap_once_rendering():
        while not any(
            (e.message or "").startswith("rendering") for e in client.list_events(job.id)
        ):
            time.sleep(0.1)
        client.requeue(job.id, "no heartbeat for 180 s", expected_status=JobStatus.RUNNING)

    reaper = threading.Thread(target=reap_once_rendering, daemon=True)
    reaper.start()
    outcome = run(client, local_storage, job)
    reaper.join(timeout=30)

    assert outcome.status == "not-ours"
    after = client.get_job(job.id)
    assert after.status == JobStatus.QUEUED and after.retry_count == 1
    assert after.failure_reason == "no heartbeat for 180 s"
    assert client.list_render_runs(job.id) == []
    assert not list((local_storage.root / "renders").rglob("*"))
    assert leftover_processes(str(marker_tmpdir)) == {}


def test_handler_refuses_to_start_without_its_environment(capsys, monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # restored after the test
    monkeypatch.setattr(root, "level", root.level)
    assert worker_handler.main({"JOB_ATTEMPT": "0"}) == 2
    assert worker_handler.main({"JOB_ID": "j-1", "JOB_ATTEMPT": "zero"}) == 2
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["level"] for line in lines] == ["ERROR", "ERROR"]
    assert "JOB_ID is not set" in lines[0]["message"]
    assert lines[1]["jobId"] == "j-1"
    assert "JOB_ATTEMPT='zero' is not a whole number" in lines[1]["message"]
