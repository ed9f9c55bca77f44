"""The GraphQL contract as a studio sees it: raw HTTP requests to the local server."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from renderlib.errors import ClaimLostError
from renderlib.jobs.server import start_server
from tests.conftest import farm_client, studio_client

STUDIO_MUTATION = """
    mutation CreateRenderJob {
      createJob(input: {kind: "render", status: "queued", orgId: "your-org-id",
                        inputJson: "{\\"generationRunId\\":\\"gen-123\\"}"}) { id status createdAt }
    }
"""


def post(api, key: str, query: str, variables=None):
    response = requests.post(
        api.url,
        json={"query": query, "variables": variables},
        headers={"x-api-key": key},
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


def stored_jobs(api, api_keys):
    answer = post(
        api,
        api_keys.farm_key(),
        '{ listJobByStatusAndCreatedAt(status: "queued") { items { id } } }',
    )
    return answer["data"]["listJobByStatusAndCreatedAt"]["items"]


def test_studio_mutation_verbatim(api, api_keys, client):
    answer = post(api, api_keys.add_org("your-org-id"), STUDIO_MUTATION)
    assert "errors" not in answer
    created = answer["data"]["createJob"]
    assert created["status"] == "queued"
    assert created["createdAt"].endswith("Z")
    job = client.get_job(created["id"])
    assert (job.org_id, job.kind, job.input) == (
        "your-org-id",
        "render",
        {"generationRunId": "gen-123"},
    )


@pytest.mark.parametrize(
    ("query", "variables", "says"),
    [
        (
            'mutation { createJob(input: {kind: "render", status: "bogus", orgId: "o", '
            'inputJson: "{}"}) { id } }',
            None,
            "'bogus' is not a JobStatus",
        ),
        (
            'mutation { createJob(input: {kind: "render", status: "running", orgId: "o", '
            'inputJson: "{}"}) { id } }',
            None,
            "a job is created with status 'queued'",
        ),
        (
            'mutation { createJob(input: {kind: "render", status: "queued", '
            'inputJson: "{}"}) { id } }',
            None,
            "required field 'orgId'",
        ),
        (
            'mutation { createJob(input: {kind: "render", orgId: "o", inputJson: "{not json"}) '
            "{ id } }",
            None,
            "AWSJSON must be valid JSON",
        ),
        (
            "mutation($input: CreateJobInput!) { createJob(input: $input) { id } }",
            {"input": {"kind": "render", "orgId": "o", "inputJson": "{not json"}},
            "AWSJSON must be valid JSON",
        ),
        (
            "mutation($input: CreateJobEventInput!) { createJobEvent(input: $input) { id } }",
            {"input": {"jobId": "x", "type": "shout"}},
            "JobEventType",
        ),
        (
            'mutation { createJob(input: {kind: "render", orgId: "o", inputJson: "{}", '
            'heartbeatAt: "yesterday"}) { id } }',
            None,
            "AWSDateTime must be ISO 8601",
        ),
    ],
)
def test_invalid_input_is_a_graphql_error_and_stores_nothing(api, api_keys, query, variables, says):
    answer = post(api, api_keys.add_org("o"), query, variables)
    [error] = answer["errors"]
    assert says in error["message"]
    assert error["errorType"] == "ValidationError"
    assert stored_jobs(api, api_keys) == []


def test_unknown_ids(api, api_keys):
    farm = api_keys.farm_key()
    answer = post(api, farm, '{ getJob(id: "nope") { id } }')
    assert answer == {"data": {"getJob": None}}  # as Amplify: a missing record is null
    answer = post(
        api, farm, 'mutation { updateJob(input: {id: "nope", status: "claimed"}) { id } }'
    )
    [error] = answer["errors"]
    assert error["errorType"] == "NotFoundException" and "no Job with id 'nope'" in error["message"]
    answer = post(
        api, farm, 'mutation { createJobEvent(input: {jobId: "nope", type: log}) { id } }'
    )
    assert answer["errors"][0]["errorType"] == "NotFoundException"
    assert stored_jobs(api, api_keys) == []


def test_requests_without_a_known_key_are_refused(api, api_keys):
    for headers in ({}, {"x-api-key": "guessed"}, {"x-api-key": ""}):
        response = requests.post(api.url, json={"query": "{ __typename }"}, headers=headers)
        assert response.status_code == 401
        [error] = response.json()["errors"]
        assert error["errorType"] == "UnauthorizedException"
        assert str(api_keys.path) in error["message"]


def test_an_org_added_while_the_server_runs_is_known_at_once(api, api_keys):
    key = api_keys.add_org("late-org")
    answer = post(api, key, STUDIO_MUTATION.replace("your-org-id", "late-org"))
    assert answer["data"]["createJob"]["status"] == "queued"
    assert api_keys.path.stat().st_mode & 0o777 == 0o600


def test_failed_condition_is_conditional_check_failed(api, api_keys, client, studio):
    job = studio("org").create_job("org", {})
    claim = (
        'mutation($id: ID!, $agent: String) { updateJob(input: {id: $id, status: "claimed",'
        ' claimedByAgentId: $agent}, condition: {status: {eq: "queued"}}) { id status } }'
    )
    first = post(api, api_keys.farm_key(), claim, {"id": job.id, "agent": "a"})
    second = post(api, api_keys.farm_key(), claim, {"id": job.id, "agent": "b"})
    assert first["data"]["updateJob"]["status"] == "claimed"
    [error] = second["errors"]
    assert error["errorType"] == "ConditionalCheckFailedException"
    assert error["path"] == ["updateJob"] and second["data"] == {"updateJob": None}
    assert client.get_job(job.id).claimed_by_agent_id == "a"


def test_by_status_query_with_key_condition_and_bad_token(api, api_keys, studio):
    jobs = [studio("org").create_job("org", {"n": n}) for n in range(3)]
    since = jobs[1].created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    farm = api_keys.farm_key()
    answer = post(
        api,
        farm,
        """query($since: String) { listJobByStatusAndCreatedAt(status: "queued",
        createdAt: {ge: $since}, sortDirection: ASC) { items { id } } }""",
        {"since": since},
    )
    ids = {item["id"] for item in answer["data"]["listJobByStatusAndCreatedAt"]["items"]}
    assert ids == {j.id for j in jobs if j.created_at >= jobs[1].created_at}
    answer = post(
        api,
        farm,
        '{ listJobByStatusAndCreatedAt(status: "queued", nextToken: "zzz") { items { id } } }',
    )
    assert answer["errors"][0]["errorType"] == "ValidationError"
    answer = post(api, farm, '{ listJobByStatusAndCreatedAt(status: "lost") { items { id } } }')
    assert "is not a JobStatus" in answer["errors"][0]["message"]


def test_data_survives_a_restart(db_path, api_keys):
    with start_server(db_path, api_keys) as server:
        client = farm_client(server.url, api_keys)
        job = studio_client(server.url, api_keys, "org").create_job("org", {"generationRunId": "g"})
        client.claim(job.id, "agent")
        client.add_event(job.id, "log", "before restart")
    with start_server(db_path, api_keys) as server:
        client = farm_client(server.url, api_keys)
        again = client.get_job(job.id)
        assert (again.status, again.claimed_by_agent_id) == ("claimed", "agent")
        assert [e.message for e in client.list_events(job.id)] == ["before restart"]


def test_concurrent_claims_each_job_exactly_once(api, api_keys, client, studio):
    setup = client
    job_ids = [studio("org").create_job("org", {"n": n}).id for n in range(50)]
    wins: dict[str, list[str]] = {}
    losses = Counter()
    lock = threading.Lock()
    start = threading.Barrier(8)

    def agent(name: str, order: list[str]) -> None:
        client = farm_client(api.url, api_keys)
        start.wait()
        for job_id in order:
            try:
                client.claim(job_id, name)
            except ClaimLostError:
                with lock:
                    losses[name] += 1
                continue
            with lock:
                wins.setdefault(job_id, []).append(name)

    threads = [
        threading.Thread(target=agent, args=(f"agent-{i}", job_ids[i * 6 :] + job_ids[: i * 6]))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == sorted(job_ids)
    assert all(len(winners) == 1 for winners in wins.values())
    assert sum(losses.values()) == 8 * 50 - 50
    for job_id, [winner] in wins.items():
        assert setup.get_job(job_id).claimed_by_agent_id == winner


def test_schema_file_is_the_contract():
    from renderlib.jobs.server import schema_sdl

    sdl = schema_sdl()
    assert "scalar AWSJSON" not in sdl  # AppSync defines its scalars itself
    assert "createJob(input: CreateJobInput!, condition: ModelJobConditionInput): Job" in sdl


def test_every_client_operation_is_valid_against_the_schema(tmp_path):
    from graphql import parse, validate

    from renderlib.jobs import operations
    from renderlib.jobs.server import build_schema
    from renderlib.jobs.service import JobsService
    from renderlib.jobs.sqlite_store import SqliteStore

    schema = build_schema(JobsService(SqliteStore(tmp_path / "jobs.db")))
    documents = {
        name: value
        for name, value in vars(operations).items()
        if name.isupper() and isinstance(value, str) and value.lstrip().startswith(("query", "mut"))
    }
    assert len(documents) == 17
    for name, document in documents.items():
        assert validate(schema, parse(document)) == [], name
