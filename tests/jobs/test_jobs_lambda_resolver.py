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
from tests.jobs.conftest import appsync_event

# As AppSync passes an IAM caller: a session of the dispatcher's role.
FARM = {
    "accountId": "123456789012",
    "userArn": "arn:aws:sts::123456789012:assumed-role/babulus-render-dispatcher/dispatcher",
    "username": "AROAEXAMPLE:dispatcher",
    "sourceIp": ["10.0.0.1"],
}
# As AppSync passes a Cognito user pool caller, its org in the custom:orgId claim.
STUDIO = {
    "sub": "8f1c",
    "username": "alice",
    "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool",
    "claims": {"token_use": "id", "cognito:username": "alice", "custom:orgId": "org-1"},
    "groups": None,
    "sourceIp": ["10.0.0.2"],
    "defaultAuthStrategy": "ALLOW",
}


@pytest.fixture
def invoke(resolver_env):
    """invoke(type, field, identity=FARM, headers=None, **arguments) -> the result."""

    def call(parent_type: str, field_name: str, identity=FARM, headers=None, **arguments):
        event = appsync_event(parent_type, field_name, identity, arguments, headers)
        return jobs_resolver.handler(event, None)

    return call


def create(invoke, **extra):
    return invoke(
        "Mutation",
        "createJob",
        identity=STUDIO,
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
        identity=STUDIO,
        input={
            "orgId": "org-1",
            "videoId": "video-1",
            "scriptArtifactKey": "generations/org-1/p/script.json",
            "timelineArtifactKey": "generations/org-1/p/timeline.json",
            "audioArtifactKeys": ["generations/org-1/p/a.wav"],
        },
    )
    assert invoke("Query", "getGenerationRun", id=generation["id"]) == generation


def test_unknown_field(invoke):
    with pytest.raises(ValidationError, match="no field Mutation.deleteJob"):
        invoke("Mutation", "deleteJob", input={"id": "x"})


def test_the_farm_wide_default_max_retries_applies_to_jobs_created_without_one(invoke, monkeypatch):
    assert create(invoke)["maxRetries"] == 3
    monkeypatch.setenv("DEFAULT_MAX_RETRIES", "1")
    jobs_resolver._dependencies.cache_clear()
    assert create(invoke)["maxRetries"] == 1
    assert create(invoke, maxRetries=5)["maxRetries"] == 5
