"""LocalLauncher with a stand-in worker command: one process per job attempt, the ECS
environment contract, exits reported as ECS STOPPED events the dispatcher reaps."""

from __future__ import annotations

import json
import os
import sys
import time

from renderlib.farm.dispatcher import handle_event
from renderlib.farm.launcher import LocalLauncher, project_root
from renderlib.farm.settings import DispatchSettings
from renderlib.jobs.status import JobStatus

# Records its environment, then sleeps (until SIGTERM) or exits with EXIT_CODE.
WORKER = """
import json, os, sys, time
out = os.path.join(os.environ["OUT"], os.environ["JOB_ID"] + ".json")
keys = ("JOB_ID", "JOB_ATTEMPT", "JOBS_API_URL", "PYTHONPATH")
json.dump({k: os.environ.get(k) for k in keys}, open(out, "w"))
if os.environ.get("EXIT_CODE"):
    sys.exit(int(os.environ["EXIT_CODE"]))
time.sleep(60)
"""


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_process_per_attempt_with_the_job_in_its_environment(tmp_path, client, org1):
    launcher = LocalLauncher(
        {"OUT": str(tmp_path), "JOBS_API_URL": "http://127.0.0.1:9/graphql"},
        tmp_path / "logs",
        command=[sys.executable, "-c", WORKER],
    )
    jobs = [client.claim(org1.create_job("org-1", {}).id, "test") for _ in range(2)]
    try:
        tasks = [launcher.launch(job, 0) for job in jobs]
        assert launcher.launch(jobs[0], 0) == tasks[0]  # same attempt: same task
        assert launcher.active_task_count() == 2
        for job in jobs:
            wait_for(lambda job=job: (tmp_path / f"{job.id}.json").exists())
            seen = json.loads((tmp_path / f"{job.id}.json").read_text())
            assert seen["JOB_ID"] == job.id and seen["JOB_ATTEMPT"] == "0"
            assert seen["JOBS_API_URL"] == "http://127.0.0.1:9/graphql"
            assert seen["PYTHONPATH"].split(os.pathsep)[0] == str(project_root())
        assert {s.last_status for s in launcher.task_states(tasks).values()} == {"RUNNING"}
    finally:
        launcher.stop_all(timeout=10)
    assert launcher.active_task_count() == 0
    states = launcher.task_states(tasks)
    assert all(s.stopped and s.exit_code == 128 + 15 for s in states.values())  # SIGTERM
    assert len(launcher.stopped_events()) == 2 and launcher.stopped_events() == []


def test_a_crashed_process_is_reaped_through_its_stopped_event(tmp_path, client, org1):
    launcher = LocalLauncher(
        {"OUT": str(tmp_path), "EXIT_CODE": "3"},
        tmp_path / "logs",
        command=[sys.executable, "-c", WORKER],
    )
    settings = DispatchSettings(max_concurrent_tasks=2)
    job = org1.create_job("org-1", {"videoId": "v"}, max_retries=1)

    report = handle_event(
        {"detail-type": "Scheduled Event", "detail": {}},
        client=client,
        launcher=launcher,
        settings=settings,
    )
    assert report.launched == [job.id]
    wait_for(lambda: launcher.active_task_count() == 0)
    (event,) = launcher.stopped_events()

    report = handle_event(event, client=client, launcher=launcher, settings=settings)

    assert report.requeued == [job.id] and report.launched == [job.id]  # attempt 1
    launcher.stop_all(timeout=10)
    stored = client.get_job(job.id)
    assert stored.status == JobStatus.CLAIMED and stored.retry_count == 1
    assert "exit code 3" in stored.failure_reason
    assert (tmp_path / "logs" / f"{job.id}-0.log").exists()


def test_the_cap_counts_workers_another_farm_started_or_left_behind(tmp_path, client, org1):
    """A killed `farm up` leaves its workers running, and two farms may share one folder:
    the count is of the folder's live workers, as ECS ListTasks counts the cluster's."""
    env = {"OUT": str(tmp_path)}
    command = [sys.executable, "-c", WORKER]
    first = LocalLauncher(env, tmp_path / "logs", command=command)
    second = LocalLauncher(env, tmp_path / "logs", command=command)
    settings = DispatchSettings(max_concurrent_tasks=1)
    running = client.claim(org1.create_job("org-1", {}).id, "test")
    waiting = org1.create_job("org-1", {"videoId": "v"})
    try:
        first.launch(running, 0)
        assert second.active_task_count() == 1
        report = handle_event(
            {"detail-type": "Scheduled Event", "detail": {}},
            client=client,
            launcher=second,
            settings=settings,
        )
        assert report.capacity == 0 and report.launched == []
        assert client.get_job(waiting.id).status == JobStatus.QUEUED
    finally:
        first.stop_all(timeout=10)
    assert second.active_task_count() == 0
    assert list((tmp_path / "logs" / "running").iterdir()) == []  # dead records forgotten
