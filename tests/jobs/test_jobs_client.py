"""Every JobsClient operation over real HTTP, against SQLite and DynamoDB backends."""

from __future__ import annotations

import pytest

from renderlib.errors import (
    BadInputError,
    ClaimLostError,
    GenerationRunNotFoundError,
    JobNotFoundError,
    JobsApiError,
)
from renderlib.jobs.status import JobStatus

INPUT = {"generationRunId": "gen-1", "videoId": "video-1"}


def test_create_get_and_list(any_client, any_studio):
    client = any_client
    created = [any_studio("org-1").create_job("org-1", {**INPUT, "n": n}) for n in range(5)]
    any_studio("org-1").create_job("org-1", INPUT, kind="thumbnail")

    job = client.get_job(created[0].id)
    assert job == created[0]
    assert (job.status, job.kind, job.retry_count, job.max_retries) == (
        JobStatus.QUEUED,
        "render",
        0,
        3,
    )
    assert job.input == {**INPUT, "n": 0}
    assert job.created_at.tzinfo is not None

    first = client.list_jobs("queued", limit=2)
    assert len(first.items) == 2 and first.next_token
    second = client.list_jobs("queued", limit=2, next_token=first.next_token)
    assert not {j.id for j in first.items} & {j.id for j in second.items}
    oldest_first = [j.id for j in client.iter_jobs("queued", page_size=2)]
    newest_first = [j.id for j in client.iter_jobs("queued", oldest_first=False)]
    assert len(oldest_first) == 6 and newest_first == oldest_first[::-1]
    assert oldest_first[:5] == [j.id for j in created]

    queued = client.list_queued_render_jobs(limit=10)
    assert [j.id for j in queued] == [j.id for j in created]
    assert len(client.list_queued_render_jobs(limit=3)) == 3
    assert client.list_jobs("running").items == []


def test_unknown_ids(any_client):
    with pytest.raises(JobNotFoundError):
        any_client.get_job("no-such-job")
    with pytest.raises(JobNotFoundError):
        any_client.claim("no-such-job", "agent")
    with pytest.raises(JobNotFoundError):
        any_client.add_event("no-such-job", "log", "hello")
    with pytest.raises(GenerationRunNotFoundError) as caught:
        any_client.get_generation_run("no-such-run")
    assert isinstance(caught.value, BadInputError)


def test_lifecycle_claim_run_heartbeat_succeed(any_client, any_studio):
    client = any_client
    job = any_studio("org-1").create_job("org-1", INPUT)

    claimed = client.claim(job.id, "agent-a")
    assert (claimed.status, claimed.claimed_by_agent_id) == (JobStatus.CLAIMED, "agent-a")
    with pytest.raises(ClaimLostError):
        client.claim(job.id, "agent-b")
    with pytest.raises(ClaimLostError):
        client.set_task_arn(job.id, "arn:task/x", agent_id="agent-b")
    assert client.set_task_arn(job.id, "arn:task/1", agent_id="agent-a").task_arn == "arn:task/1"

    with pytest.raises(ClaimLostError):
        client.heartbeat(job.id, 0.1)  # not running yet
    with pytest.raises(ClaimLostError):
        client.mark_running(job.id, attempt=1)  # attempt 0 is the current one
    running = client.mark_running(job.id, attempt=0)
    assert running.status == JobStatus.RUNNING and running.started_at and running.heartbeat_at

    beat = client.heartbeat(job.id, 0.5, "rendering 50%", attempt=0)
    assert beat.progress == 0.5 and beat.heartbeat_at >= running.heartbeat_at
    client.add_event(job.id, "log", "chromium started", data={"pid": 42})

    done = client.succeed(job.id, attempt=0)
    assert done.status == JobStatus.SUCCEEDED and done.progress == 1.0 and done.finished_at
    with pytest.raises(ClaimLostError):
        client.succeed(job.id)

    events = client.list_events(job.id)
    assert [(e.type, e.message) for e in events] == [
        ("status", "running (attempt 0)"),
        ("progress", "rendering 50%"),
        ("log", "chromium started"),
        ("status", "succeeded"),
    ]
    assert events[1].progress == 0.5 and events[2].data == '{"pid": 42}'
    assert all(e.org_id == "org-1" for e in events)
    assert [e.id for e in client.list_events(job.id, newest_first=True)] == [
        e.id for e in reversed(events)
    ]


