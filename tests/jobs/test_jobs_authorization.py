"""Who may do what on the jobs API (docs/jobs-api.md, "Authorization"), over HTTP against
the local server on SQLite and on DynamoDB (moto): a studio acts only for its own org,
only the farm claims, runs and reports, a finished job is never rewritten, and every id
and size is checked where it enters."""

from __future__ import annotations

import json

import pytest

from renderlib.errors import JobsApiError
from renderlib.jobs import operations as ops

A, B = "org-a", "org-b"
UNAUTHORIZED = "UnauthorizedException"
INVALID = "ValidationError"


def refused(error_type: str = UNAUTHORIZED):
    return pytest.raises(JobsApiError, match=error_type)


def update(client, job_id: str, **values):
    return client.execute(ops.UPDATE_JOB, {"input": {"id": job_id, **values}})["updateJob"]


def generation_run(client, org: str, video: str = "v-1", run_id: str | None = None):
    base = f"generations/{org}/{video}/{run_id or 'r-1'}/"
    return client.create_generation_run(
        org,
        video,
        base + "script.json",
        base + "timeline.json",
        [base + "audio/voice.wav"],
        artifact_prefix=base,
        run_id=run_id,
    )


def test_a_studio_creates_jobs_for_its_own_org_only(any_client, any_studio):
    a = any_studio(A)
    assert a.create_job(A, {"videoId": "v-1"}).org_id == A
    with refused():
        a.create_job(B, {"videoId": "v-1"})
    assert [job.org_id for job in any_client.list_jobs("queued").items] == [A]
    with refused():  # and the farm creates no jobs at all
        any_client.create_job(A, {"videoId": "v-1"})


def test_a_studio_reads_lists_and_cancels_only_its_own_orgs_jobs(any_client, any_studio):
    a, b = any_studio(A), any_studio(B)
    mine = a.create_job(A, {"videoId": "v-1"})
    theirs = b.create_job(B, {"videoId": "v-2"})
    any_client.add_event(theirs.id, "log", "org b's private note")

    for read in (
        lambda: a.get_job(theirs.id),
        lambda: a.list_events(theirs.id),
        lambda: a.list_render_runs(theirs.id),
    ):
        with refused():
            read()
    (event,) = any_client.list_events(theirs.id)
    with refused():
        a.execute(ops.GET_EVENT, {"id": event.id})
    assert [job.id for job in a.list_jobs("queued").items] == [mine.id]
    assert {job.id for job in any_client.list_jobs("queued").items} == {mine.id, theirs.id}

    with refused():
        a.cancel(theirs.id)
    assert any_client.get_job(theirs.id).status == "queued"
    assert a.cancel(mine.id).status == "canceled"


def test_a_studio_reads_and_registers_only_its_own_orgs_generation_runs(any_studio):
    a, b = any_studio(A), any_studio(B)
    theirs = generation_run(b, B)
    with refused():
        a.get_generation_run(theirs.id)
    with refused():
        generation_run(a, B, run_id="r-2")
    with refused(INVALID):  # its files must lie in its own org's folder
        a.create_generation_run(
            A, "v-1", f"generations/{B}/v-1/r-1/script.json", f"generations/{A}/v-1/t.json"
        )
    assert generation_run(a, A, run_id="r-3").org_id == A


def test_a_job_cannot_name_another_orgs_generation_run(any_studio):
    a, b = any_studio(A), any_studio(B)
    theirs = generation_run(b, B)
    with refused(INVALID) as error:
        a.create_job(A, {"generationRunId": theirs.id, "videoId": "v-1"})
    assert "not org org-a's" in str(error.value)
    mine = generation_run(a, A, run_id="r-2")
    assert a.create_job(A, {"generationRunId": mine.id}).input["generationRunId"] == mine.id


