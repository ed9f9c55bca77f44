"""Dispatch: stream, schedule and STOPPED events against ECS on moto and the local jobs API."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from renderlib.farm.dispatcher import handle_event
from renderlib.farm.launcher import EcsLauncher
from renderlib.farm.logs import JsonFormatter
from renderlib.farm.storage import S3Storage
from renderlib.jobs.status import JobStatus
from tests.conftest import REGION
from tests.farm.conftest import CONTAINER, FAMILY
from tests.farm.farm_helpers import (
    SCHEDULE_EVENT,
    stopped_event,
    stream_event,
    stream_record,
    tags,
    tasks_of,
)

INPUT = {"generationRunId": "run-1", "videoId": "video-1"}


def dispatch(event, client, launcher, settings, **options):
    return handle_event(event, client=client, launcher=launcher, settings=settings, **options)


def test_stream_event_claims_and_launches_each_queued_job(client, launcher, settings, ecs, org1):
    jobs = [org1.create_job("org-1", INPUT) for _ in range(3)]

    report = dispatch(stream_event(*map(stream_record, jobs)), client, launcher, settings)

    assert report.launched == [job.id for job in jobs]
    tasks = {tags(t)["JobId"]: t for t in tasks_of(ecs, launcher.settings.cluster)}
    assert set(tasks) == {job.id for job in jobs}
    for job in jobs:
        stored, task = client.get_job(job.id), tasks[job.id]
        assert stored.status == JobStatus.CLAIMED and stored.task_arn == task["taskArn"]
        assert stored.claimed_by_agent_id.startswith("dispatcher:")
        assert tags(task) == {"JobId": job.id, "OrgId": "org-1", "VideoId": "video-1"}
        assert task["launchType"] == "FARGATE" and task["startedBy"] == "babulus-dispatcher"
        assert task["group"] == f"family:{FAMILY}"
        (override,) = task["overrides"]["containerOverrides"]
        assert override["name"] == CONTAINER
        assert override["environment"] == [
            {"name": "JOB_ID", "value": job.id},
            {"name": "JOB_ATTEMPT", "value": "0"},
        ]


def test_stream_skips_records_that_are_not_new_queued_render_jobs(client, launcher, settings, org1):
    render = org1.create_job("org-1", INPUT)
    other_kind = org1.create_job("org-1", INPUT, kind="thumbnail")
    back_from_claimed = org1.create_job("org-1", INPUT)
    event = stream_event(
        stream_record(other_kind),
        stream_record(back_from_claimed, "MODIFY", old_status="claimed"),
        stream_record(render, "REMOVE"),
        stream_record(render, "MODIFY", old_status="running"),
        stream_record(render),
    )

    report = dispatch(event, client, launcher, settings)

    assert report.launched == [render.id]
    assert client.get_job(back_from_claimed.id).status == JobStatus.QUEUED
    assert client.get_job(other_kind.id).status == JobStatus.QUEUED


def test_stream_respects_capacity(client, launcher, settings, org1):
    jobs = [org1.create_job("org-1", INPUT) for _ in range(5)]
    settings = replace(settings, max_concurrent_tasks=2)

    report = dispatch(stream_event(*map(stream_record, jobs)), client, launcher, settings)

    assert report.capacity == 2 and report.launched == [jobs[0].id, jobs[1].id]
    assert [client.get_job(j.id).status for j in jobs[2:]] == [JobStatus.QUEUED] * 3


def test_sweep_launches_oldest_first_and_publishes_queue_metrics(
    client, launcher, settings, caplog, org1
):
    jobs = [org1.create_job("org-1", INPUT) for _ in range(5)]
    org1.create_job("org-1", INPUT, kind="thumbnail")
    settings = replace(settings, max_concurrent_tasks=3)
    later = datetime.now(UTC) + timedelta(seconds=90)
    caplog.set_level(logging.INFO, logger="renderlib.farm.dispatcher")

    report = dispatch(SCHEDULE_EVENT, client, launcher, settings, clock=lambda: later)

    assert report.launched == [job.id for job in jobs[:3]]
    # What the JSON formatter writes: each EMF line as CloudWatch reads it.
    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    emf = {}
    for line in lines:
        if "_aws" in line:
            (directive,) = line["_aws"]["CloudWatchMetrics"]
            assert directive["Namespace"] == "BabulusRender"
            assert directive["Dimensions"] == [["Cluster"]]
            assert line["Cluster"] == launcher.settings.cluster
            (metric,) = directive["Metrics"]
            emf[metric["Name"]] = (line[metric["Name"]], metric["Unit"])
    assert emf["QueuedJobs"] == (5, "Count")  # render jobs only, before this sweep launched
    age, unit = emf["OldestQueuedJobAgeSeconds"]
    assert unit == "Seconds" and 90 <= age < 120
    logged = [line for line in lines if line["message"] == "launched"]
    assert [line["job_id"] for line in logged] == report.launched


def test_concurrency_cap_holds_with_100_queued_jobs(client, launcher, settings, ecs, org1):
    jobs = [org1.create_job("org-1", INPUT) for _ in range(100)]
    cluster = launcher.settings.cluster

    first = dispatch(SCHEDULE_EVENT, client, launcher, settings)
    again = dispatch(stream_event(*map(stream_record, jobs)), client, launcher, settings)

    assert len(first.launched) == 10 and again.launched == [] and again.capacity == 0
    assert launcher.active_task_count() == 10
    for job_id in first.launched[:4]:  # four workers finish their jobs and exit
        client.mark_running(job_id, attempt=0)
        client.succeed(job_id, attempt=0)
        ecs.stop_task(cluster=cluster, task=client.get_job(job_id).task_arn, reason="done")

    after = dispatch(SCHEDULE_EVENT, client, launcher, settings)

    assert after.capacity == 4 and len(after.launched) == 4
    assert launcher.active_task_count() == 10
    launched = first.launched + after.launched
    assert launched == [job.id for job in jobs[:14]]  # oldest first
    queued = [j for j in jobs if client.get_job(j.id).status == JobStatus.QUEUED]
    assert len(queued) == 86


def test_eight_racing_dispatchers_launch_each_job_exactly_once(
    client, ecs_settings, ecs, settings, org1
):
    jobs = [org1.create_job("org-1", INPUT) for _ in range(40)]
    settings = replace(settings, max_concurrent_tasks=100)
    event = stream_event(*map(stream_record, jobs))
    reports, errors = [], []
    start = threading.Barrier(8)

    def run(index: int) -> None:
        try:
            launcher = EcsLauncher(ecs, ecs_settings)
            start.wait()
            # Half react to the stream, half sweep: both race for the same queue.
            chosen = event if index % 2 else SCHEDULE_EVENT
            reports.append(
                dispatch(chosen, client, launcher, settings, agent_id=f"dispatcher-{index}")
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    launched = [job_id for report in reports for job_id in report.launched]
    assert sorted(launched) == sorted(job.id for job in jobs)
    task_jobs = [tags(t)["JobId"] for t in tasks_of(ecs, ecs_settings.cluster)]
    assert sorted(task_jobs) == sorted(job.id for job in jobs)  # one task per job
    assert sum(r.claims_lost for r in reports) > 0  # they did race
    for job in jobs:
        stored = client.get_job(job.id)
        assert stored.status == JobStatus.CLAIMED and stored.task_arn


def test_run_task_error_requeues_without_counting_a_retry(
    client, ecs, ecs_settings, settings, org1
):
    job = org1.create_job("org-1", INPUT)
    broken = EcsLauncher(ecs, replace(ecs_settings, task_definition="no-such-family"))

    report = dispatch(SCHEDULE_EVENT, client, broken, settings)

    assert report.launched == [] and report.requeued == [job.id]
    stored = client.get_job(job.id)
    assert stored.status == JobStatus.QUEUED and stored.retry_count == 0
    assert "RunTask" in stored.failure_reason and "task definition" in stored.failure_reason
    assert stored.claimed_by_agent_id is None


def test_stopped_event_requeues_then_fails_with_stop_and_exit_code(
    client, launcher, settings, ecs, org1
):
    job = org1.create_job("org-1", INPUT, max_retries=1)
    cluster = launcher.settings.cluster

    def launch_run_and_crash(attempt: int):
        dispatch(SCHEDULE_EVENT, client, launcher, settings)
        client.mark_running(job.id, attempt=attempt)  # as the worker does
        arn = client.get_job(job.id).task_arn
        ecs.stop_task(cluster=cluster, task=arn, reason="Essential container in task exited")
        (task,) = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
        return stopped_event(task, stop_code="EssentialContainerExited", exit_code=137)

    crash = launch_run_and_crash(0)
    report = dispatch(crash, client, launcher, settings)

    assert report.requeued == [job.id]
    assert report.launched == [job.id]  # its slot is free: attempt 1 starts at once
    stored = client.get_job(job.id)
    assert stored.status == JobStatus.CLAIMED and stored.retry_count == 1
    assert "stop code EssentialContainerExited" in stored.failure_reason
    assert "exit code 137" in stored.failure_reason

    # A late copy of attempt 0's event must not touch attempt 1.
    second_crash = launch_run_and_crash(1)
    assert dispatch(crash, client, launcher, settings).requeued == []
    assert client.get_job(job.id).status == JobStatus.RUNNING

    report = dispatch(second_crash, client, launcher, settings)

    assert report.failed == [job.id]
    stored = client.get_job(job.id)
    assert stored.status == JobStatus.FAILED
    assert "exit code 137" in stored.failure_reason and "gave up after 2 attempts" in (
        stored.failure_reason
    )


def test_stopped_event_of_a_finished_job_frees_its_slot_for_the_next(
    client, launcher, settings, ecs, org1
):
    settings = replace(settings, max_concurrent_tasks=1)
    first, second = (org1.create_job("org-1", INPUT) for _ in range(2))
    dispatch(SCHEDULE_EVENT, client, launcher, settings)
    client.mark_running(first.id, attempt=0)
    client.succeed(first.id, attempt=0)
    arn = client.get_job(first.id).task_arn
    ecs.stop_task(cluster=launcher.settings.cluster, task=arn, reason="done")
    (task,) = ecs.describe_tasks(cluster=launcher.settings.cluster, tasks=[arn])["tasks"]

    report = dispatch(
        stopped_event(task, stop_code="EssentialContainerExited", exit_code=0),
        client,
        launcher,
        settings,
    )

    assert report.requeued == report.failed == []
    assert client.get_job(first.id).status == JobStatus.SUCCEEDED
    assert report.launched == [second.id]


def test_task_state_changes_other_than_stopped_are_ignored(client, launcher, settings):
    event = {"detail-type": "ECS Task State Change", "detail": {"lastStatus": "RUNNING"}}
    assert dispatch(event, client, launcher, settings).kind == "task-state"


def test_sweep_reaps_stale_heartbeats_until_the_job_fails(client, launcher, settings, org1):
    job = org1.create_job("org-1", INPUT, max_retries=1)
    lease = settings.heartbeat_lease_seconds

    def much_later():
        return datetime.now(UTC) + timedelta(seconds=lease + 60)

    for attempt in (0, 1):
        dispatch(SCHEDULE_EVENT, client, launcher, replace(settings, max_concurrent_tasks=99))
        client.mark_running(job.id, attempt=attempt)
        # Within the lease nothing happens.
        assert dispatch(SCHEDULE_EVENT, client, launcher, settings).requeued == []
        report = dispatch(SCHEDULE_EVENT, client, launcher, settings, clock=much_later)
        stored = client.get_job(job.id)
        assert "no heartbeat for" in stored.failure_reason
        assert int(stored.failure_reason.split("no heartbeat for ")[1].split(" s")[0]) > lease

    assert report.failed == [job.id] and stored.status == JobStatus.FAILED
    assert stored.retry_count == 1


def test_sweep_reaps_claimed_job_whose_task_stopped_before_starting_it(
    client, launcher, settings, ecs, org1
):
    job = org1.create_job("org-1", INPUT)
    dispatch(SCHEDULE_EVENT, client, launcher, settings)
    arn = client.get_job(job.id).task_arn
    ecs.stop_task(cluster=launcher.settings.cluster, task=arn, reason="CannotPullContainerError")

    report = dispatch(SCHEDULE_EVENT, client, launcher, settings)

    assert job.id in report.requeued
    stored = client.get_job(job.id)
    assert stored.retry_count == 1 and "CannotPullContainerError" in stored.failure_reason
    # The same sweep launched its next attempt at once.
    assert job.id in report.launched and stored.status == JobStatus.CLAIMED
    assert stored.task_arn != arn


def test_sweep_requeues_a_claim_whose_launch_never_happened(client, launcher, settings, org1):
    job = org1.create_job("org-1", INPUT)
    client.claim(job.id, "dispatcher-that-died")

    assert dispatch(SCHEDULE_EVENT, client, launcher, settings).requeued == []
    later = datetime.now(UTC) + timedelta(seconds=settings.claim_timeout_seconds + 1)
    report = dispatch(SCHEDULE_EVENT, client, launcher, settings, clock=lambda: later)

    assert report.requeued == [job.id] and report.launched == [job.id]
    stored = client.get_job(job.id)
    assert stored.retry_count == 0  # no attempt ran: same attempt, same client token
    assert stored.status == JobStatus.CLAIMED


def test_bounded_work_per_invocation(client, launcher, settings, org1):
    for _ in range(150):
        org1.create_job("org-1", INPUT)
    roomy = replace(settings, max_concurrent_tasks=100, max_launches_per_call=20)

    report = dispatch(SCHEDULE_EVENT, client, launcher, roomy)
    assert len(report.launched) == 20 and report.capacity == 100

    capped = replace(roomy, max_jobs_examined=40)
    report = dispatch(SCHEDULE_EVENT, client, launcher, capped)
    assert report.examined <= 40 * 3 and len(report.launched) == 20

    # Lambda's clock: 12 s left, one second used per look at it; stop at the 5 s margin.
    remaining = iter(range(12, -100, -1))
    report = dispatch(
        SCHEDULE_EVENT, client, launcher, roomy, remaining_seconds=lambda: next(remaining)
    )
    assert report.out_of_budget and len(report.launched) < 10


def test_unknown_event_is_an_error(client, launcher, settings):
    with pytest.raises(Exception, match="Scheduled Events"):
        dispatch({"hello": "world"}, client, launcher, settings)


def test_capacity_counts_only_the_worker_family(client, launcher, settings, ecs, org1):
    settings_ecs = launcher.settings
    ecs.register_task_definition(
        family="something-else",
        containerDefinitions=[{"name": "x", "image": "x", "memory": 512}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )
    network = {
        "awsvpcConfiguration": {
            "subnets": list(settings_ecs.subnets),
            "securityGroups": list(settings_ecs.security_groups),
        }
    }
    for _ in range(3):
        ecs.run_task(
            cluster=settings_ecs.cluster,
            taskDefinition="something-else",
            launchType="FARGATE",
            networkConfiguration=network,
        )
    assert launcher.active_task_count() == 0
    job = org1.create_job("org-1", INPUT)
    report = dispatch(SCHEDULE_EVENT, client, launcher, replace(settings, max_concurrent_tasks=1))
    assert report.launched == [job.id] and launcher.active_task_count() == 1


def succeeded_split_job(client, launcher, settings, org1, s3, storage):
    """A split job whose two chunks landed and joined, the segments still on S3; the
    chunk tasks still listed; the job's folder."""
    job = org1.create_job("org-1", {**INPUT, "chunks": 2})
    client.claim(job.id, "dispatcher")
    running = client.mark_running(job.id, attempt=0)
    chunks = client.plan_chunks(running, [(0, 60), (60, 90)], attempt=0)
    folder = "renders/org-1/video-1/" + job.id
    for name in ("chunks/0000.mp4", "chunks/0001.mp4", "chunks/poster.jpg"):
        s3.put_object(Bucket=storage.bucket, Key=f"{folder}/{name}", Body=b"segment")
    dispatch(SCHEDULE_EVENT, client, launcher, settings, storage=storage)  # launches both
    for chunk in chunks:
        client.mark_chunk_running(chunk.id, attempt=0)
        client.land_chunk(job.id, chunk.index)
    s3.put_object(Bucket=storage.bucket, Key=f"{folder}/video.mp4", Body=b"video")
    client.create_render_run(
        job.id, org_id="org-1", video_id="video-1", mp4_artifact_key=f"{folder}/video.mp4"
    )
    client.succeed(job.id, attempt=0)
    return client.get_job(job.id), chunks, folder


