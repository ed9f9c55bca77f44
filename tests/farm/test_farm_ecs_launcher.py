"""EcsLauncher where moto cannot answer: the exact RunTask request (moto ignores clientToken),
RunTask ``failures`` (moto never returns any) and stopped tasks' stopCode and container exit
code (moto sets neither). botocore's Stubber checks every request against the ECS model."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from renderlib.errors import LaunchError
from renderlib.farm.dispatcher import handle_event
from renderlib.farm.launcher import EcsLauncher, client_token
from renderlib.farm.settings import DispatchSettings, EcsSettings
from renderlib.jobs.records import Job
from renderlib.jobs.status import JobStatus
from tests.farm.farm_helpers import SCHEDULE_EVENT

SETTINGS = EcsSettings(
    cluster="babulus-render-cluster",
    task_definition="babulus-render-worker",
    task_family="babulus-render-worker",
    subnets=("subnet-a", "subnet-b"),
    security_groups=("sg-1",),
    container_name="worker",
)
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/babulus-render-cluster/0123456789abcdef"


def job(job_id: str = "6f0c2b1e-4d4e-4e8a-9c55-0a1b2c3d4e5f", input_json: str | None = None) -> Job:
    now = datetime.now(UTC)
    return Job(
        id=job_id,
        org_id="org-1",
        kind="render",
        status=JobStatus.CLAIMED,
        input_json=input_json or '{"generationRunId": "run-1", "videoId": "video-9"}',
        retry_count=2,
        max_retries=3,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def stubbed():
    ecs = boto3.client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(ecs) as stubber:
        yield EcsLauncher(ecs, SETTINGS), stubber
        stubber.assert_no_pending_responses()


def run_task_params(the_job: Job, attempt: int, video_tag: bool = True) -> dict:
    tags = [{"key": "JobId", "value": the_job.id}, {"key": "OrgId", "value": "org-1"}]
    if video_tag:
        tags.append({"key": "VideoId", "value": "video-9"})
    return {
        "cluster": "babulus-render-cluster",
        "taskDefinition": "babulus-render-worker",
        "launchType": "FARGATE",
        "count": 1,
        "clientToken": f"{the_job.id}:{attempt}",
        "startedBy": "babulus-dispatcher",
        "tags": tags,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-a", "subnet-b"],
                "securityGroups": ["sg-1"],
                "assignPublicIp": "DISABLED",
            }
        },
        "overrides": {
            "containerOverrides": [
                {
                    "name": "worker",
                    "environment": [
                        {"name": "JOB_ID", "value": the_job.id},
                        {"name": "JOB_ATTEMPT", "value": str(attempt)},
                    ],
                }
            ]
        },
    }


def test_run_task_request(stubbed):
    launcher, stubber = stubbed
    the_job = job()
    stubber.add_response(
        "run_task", {"tasks": [{"taskArn": TASK_ARN}], "failures": []}, run_task_params(the_job, 2)
    )
    assert launcher.launch(the_job, 2) == TASK_ARN


def test_job_with_unreadable_input_is_still_launched_without_a_video_tag(stubbed):
    launcher, stubber = stubbed
    the_job = job(input_json="not json")
    stubber.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK_ARN}]},
        run_task_params(the_job, 0, video_tag=False),
    )
    assert launcher.launch(the_job, 0) == TASK_ARN


def test_run_task_failures_raise_a_launch_error_naming_the_reason(stubbed):
    launcher, stubber = stubbed
    the_job = job()
    stubber.add_response(
        "run_task",
        {"tasks": [], "failures": [{"reason": "RESOURCE:FARGATE", "detail": "no capacity"}]},
        run_task_params(the_job, 2),
    )
    with pytest.raises(LaunchError, match="RESOURCE:FARGATE \\(no capacity\\)") as raised:
        launcher.launch(the_job, 2)
    assert raised.value.task_may_exist is False


def test_run_task_throttled_may_hide_a_task(stubbed):
    launcher, stubber = stubbed
    stubber.add_client_error("run_task", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(LaunchError, match="Rate exceeded") as raised:
        launcher.launch(job(), 2)
    assert raised.value.task_may_exist is True


def test_client_token_is_short_and_printable():
    assert client_token("abc", 3) == "abc:3"
    long = client_token("x" * 80, 12)
    assert len(long) <= 64 and long != client_token("x" * 80, 13)
    assert client_token("ünïcode", 0).startswith("sha256:")


def test_active_task_count_pages_through_list_tasks(stubbed):
    launcher, stubber = stubbed
    query = {
        "cluster": "babulus-render-cluster",
        "family": "babulus-render-worker",
        "desiredStatus": "RUNNING",
    }
    stubber.add_response("list_tasks", {"taskArns": ["a"] * 100, "nextToken": "t"}, query)
    stubber.add_response("list_tasks", {"taskArns": ["b"] * 7}, {**query, "nextToken": "t"})
    assert launcher.active_task_count() == 107


def test_task_states_read_stop_code_exit_code_and_missing_tasks(stubbed):
    launcher, stubber = stubbed
    stopped = {
        "taskArn": TASK_ARN,
        "lastStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "containers": [
            {"name": "sidecar", "exitCode": 0},
            {"name": "worker", "exitCode": 137, "reason": "OutOfMemoryError: Container killed"},
        ],
    }
    stubber.add_response(
        "describe_tasks",
        {"tasks": [stopped], "failures": [{"arn": "arn:gone", "reason": "MISSING"}]},
        {"cluster": "babulus-render-cluster", "tasks": [TASK_ARN, "arn:gone"]},
    )
    states = launcher.task_states([TASK_ARN, "arn:gone"])
    assert set(states) == {TASK_ARN}
    state = states[TASK_ARN]
    assert state.stopped and state.exit_code == 137
    assert state.describe() == (
        f"task {TASK_ARN} stopped: stop code EssentialContainerExited, exit code 137, "
        "OutOfMemoryError: Container killed, Essential container in task exited"
    )


def test_run_task_failures_count_a_retry_and_finally_fail_the_job(stubbed, client, org1):
    """The dispatcher's side: ECS refused to place the task, so no task exists; the retry
    is counted (the next attempt launches with a fresh client token)."""
    launcher, stubber = stubbed
    created = org1.create_job("org-1", {"videoId": "video-9"}, max_retries=1)
    settings = DispatchSettings(max_concurrent_tasks=5, metrics_cluster="babulus-render-cluster")
    for attempt in (0, 1):
        stubber.add_response("list_tasks", {"taskArns": []})
        stubber.add_response(
            "run_task",
            {"failures": [{"reason": "RESOURCE:FARGATE"}]},
            run_task_params(created, attempt),
        )
        report = handle_event(SCHEDULE_EVENT, client=client, launcher=launcher, settings=settings)
    stored = client.get_job(created.id)
    assert report.failed == [created.id] and stored.status == JobStatus.FAILED
    assert "RESOURCE:FARGATE" in stored.failure_reason
    assert "gave up after 2 attempts" in stored.failure_reason


def chunk_task_params(the_job: Job, chunk: int, attempt: int) -> dict:
    params = run_task_params(the_job, attempt)
    params["clientToken"] = f"{the_job.id}:{chunk}:{attempt}"
    params["overrides"]["containerOverrides"][0]["environment"].append(
        {"name": "CHUNK_INDEX", "value": str(chunk)}
    )
    return params


def test_run_task_request_for_a_chunk(stubbed):
    launcher, stubber = stubbed
    the_job = job()
    stubber.add_response(
        "run_task", {"tasks": [{"taskArn": TASK_ARN}]}, chunk_task_params(the_job, 3, 1)
    )
    assert launcher.launch(the_job, 1, chunk=3) == TASK_ARN
    assert client_token(the_job.id, 1, 3) == f"{the_job.id}:3:1"
    assert len(client_token("x" * 64, 10, 9999)) <= 64


def split_job(client, org1, max_retries: int = 3) -> tuple[Job, list]:
    """A running job split into two chunks, the first already claimed (so the sweep
    launches the second alone)."""
    created = org1.create_job("org-1", {"videoId": "video-9", "chunks": 2}, max_retries=max_retries)
    client.claim(created.id, "dispatcher")
    running = client.mark_running(created.id, attempt=0)
    chunks = client.plan_chunks(running, [(0, 60), (60, 90)], attempt=0)
    client.claim_chunk(chunks[0].id, "dispatcher")
    return client.get_job(created.id), chunks


def test_a_split_jobs_chunk_is_launched_as_its_own_task(stubbed, client, org1):
    launcher, stubber = stubbed
    the_job, chunks = split_job(client, org1)
    settings = DispatchSettings(max_concurrent_tasks=5, metrics_cluster="babulus-render-cluster")
    stubber.add_response("list_tasks", {"taskArns": ["the first chunk's"]})
    stubber.add_response(
        "run_task", {"tasks": [{"taskArn": TASK_ARN}]}, chunk_task_params(the_job, 1, 0)
    )
    report = handle_event(SCHEDULE_EVENT, client=client, launcher=launcher, settings=settings)
    assert report.launched == [f"{the_job.id}:1"] and report.capacity == 4
    launched = client.get_chunk(chunks[1].id)
    assert (launched.status, launched.task_arn) == (JobStatus.CLAIMED, TASK_ARN)
    assert client.get_job(the_job.id).status == JobStatus.RUNNING  # not reaped: it is split


def test_a_chunk_ecs_keeps_refusing_fails_its_job_naming_it(stubbed, client, org1):
    launcher, stubber = stubbed
    the_job, chunks = split_job(client, org1, max_retries=1)
    settings = DispatchSettings(max_concurrent_tasks=5, metrics_cluster="babulus-render-cluster")
    for attempt in (0, 1):
        stubber.add_response("list_tasks", {"taskArns": []})
        stubber.add_response(
            "run_task",
            {"failures": [{"reason": "RESOURCE:FARGATE"}]},
            chunk_task_params(the_job, 1, attempt),
        )
        report = handle_event(SCHEDULE_EVENT, client=client, launcher=launcher, settings=settings)
    assert report.failed == [f"{the_job.id}:1"]
    assert client.get_chunk(chunks[1].id).status == JobStatus.FAILED
    stored = client.get_job(the_job.id)
    assert stored.status == JobStatus.FAILED
    assert stored.failure_reason.startswith("chunk 1 (frames 60:90) failed: ECS could not start")
    assert "gave up after 2 attempts" in stored.failure_reason
    # The job stopped: its other chunk, claimed, is canceled by the next sweep.
    handle_event(SCHEDULE_EVENT, client=client, launcher=launcher, settings=settings)
    assert client.get_chunk(chunks[0].id).status == JobStatus.CANCELED


def test_a_job_that_states_its_length_is_launched_as_its_chunks_tasks_only(stubbed, client, org1):
    """Split at claim time: exactly the chunks' RunTask requests, none for the job."""
    launcher, stubber = stubbed
    the_job = org1.create_job("org-1", {"videoId": "video-9", "chunks": 2, "frames": 90, "fps": 30})
    settings = DispatchSettings(max_concurrent_tasks=5, metrics_cluster="babulus-render-cluster")
    stubber.add_response("list_tasks", {"taskArns": []})
    for index in (0, 1):
        stubber.add_response(
            "run_task", {"tasks": [{"taskArn": TASK_ARN}]}, chunk_task_params(the_job, index, 0)
        )
    report = handle_event(SCHEDULE_EVENT, client=client, launcher=launcher, settings=settings)
    assert report.launched == [f"{the_job.id}:0", f"{the_job.id}:1"]
    assert client.get_job(the_job.id).chunk_count == 2
    assert [c.status for c in client.list_chunks(the_job.id)] == [JobStatus.CLAIMED] * 2
