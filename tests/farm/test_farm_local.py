"""The local farm end to end: real jobs API, dispatcher, worker processes, Chromium and
ffmpeg. Five submitted jobs with at most two at once all succeed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from renderlib.cost import FargatePrices, TaskSize, run_cost
from renderlib.errors import NotAuthorizedError
from renderlib.farm.local import FarmConfig, LocalFarm
from renderlib.jobs.api_keys import ApiKeys
from renderlib.jobs.auth import ApiKeyAuth
from renderlib.jobs.client import JobsClient
from renderlib.jobs.server import start_server
from renderlib.jobs.status import FINISHED_STATUSES, JobStatus
from renderlib.jobs.submit import submit_generation_run
from tests.genrun.genrun_helpers import make_tone, write_run
from tests.helpers import processes_mentioning


def tiny_run(folder, seconds: float = 1.0):
    """``seconds`` of video (default one), 160x90 at 10 fps, one narration clip."""
    (folder / "audio").mkdir(parents=True)
    make_tone(folder / "audio" / "voice.wav", 0.5, freq=660)
    script = {
        "meta": {"title": "Farm", "width": 160, "height": 90, "fps": 10, "duration": seconds},
        "scenes": [
            {
                "id": "only",
                "title": "Only",
                "start": 0,
                "end": seconds,
                "background": "#204080",
                "layers": [{"type": "title", "subtitle": "farm test"}],
            }
        ],
    }
    timeline = {
        "tracks": [{"name": "narration", "clips": [{"src": "audio/voice.wav", "start": 0}]}]
    }
    return write_run(folder, script, timeline)


def farm_and_studio(farm, org: str = "demo") -> tuple[JobsClient, JobsClient]:
    """The farm's client of the local farm's API, and org ``org``'s studio client."""
    return (
        JobsClient(farm.url, ApiKeyAuth(farm.keys.farm_key())),
        JobsClient(farm.url, ApiKeyAuth(farm.keys.org_key(org))),
    )