def test_a_split_jobs_success_on_the_stream_deletes_its_segments_with_no_stopped_event(
    client, launcher, settings, org1
):
    """EventBridge may lose a STOPPED event; the stream record of the success is retried
    until the dispatcher has handled it."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="renders-2")
    storage = S3Storage("renders-2", s3)
    job, _, folder = succeeded_split_job(client, launcher, settings, org1, s3, storage)
    image = {
        "id": {"S": job.id},
        "kind": {"S": "render"},
        "orgId": {"S": "org-1"},
        "chunkCount": {"N": "2"},
    }
    success = {
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "NewImage": {**image, "status": {"S": "succeeded"}},
            "OldImage": {**image, "status": {"S": "running"}},
        },
    }

    dispatch(stream_event(success), client, launcher, settings, storage=storage)

    left = [item["Key"] for item in s3.list_objects_v2(Bucket="renders-2")["Contents"]]
    assert left == [f"{folder}/video.mp4"]


def test_a_succeeded_split_jobs_stopped_chunk_task_deletes_only_its_chunk_segments(
    client, launcher, settings, ecs, org1
):
    """The cleanup role at work on S3: the dispatcher, not the task, deletes chunks/."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="renders")
    storage = S3Storage("renders", s3)
    _, chunks, folder = succeeded_split_job(client, launcher, settings, org1, s3, storage)
    arn = client.get_chunk(chunks[1].id).task_arn
    ecs.stop_task(cluster=launcher.settings.cluster, task=arn, reason="done")
    (task,) = ecs.describe_tasks(cluster=launcher.settings.cluster, tasks=[arn])["tasks"]

    dispatch(
        stopped_event(task, stop_code="EssentialContainerExited", exit_code=0),
        client,
        launcher,
        settings,
        storage=storage,
    )

    left = [item["Key"] for item in s3.list_objects_v2(Bucket="renders")["Contents"]]
    assert left == [f"{folder}/video.mp4"]


