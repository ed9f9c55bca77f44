"""The AppSync Lambda resolver (handlers/jobs_resolver.py) over DynamoDB on a moto server."""

from __future__ import annotations

import json

import pytest

from handlers import jobs_resolver
from renderlib.jobs.api_errors import (
    ConditionalCheckFailedException,
    NotFoundException,
    ValidationError,
)


@pytest.fixture
def invoke(dynamodb, table_names, monkeypatch):
    monkeypatch.setenv("JOB_TABLE", table_names["Job"])
    monkeypatch.setenv("JOB_EVENT_TABLE", table_names["JobEvent"])
    monkeypatch.setenv("RENDER_RUN_TABLE", table_names["RenderRun"])
    monkeypatch.setenv("GENERATION_RUN_TABLE", table_names["GenerationRun"])
    jobs_resolver._service.cache_clear()

    def call(parent_type: str, field_name: str, **arguments):
        event = {
            "arguments": arguments,
            "identity": {"userArn": "arn:aws:iam::123456789012:role/dispatcher"},
            "info": {
                "parentTypeName": parent_type,
                "fieldName": field_name,
                "selectionSetList": ["id"],
                "variables": {},
            },
            "source": None,
            "prev": None,
            "stash": {},
        }
        return jobs_resolver.handler(event, None)

    yield call
    jobs_resolver._service.cache_clear()


def create(invoke, **extra):
    return invoke(
        "Mutation",
        "createJob",
        input={
            "kind": "render",
            "status": "queued",
            "orgId": "org-1",
            "inputJson": {"generationRunId": "gen-1", "videoId": "video-1"},
            **extra,
        },
    )


def test_create_get_and_list_by_status(invoke, dynamodb, table_names):
    job = create(invoke)
    # AppSync hands AWSJSON arguments over parsed; the table keeps the JSON string
    # (the dispatcher reads it from the stream), and the resolver returns the object.
    assert job["inputJson"] == {"generationRunId": "gen-1", "videoId": "video-1"}
    stored = dynamodb.Table(table_names["Job"]).get_item(Key={"id": job["id"]})["Item"]
    assert json.loads(stored["inputJson"]) == job["inputJson"]
    assert stored["status"] == "queued" and stored["retryCount"] == 0

    assert invoke("Query", "getJob", id=job["id"]) == job
    assert invoke("Query", "getJob", id="nope") is None
    others = [create(invoke) for _ in range(2)]
    page = invoke(
        "Query", "listJobByStatusAndCreatedAt", status="queued", limit=2, sortDirection="ASC"
    )
    assert len(page["items"]) == 2 and page["nextToken"]
    rest = invoke(
        "Query",
        "listJobByStatusAndCreatedAt",
        status="queued",
        limit=2,
        sortDirection="ASC",
        nextToken=page["nextToken"],
    )
    listed = [j["id"] for j in page["items"] + rest["items"]]
    assert sorted(listed) == sorted([job["id"]] + [o["id"] for o in others])


def test_conditional_claim(invoke, dynamodb, table_names):
    job = create(invoke)
    claim = {
        "input": {"id": job["id"], "status": "claimed", "claimedByAgentId": "agent-a"},
        "condition": {"status": {"eq": "queued"}},
    }
    claimed = invoke("Mutation", "updateJob", **claim)
    assert claimed["status"] == "claimed" and claimed["claimedByAgentId"] == "agent-a"

    claim["input"]["claimedByAgentId"] = "agent-b"
    with pytest.raises(ConditionalCheckFailedException) as lost:
        invoke("Mutation", "updateJob", **claim)
    assert "The conditional request failed" in str(lost.value)
    stored = dynamodb.Table(table_names["Job"]).get_item(Key={"id": job["id"]})["Item"]
    assert stored["claimedByAgentId"] == "agent-a"


def test_errors_store_nothing(invoke, dynamodb, table_names):
    with pytest.raises(ValidationError, match="'bogus' is not a JobStatus"):
        create(invoke, status="bogus")
    with pytest.raises(NotFoundException):
        invoke("Mutation", "updateJob", input={"id": "nope", "status": "claimed"})
    with pytest.raises(ValidationError, match="must be a JSON string"):
        create(invoke, inputJson="{not json")
    assert dynamodb.Table(table_names["Job"]).scan()["Count"] == 0


def test_events_render_runs_and_generation_runs(invoke):
    job = create(invoke)
    event = invoke(
        "Mutation",
        "createJobEvent",
        input={
            "jobId": job["id"],
            "type": "progress",
            "message": "rendering 10%",
            "progress": 0.1,
            "data": {"frame": 30},
        },
    )
    assert event["data"] == {"frame": 30} and event["orgId"] == "org-1"
    events = invoke("Query", "listJobEventByJobIdAndCreatedAt", jobId=job["id"])
    assert [e["id"] for e in events["items"]] == [event["id"]]

    run = invoke(
        "Mutation",
        "createRenderRun",
        input={
            "id": "rr-1",
            "jobId": job["id"],
            "orgId": "org-1",
            "videoId": "video-1",
            "status": "succeeded",
            "duration": 12.5,
            "frames": 375,
        },
    )
    assert run["duration"] == 12.5 and run["frames"] == 375
    with pytest.raises(ConditionalCheckFailedException):
        invoke(
            "Mutation",
            "createRenderRun",
            input={
                "id": "rr-1",
                "jobId": job["id"],
                "orgId": "org-1",
                "videoId": "video-1",
                "status": "succeeded",
            },
        )
    assert invoke("Query", "listRenderRunByJobId", jobId=job["id"])["items"] == [run]

    generation = invoke(
        "Mutation",
        "createGenerationRun",
        input={
            "orgId": "org-1",
            "videoId": "video-1",
            "scriptArtifactKey": "p/script.json",
            "timelineArtifactKey": "p/timeline.json",
            "audioArtifactKeys": ["p/a.wav"],
        },
    )
    assert invoke("Query", "getGenerationRun", id=generation["id"]) == generation


def test_unknown_field(invoke):
    with pytest.raises(ValidationError, match="no field Mutation.deleteJob"):
        invoke("Mutation", "deleteJob", input={"id": "x"})


def test_the_farm_wide_default_max_retries_applies_to_jobs_created_without_one(invoke, monkeypatch):
    assert create(invoke)["maxRetries"] == 3
    monkeypatch.setenv("DEFAULT_MAX_RETRIES", "1")
    jobs_resolver._service.cache_clear()
    assert create(invoke)["maxRetries"] == 1
    assert create(invoke, maxRetries=5)["maxRetries"] == 5