def test_only_the_farm_claims_runs_reports_and_records_renders(any_client, any_studio):
    a = any_studio(A)
    job = a.create_job(A, {"videoId": "v-1"})
    with refused():
        a.claim(job.id, "a-studio-agent")
    any_client.claim(job.id, "dispatcher")
    with refused():
        a.mark_running(job.id)
    any_client.mark_running(job.id)
    attempts = [
        lambda: a.heartbeat(job.id, 0.5),
        lambda: a.succeed(job.id),
        lambda: a.fail(job.id, "from the studio"),
        lambda: a.requeue(job.id, "from the studio"),
        lambda: a.add_event(job.id, "log", "from the studio"),
        lambda: update(a, job.id, failureReason="from the studio"),
        lambda: update(a, job.id, retryCount=7),
        lambda: update(a, job.id, status="running", taskArn="arn:aws:ecs:x"),
        lambda: a.create_render_run(
            job.id, org_id=A, video_id="v-1", mp4_artifact_key=f"renders/{B}/v/j/video.mp4"
        ),
    ]
    for attempt in attempts:
        with refused():
            attempt()
    stored = any_client.get_job(job.id)
    assert (stored.status, stored.retry_count, stored.failure_reason) == ("running", 0, None)
    assert a.list_render_runs(job.id) == []
    # The farm records a render only under the job's own org, video and job.
    with refused(INVALID):
        any_client.create_render_run(
            job.id, org_id=A, video_id="v-1", mp4_artifact_key=f"renders/{B}/v-1/x/video.mp4"
        )
    with refused(INVALID):
        any_client.create_render_run(job.id, org_id=B, video_id="v-1")
    run = any_client.create_render_run(
        job.id, org_id=A, video_id="v-1", mp4_artifact_key=f"renders/{A}/v-1/{job.id}/video.mp4"
    )
    assert [r.id for r in a.list_render_runs(job.id)] == [run.id]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("claimedByAgentId", "studio"),
        ("retryCount", 2),
        ("failureReason", "x"),
        ("taskArn", "arn:aws:ecs:us-east-1:1:task/c/t"),
        ("heartbeatAt", "2026-01-01T00:00:00.000Z"),
        ("progress", 0.5),
        ("startedAt", "2026-01-01T00:00:00.000Z"),
        ("finishedAt", "2026-01-01T00:00:00.000Z"),
    ],
)
def test_fields_the_farm_owns_are_refused_to_studios(any_client, any_studio, field, value):
    values = {"orgId": A, "kind": "render", "status": "queued", "inputJson": "{}", field: value}
    with refused():
        any_studio(A).execute(ops.CREATE_JOB, {"input": values})
    assert any_client.list_jobs("queued").items == []


def finished(any_client, studio, how: str):
    job = studio.create_job(A, {"videoId": "v-1"})
    if how == "canceled":
        update(studio, job.id, status="canceled")
        return job
    any_client.claim(job.id, "dispatcher")
    any_client.mark_running(job.id)
    if how == "succeeded":
        return any_client.succeed(job.id)
    return any_client.fail(job.id, "bad input")


@pytest.mark.parametrize("how", ["succeeded", "failed", "canceled"])
def test_a_finished_job_is_never_rewritten(any_client, any_studio, how):
    a = any_studio(A)
    job = finished(any_client, a, how)
    before = any_client.get_job(job.id)
    changes = [
        {"orgId": B},
        {"inputJson": json.dumps({"generationRunId": "someone-elses"})},
        {"retryCount": 5},
        {"failureReason": "rewritten"},
        {"heartbeatAt": "2026-01-01T00:00:00.000Z"},
        {"status": how, "progress": 0.5},
        {"status": "running"},
    ]
    for client in (any_client, a):
        for values in changes:
            with pytest.raises(JobsApiError, match=f"{UNAUTHORIZED}|{INVALID}"):
                update(client, job.id, **values)
    with pytest.raises(JobsApiError, match=f"{UNAUTHORIZED}|{INVALID}"):
        a.cancel(job.id)
    assert any_client.get_job(job.id) == before