# --- Splitting at claim time -------------------------------------------------------------------

STATED = {**INPUT, "frames": 90, "fps": 30}  # 3 s of video: chunks of 60 and 30 frames


def chunk_tasks(ecs, cluster) -> dict[tuple[str, str], dict]:
    """(JOB_ID, CHUNK_INDEX) -> the task, for the tasks that render a chunk."""
    found = {}
    for task in tasks_of(ecs, cluster):
        (override,) = task["overrides"]["containerOverrides"]
        env = {e["name"]: e["value"] for e in override["environment"]}
        found[env["JOB_ID"], env.get("CHUNK_INDEX")] = task
    return found


def test_a_job_that_states_its_length_is_split_at_claim_and_its_chunks_launched_at_once(
    client, launcher, settings, ecs, org1
):
    job = org1.create_job("org-1", {**STATED, "chunks": 2})

    report = dispatch(stream_event(stream_record(job)), client, launcher, settings)

    # No task of its own: one task start-up, not two, before the chunks render.
    tasks = chunk_tasks(ecs, launcher.settings.cluster)
    assert sorted(tasks) == [(job.id, "0"), (job.id, "1")]
    assert report.launched == [f"{job.id}:0", f"{job.id}:1"]
    split = client.get_job(job.id)
    assert (split.status, split.chunk_count, split.chunks_landed) == (JobStatus.RUNNING, 2, "00")
    assert split.task_arn is None
    chunks = client.list_chunks(job.id)
    assert [(c.start_frame, c.end_frame, c.status) for c in chunks] == [
        (0, 60, JobStatus.CLAIMED),
        (60, 90, JobStatus.CLAIMED),
    ]
    assert [c.task_arn for c in chunks] == [
        tasks[job.id, "0"]["taskArn"],
        tasks[job.id, "1"]["taskArn"],
    ]
    events = [e.message for e in client.list_events(job.id)]
    assert "split into 2 chunks of 60 frames (2 s of video), each its own task" in events