def test_requeue_retry_or_fail_and_fail(any_client, any_studio):
    client = any_client
    job = any_studio("org-1").create_job("org-1", INPUT, max_retries=1)
    client.claim(job.id, "agent-a")
    client.set_task_arn(job.id, "arn:task/1")
    client.mark_running(job.id)

    with pytest.raises(ClaimLostError):
        client.requeue(job.id, "stale view", expected_status="claimed")
    requeued = client.requeue(job.id, "browser crashed")
    assert requeued.status == JobStatus.QUEUED and requeued.retry_count == 1
    assert requeued.claimed_by_agent_id is None and requeued.task_arn is None
    assert requeued.failure_reason == "browser crashed" and requeued.started_at is None

    client.claim(job.id, "agent-b")
    failed = client.retry_or_fail(job.id, "task stopped (exit code 137)")
    assert failed.status == JobStatus.FAILED and failed.retry_count == 1
    assert failed.failure_reason == "task stopped (exit code 137) (gave up after 2 attempts)"

    other = any_studio("org-1").create_job("org-1", INPUT)
    client.claim(other.id, "agent-a")
    assert client.retry_or_fail(other.id, "no heartbeat for 300 s").status == JobStatus.QUEUED
    client.claim(other.id, "agent-a")
    client.mark_running(other.id, attempt=1)
    failed = client.fail(other.id, "script.json: scene 2 ends before it starts")
    assert failed.status == JobStatus.FAILED and failed.finished_at
    messages = [e.message for e in client.list_events(other.id)]
    assert messages[-1] == "failed: script.json: scene 2 ends before it starts"


def test_requeue_and_fail_scoped_to_an_attempt(any_client, any_studio):
    """A late report about attempt 0 (its task stopped) cannot touch attempt 1."""
    client = any_client
    job = any_studio("org-1").create_job("org-1", INPUT, max_retries=3)
    client.claim(job.id, "agent-a")
    client.retry_or_fail(job.id, "task stopped", attempt=0)
    client.claim(job.id, "agent-a")
    for call in (client.retry_or_fail, client.requeue, client.fail):
        with pytest.raises(ClaimLostError, match="at attempt 1, not 0"):
            call(job.id, "late report about attempt 0", attempt=0)
    assert client.get_job(job.id).status == JobStatus.CLAIMED
    assert client.requeue(job.id, "launch failed", attempt=1, count_retry=False).retry_count == 1


def test_a_report_read_before_the_job_moved_on_still_loses(any_client, monkeypatch, any_studio):
    """The update itself is conditional on the attempt read, not only the client's check."""
    client = any_client
    job = any_studio("org-1").create_job("org-1", INPUT, max_retries=3)
    client.claim(job.id, "agent-a")
    stale = client.get_job(job.id)  # claimed at attempt 0
    client.retry_or_fail(job.id, "task stopped")
    client.claim(job.id, "agent-b")  # claimed again, now at attempt 1
    monkeypatch.setattr(client, "get_job", lambda _id: stale)
    for call in (client.requeue, client.fail):
        with pytest.raises(ClaimLostError):
            call(job.id, "late report read at attempt 0")
    monkeypatch.undo()
    after = client.get_job(job.id)
    assert (after.status, after.retry_count) == (JobStatus.CLAIMED, 1)


def test_invalid_transition_is_an_error(any_client, any_studio):
    job = any_studio("org-1").create_job("org-1", INPUT)
    with pytest.raises(JobsApiError) as caught:
        any_client.execute(
            "mutation($input: UpdateJobInput!) { updateJob(input: $input) { id } }",
            {"input": {"id": job.id, "status": "succeeded"}},
        )
    assert caught.value.error_type == "ValidationError"
    assert "cannot go from 'queued' to 'succeeded'" in str(caught.value)
    assert any_client.get_job(job.id).status == JobStatus.QUEUED


def test_render_run_is_created_once_per_job(any_client, any_studio):
    client = any_client
    job = any_studio("org-1").create_job("org-1", INPUT)
    first = client.create_render_run(
        job.id,
        org_id="org-1",
        video_id="video-1",
        generation_run_id="gen-1",
        mp4_artifact_key=f"renders/org-1/video-1/{job.id}/video.mp4",
        poster_artifact_key=f"renders/org-1/video-1/{job.id}/poster.jpg",
        duration=61.4,
        frames=1842,
        width=1280,
        height=720,
        fps=30.0,
        render_seconds=25.5,
        task_seconds=31.25,
        estimated_cost_usd=0.0123,
    )
    again = client.create_render_run(
        job.id,
        org_id="org-1",
        video_id="video-1",
        mp4_artifact_key=f"renders/org-1/video-1/{job.id}/again.mp4",
    )
    assert again == first
    assert first.duration == 61.4 and first.frames == 1842 and first.fps == 30.0
    assert (first.task_seconds, first.estimated_cost_usd) == (31.25, 0.0123)
    assert client.list_render_runs(job.id) == [first]
    assert client.get_render_run(first.id) == first


def test_generation_runs(any_client, any_studio):
    run = any_studio("org-1").create_generation_run(
        "org-1",
        "video-1",
        "generations/org-1/video-1/r/script.json",
        "generations/org-1/video-1/r/timeline.json",
        ["generations/org-1/video-1/r/audio/n1.wav"],
        artifact_prefix="generations/org-1/video-1/r/",
    )
    fetched = any_client.get_generation_run(run.id)
    assert fetched == run
    assert fetched.audio_artifact_keys == ("generations/org-1/video-1/r/audio/n1.wav",)
