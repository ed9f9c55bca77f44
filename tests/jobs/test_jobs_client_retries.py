"""Retries: transport errors are retried with backoff, lost conditions never are."""

from __future__ import annotations

import socket

import pytest
import requests

from renderlib.errors import ClaimLostError, JobsApiError, JobsUnavailableError
from renderlib.jobs.auth import ApiKeyAuth
from renderlib.jobs.client import JobsClient

JOB = {
    "id": "job-1",
    "orgId": "org",
    "kind": "render",
    "status": "queued",
    "inputJson": "{}",
    "retryCount": 0,
    "maxRetries": 3,
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:00.000Z",
}
CONDITION_FAILED = {
    "data": {"updateJob": None},
    "errors": [
        {
            "path": ["updateJob"],
            "data": None,
            "errorType": "ConditionalCheckFailedException",
            "errorInfo": None,
            "locations": [{"line": 1, "column": 2}],
            "message": "The conditional request failed (Service: DynamoDb, Status Code: 400)",
        }
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_api_is_retried_then_unavailable():
    client = JobsClient(f"http://127.0.0.1:{free_port()}/graphql", retries=2, backoff_seconds=0.01)
    with pytest.raises(JobsUnavailableError, match="unreachable after 3 attempts"):
        client.get_job("job-1")


def test_server_errors_are_retried(scripted_api):
    answers = iter([(503, {"message": "slow down"}), (502, {}), (200, {"data": {"getJob": JOB}})])
    api = scripted_api(lambda _request: next(answers))
    job = JobsClient(api.url, retries=3, backoff_seconds=0.01).get_job("job-1")
    assert job.id == "job-1" and len(api.requests) == 3


def test_client_errors_are_not_retried(scripted_api):
    api = scripted_api(lambda _request: (400, {"message": "bad request"}))
    with pytest.raises(JobsApiError, match="refused the request"):
        JobsClient(api.url, retries=3, backoff_seconds=0.01).get_job("job-1")
    assert len(api.requests) == 1


def test_lost_condition_is_never_retried(scripted_api):
    api = scripted_api(lambda _request: (200, CONDITION_FAILED))
    with pytest.raises(ClaimLostError, match="conditional request failed"):
        JobsClient(api.url, retries=3, backoff_seconds=0.01).claim("job-1", "agent")
    assert len(api.requests) == 1


def test_lambda_unhandled_condition_failure_is_still_a_lost_claim(scripted_api):
    answer = {
        "data": {"updateJob": None},
        "errors": [
            {
                "errorType": "Lambda:Unhandled",
                "message": "The conditional request failed: job job-1 did not match the condition",
            }
        ],
    }
    api = scripted_api(lambda _request: (200, answer))
    with pytest.raises(ClaimLostError):
        JobsClient(api.url, retries=0).claim("job-1", "agent")


def test_claim_applied_before_the_connection_failed_counts_as_won(
    api, api_keys, studio, scripted_api
):
    """The first claim reaches the server but its answer is lost; the retry then finds
    the condition failed, and the client sees that the job is claimed by itself."""
    job = studio("org").create_job("org", {})
    farm = ApiKeyAuth(api_keys.farm_key())
    dropped = []

    def flaky_proxy(request):
        headers = {"Content-Type": "application/json", "x-api-key": request["headers"]["X-Api-Key"]}
        upstream = requests.post(api.url, data=request["body"], headers=headers, timeout=10)
        if b"updateJob" in request["body"] and not dropped:
            dropped.append(True)
            return 502, {"message": "bad gateway"}
        return upstream.status_code, upstream.json()

    proxy = scripted_api(flaky_proxy)
    claimed = JobsClient(proxy.url, farm, retries=2, backoff_seconds=0.01).claim(job.id, "agent-a")
    assert claimed.claimed_by_agent_id == "agent-a" and dropped
    with pytest.raises(ClaimLostError):
        JobsClient(proxy.url, farm, retries=2, backoff_seconds=0.01).claim(job.id, "agent-b")


def test_one_client_shared_by_threads(studio):
    import threading

    client = studio("org")
    job_ids = []
    sessions = []  # kept alive, so their ids cannot be reused
    lock = threading.Lock()

    def create(n):
        job = client.create_job("org", {"n": n})
        with lock:
            job_ids.append(job.id)
            sessions.append(client._session())

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({client.get_job(i).id for i in job_ids}) == 8
    assert len({id(s) for s in sessions}) == 8  # a gql session is not thread-safe: one per thread