def test_a_split_at_claim_launches_as_many_chunks_as_capacity_allows_the_rest_later(
    client, launcher, settings, ecs, org1
):
    job = org1.create_job("org-1", {**STATED, "chunks": 2})
    one_slot = replace(settings, max_concurrent_tasks=1)

    dispatch(stream_event(stream_record(job)), client, launcher, one_slot)

    assert [c.status for c in client.list_chunks(job.id)] == [JobStatus.CLAIMED, JobStatus.QUEUED]
    assert len(tasks_of(ecs, launcher.settings.cluster)) == 1
    report = dispatch(SCHEDULE_EVENT, client, launcher, replace(settings, max_concurrent_tasks=2))
    assert report.launched == [f"{job.id}:1"]
    assert [c.status for c in client.list_chunks(job.id)] == [JobStatus.CLAIMED] * 2


@pytest.mark.parametrize(
    "job_input",
    [
        {**INPUT, "chunks": 2},  # no stated length: its task loads the run and splits it
        {**STATED, "frames": "90", "chunks": 2},  # not a length: its task reports it
        {**STATED, "chunks": 0},  # bad input: its task fails the job with the reason
        {**STATED},  # 3 s is under the farm's chunk threshold: one task
    ],
)
def test_any_other_job_gets_a_task_of_its_own(client, launcher, settings, ecs, org1, job_input):
    job = org1.create_job("org-1", job_input)

    report = dispatch(stream_event(stream_record(job)), client, launcher, settings)

    assert report.launched == [job.id]
    assert list(chunk_tasks(ecs, launcher.settings.cluster)) == [(job.id, None)]
    assert client.get_job(job.id).chunk_count is None and client.list_chunks(job.id) == []