def most_at_once(intervals):
    """The largest number of [start, end] intervals that overlap at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_five_jobs_two_at_a_time_all_succeed(tmp_path):
    run = tiny_run(tmp_path / "run")
    config = FarmConfig(
        folder=tmp_path / "farm",
        max_concurrent=2,
        port=0,
        render_workers=1,
        heartbeat_interval=1.0,
        sweep_interval=2.0,
    )
    with LocalFarm(config) as farm:
        client, studio = farm_and_studio(farm)
        jobs = [submit_generation_run(studio, run, "demo", str(farm.storage)).job for _ in range(5)]
        deadline = time.monotonic() + 600
        while True:
            states = [client.get_job(job.id) for job in jobs]
            assert farm.launcher.active_task_count() <= 2
            if all(s.status in FINISHED_STATUSES for s in states):
                break
            assert time.monotonic() < deadline, [s.status for s in states]
            time.sleep(0.5)
        intervals = []
        for state in states:
            assert state.status == JobStatus.SUCCEEDED, state.failure_reason
            assert state.retry_count == 0
            (render_run,) = client.list_render_runs(state.id)
            mp4 = farm.storage / render_run.mp4_artifact_key
            assert render_run.mp4_artifact_key.startswith("renders/demo/")
            assert mp4.is_file() and (render_run.width, render_run.height) == (160, 90)
            # The worker process measured itself and priced itself as a task this farm's
            # environment describes (by default, this machine at us-east-1 prices).
            assert render_run.task_seconds > render_run.render_seconds
            size, prices = TaskSize.from_env(), FargatePrices.from_env()
            cost = run_cost(size, prices, [render_run.task_seconds]).cost_usd
            assert render_run.estimated_cost_usd == pytest.approx(cost, rel=1e-3)
            probe = subprocess.run(
                ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                 "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(mp4)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            assert int(probe.stdout.strip()) == 10
            events = {e.message: e.created_at for e in client.list_events(state.id)}
            intervals.append((events["running (attempt 0)"], events["succeeded"]))
            assert (farm.folder / "logs" / f"{state.id}-0.log").exists()
        assert most_at_once(intervals) <= 2
    # Every worker process has exited; none is left behind.
    assert processes_mentioning(str(tmp_path)) == []


def test_stopping_the_farm_requeues_the_running_job(tmp_path):
    run = tiny_run(tmp_path / "run")
    script = json.loads((run / "script.json").read_text())
    script["meta"]["duration"] = script["scenes"][0]["end"] = 60.0  # long enough to interrupt
    (run / "script.json").write_text(json.dumps(script))
    config = FarmConfig(folder=tmp_path / "farm", max_concurrent=1, port=0, render_workers=1)
    with LocalFarm(config) as farm:
        client, studio = farm_and_studio(farm)
        job = submit_generation_run(studio, run, "demo", str(farm.storage)).job
        deadline = time.monotonic() + 300
        while not any(e.type == "progress" for e in client.list_events(job.id)):
            assert time.monotonic() < deadline, client.get_job(job.id).status
            time.sleep(0.2)
    assert processes_mentioning(str(tmp_path)) == []
    assert not list((farm.storage / "renders").rglob("*.mp4"))

    with start_server(farm.folder / "jobs.db", farm.keys) as server:  # the queue as it was left
        stored = JobsClient(server.url, ApiKeyAuth(farm.keys.farm_key())).get_job(job.id)
    assert stored.status == JobStatus.QUEUED and stored.retry_count == 1
    assert stored.failure_reason


def test_farm_up_command_prints_how_to_submit_and_stops_on_ctrl_c(tmp_path):
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "renderlib", "farm", "up", "--dir", str(tmp_path / "farm"),
         "--port", "0", "--max-concurrent", "1"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        first = process.stdout.readline()
        assert first.startswith("jobs API at http://127.0.0.1:")
        url = first.split()[-1]
        lines = [process.stdout.readline() for _ in range(6)]
        keys_file = tmp_path / "farm" / "api-keys.json"
        storage = tmp_path / "farm" / "storage"
        assert f"--api {url} --storage {storage} --keys {keys_file}" in lines[1]
        assert lines[3].startswith(f"API keys in {keys_file}: ") and "(demo;" in lines[3]
        keys = ApiKeys(keys_file)
        assert lines[4].strip() == f"org demo: x-api-key {keys.org_key('demo')}"
        page = url.removesuffix("/graphql") + "/"
        assert lines[5].strip() == f"farm page for org demo: {page}#key={keys.org_key('demo')}"
        assert keys.farm_key() not in "".join(lines)  # the farm's own key stays in the file
        assert keys_file.stat().st_mode & 0o777 == 0o600
        assert JobsClient(url, ApiKeyAuth(keys.farm_key())).list_jobs("queued").items == []
        with pytest.raises(NotAuthorizedError):  # no key, no answer
            JobsClient(url, retries=0).list_jobs("queued")
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "stopping" in rest


def test_a_killed_worker_is_reaped_and_a_later_attempt_finishes_the_job(tmp_path):
    run = tiny_run(tmp_path / "run")
    script = json.loads((run / "script.json").read_text())
    script["meta"]["duration"] = script["scenes"][0]["end"] = 6.0
    (run / "script.json").write_text(json.dumps(script))
    config = FarmConfig(
        folder=tmp_path / "farm", max_concurrent=1, port=0, render_workers=1, sweep_interval=2.0
    )
    with LocalFarm(config) as farm:
        client, studio = farm_and_studio(farm)
        job = submit_generation_run(studio, run, "demo", str(farm.storage)).job
        deadline = time.monotonic() + 300
        while not any(
            (e.message or "").startswith("rendering") for e in client.list_events(job.id)
        ):
            assert time.monotonic() < deadline, client.get_job(job.id).status
            time.sleep(0.1)
        task = client.get_job(job.id).task_arn
        # As ECS kills a task: the worker and every process it started, at once.
        os.killpg(int(task.split("/")[-1]), signal.SIGKILL)
        while client.get_job(job.id).status not in FINISHED_STATUSES:
            assert time.monotonic() < deadline, client.get_job(job.id).status
            time.sleep(0.5)
        done = client.get_job(job.id)
        assert done.status == JobStatus.SUCCEEDED and done.retry_count == 1
        requeued = [
            e.message for e in client.list_events(job.id) if "requeued" in (e.message or "")
        ]
        assert len(requeued) == 1 and "exit code 137" in requeued[0]
        (render_run,) = client.list_render_runs(job.id)
        mp4s = list((farm.storage / "renders").rglob("*.mp4"))
        assert mp4s == [farm.storage / render_run.mp4_artifact_key]
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
             "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(mp4s[0])],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert int(probe.stdout.strip()) == 60
    assert processes_mentioning(str(tmp_path)) == []