def test_the_manual_retry_is_the_one_way_out_of_failed(any_client, any_studio):
    a, b = any_studio(A), any_studio(B)
    job = finished(any_client, a, "failed")
    with refused():
        update(b, job.id, status="queued")
    with refused():  # a studio's retry sets the status, nothing else
        update(a, job.id, status="queued", retryCount=0)
    retried = a.get_job(update(a, job.id, status="queued")["id"])
    assert retried.status == "queued" and retried.failure_reason == "bad input"
    assert retried.claimed_by_agent_id is None and retried.started_at is None
    assert retried.finished_at is None and retried.progress is None
    # A new attempt, so its launch gets a new RunTask client token, not the dead task back.
    assert retried.retry_count == job.retry_count + 1
    # A studio's "queued" is only that retry: not a way to pull a running job back.
    any_client.claim(job.id, "dispatcher")
    any_client.mark_running(job.id)
    with refused(INVALID) as error:
        update(a, job.id, status="queued")
    assert "only from failed" in str(error.value)
    succeeded = finished(any_client, a, "succeeded")
    with refused(INVALID) as error:
        update(a, succeeded.id, status="queued")
    assert "a finished job changes only by a manual retry" in str(error.value)


BAD_IDS = ["../../x", "/abs", "a\x00b", "", "a" * 65, "org-a/evil", "..", ".hidden", "-rf", "a b"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_ids_are_short_path_safe_tokens(any_client, any_studio, bad):
    a = any_studio(A)
    job = {"orgId": A, "kind": "render", "status": "queued", "inputJson": "{}"}
    attempts = [
        {**job, "id": bad},
        {**job, "orgId": bad},
        {**job, "inputJson": json.dumps({"generationRunId": bad})},
        {**job, "inputJson": json.dumps({"generationRunId": "g-1", "videoId": bad})},
    ]
    for values in attempts:
        with refused(INVALID) as error:
            a.execute(ops.CREATE_JOB, {"input": values})
        assert "A-Z a-z 0-9 . _ -" in str(error.value)
    base = f"generations/{A}/v-1/r-1/"
    run = {
        "orgId": A,
        "videoId": "v-1",
        "scriptArtifactKey": base + "script.json",
        "timelineArtifactKey": base + "timeline.json",
    }
    for values in ({**run, "id": bad}, {**run, "videoId": bad}, {**run, "orgId": bad}):
        with refused(INVALID):
            a.execute(ops.CREATE_GENERATION_RUN, {"input": values})
    assert any_client.list_jobs("queued").items == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "/abs/script.json", "a//b", "a/./b", "a\\b"])
def test_storage_keys_are_relative_and_path_safe(any_studio, key):
    with refused(INVALID):
        any_studio(A).create_generation_run(
            A, "v-1", f"generations/{A}/v-1/r-1/{key}", f"generations/{A}/v-1/r-1/timeline.json"
        )


def test_input_json_is_limited_as_dynamodb_limits_an_item(any_client, any_studio):
    a = any_studio(A)
    limit = 256 * 1024
    overhead = len(json.dumps({"generationRunId": "g-1", "pad": ""}))
    at_limit = {"generationRunId": "g-1", "pad": "x" * (limit - overhead)}
    job = a.create_job(A, at_limit)  # stored whole, DynamoDB item included
    assert any_client.get_job(job.id).input == at_limit
    with refused(INVALID) as error:
        a.create_job(A, {**at_limit, "pad": at_limit["pad"] + "x"})
    assert f"at most {limit}" in str(error.value)
    for megabytes in (10, 50):  # refused before the body is read (HTTP 413)
        with refused(f"{INVALID}.*the jobs API takes at most"):
            a.create_job(A, {"generationRunId": "g-1", "pad": "x" * (megabytes * 2**20)})
    assert [j.id for j in any_client.list_jobs("queued").items] == [job.id]
