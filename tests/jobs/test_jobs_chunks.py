"""A chunked job's chunks through the jobs API, over SQLite and DynamoDB: planned once, each
run and retried as a job is, and landed on the job's conditional counter exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from renderlib.errors import ClaimLostError, JobsApiError, NotAuthorizedError
from renderlib.jobs.status import JobStatus

RANGES = [(0, 60), (60, 120), (120, 180), (180, 200)]


def running_job(client, studio, org="org-1"):
    job = studio(org).create_job(org, {"generationRunId": "gen-1", "chunks": 4}, max_retries=1)
    client.claim(job.id, "dispatcher")
    return client.mark_running(job.id, attempt=0)


def test_a_plan_makes_the_chunks_once_and_the_job_counts_them(any_client, any_studio):
    job = running_job(any_client, any_studio)
    chunks = any_client.plan_chunks(job, RANGES, attempt=0)
    assert [(c.index, c.start_frame, c.end_frame) for c in chunks] == [
        (i, *span) for i, span in enumerate(RANGES)
    ]
    assert all(c.status == JobStatus.QUEUED and c.max_retries == 1 for c in chunks)
    job = any_client.get_job(job.id)
    assert (job.chunk_count, job.chunks_landed, job.chunks_done) == (4, "0000", 0)
    # The job's next attempt plans again: the same chunks, none made twice.
    again = any_client.plan_chunks(job, RANGES, attempt=0)
    assert [c.id for c in again] == [c.id for c in chunks]
    assert [c.id for c in any_client.list_chunks(job.id)] == [c.id for c in chunks]
    with pytest.raises(JobsApiError, match="split into 4 chunks before, now into 2"):
        any_client.plan_chunks(job, [(0, 100), (100, 200)], attempt=0)


def test_a_chunk_runs_and_retries_as_a_job_does(any_client, any_studio):
    job = running_job(any_client, any_studio)
    chunk = any_client.plan_chunks(job, RANGES, attempt=0)[1]
    claimed = any_client.claim_chunk(chunk.id, "dispatcher")
    with pytest.raises(ClaimLostError):
        any_client.claim_chunk(chunk.id, "another dispatcher")
    any_client.set_chunk_task_arn(chunk.id, "task-1", agent_id="dispatcher")
    with pytest.raises(ClaimLostError):
        any_client.mark_chunk_running(chunk.id, attempt=1)
    running = any_client.mark_chunk_running(chunk.id, attempt=0)
    assert running.task_arn == "task-1" and running.frames_done == 0
    assert any_client.chunk_heartbeat(chunk.id, 25, attempt=0).frames_done == 25

    requeued = any_client.retry_or_fail_chunk(running, "worker died")
    assert (requeued.status, requeued.retry_count, requeued.task_arn) == (
        JobStatus.QUEUED,
        1,
        None,
    )
    with pytest.raises(ClaimLostError):  # a late report about attempt 0
        any_client.chunk_heartbeat(chunk.id, 30, attempt=0)
    any_client.claim_chunk(chunk.id, "dispatcher")
    failed = any_client.retry_or_fail_chunk(any_client.get_chunk(chunk.id), "worker died again")
    assert failed.status == JobStatus.FAILED
    assert "chunk 1 (frames 60:120) failed: worker died again (gave up after 2 attempts)" in [
        e.message for e in any_client.list_events(job.id)
    ]
    assert claimed.claimed_by_agent_id == "dispatcher"


def test_landing_counts_each_chunk_once(any_client, any_studio):
    job = running_job(any_client, any_studio)
    any_client.plan_chunks(job, RANGES, attempt=0)
    after, counted = any_client.land_chunk(job.id, 2)
    assert counted and after.chunks_landed == "0010"
    after, counted = any_client.land_chunk(job.id, 2)
    assert not counted and after.chunks_done == 1


def test_of_racing_landings_exactly_one_sees_the_last(any_client, any_studio):
    job = running_job(any_client, any_studio)
    any_client.plan_chunks(job, RANGES, attempt=0)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: any_client.land_chunk(job.id, i), range(4)))
    assert all(counted for _, counted in results)
    assert sorted(after.chunks_done for after, _ in results) == [1, 2, 3, 4]
    assert any_client.get_job(job.id).status == JobStatus.RUNNING


def test_no_landing_on_a_job_that_stopped(any_client, any_studio):
    job = running_job(any_client, any_studio)
    any_client.plan_chunks(job, RANGES, attempt=0)
    any_studio("org-1").cancel(job.id)
    with pytest.raises(ClaimLostError, match="canceled"):
        any_client.land_chunk(job.id, 0)


def test_studios_read_their_own_chunks_and_change_none(any_client, any_studio):
    job = running_job(any_client, any_studio)
    chunks = any_client.plan_chunks(job, RANGES, attempt=0)
    studio = any_studio("org-1")
    assert [c.id for c in studio.list_chunks(job.id)] == [c.id for c in chunks]
    with pytest.raises(NotAuthorizedError):
        studio.claim_chunk(chunks[0].id, "me")
    with pytest.raises(NotAuthorizedError):
        any_studio("org-2").list_chunks(job.id)
    with pytest.raises(NotAuthorizedError):
        list(studio.iter_chunks("queued"))
    queued = [c.id for c in any_client.iter_chunks("queued", page_size=3)]
    assert queued == [c.id for c in chunks]
