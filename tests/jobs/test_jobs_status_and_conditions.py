"""Statuses and transitions; Amplify conditions judged alike by SQLite and DynamoDB."""

from __future__ import annotations

import pytest

from renderlib.jobs.api_errors import ConditionalCheckFailedException
from renderlib.jobs.authorization import Caller
from renderlib.jobs.models import JOB
from renderlib.jobs.service import JobsService
from renderlib.jobs.sqlite_store import SqliteStore
from renderlib.jobs.status import (
    ALLOWED_TRANSITIONS,
    FINISHED_STATUSES,
    JobStatus,
    can_transition,
    parse_status,
    predecessors,
)


def test_transitions():
    assert predecessors(JobStatus.CLAIMED) == {JobStatus.QUEUED, JobStatus.CLAIMED}
    assert not ALLOWED_TRANSITIONS[JobStatus.SUCCEEDED]
    assert not ALLOWED_TRANSITIONS[JobStatus.CANCELED]
    assert can_transition(JobStatus.RUNNING, JobStatus.RUNNING)
    assert not can_transition(JobStatus.QUEUED, JobStatus.RUNNING)
    assert all(JobStatus.RUNNING not in ALLOWED_TRANSITIONS[s] for s in FINISHED_STATUSES)
    with pytest.raises(ValueError, match="expected one of queued, claimed"):
        parse_status("done")


STUDIO = Caller.studio("org-1", "org-1's studio")
FARM = Caller.farm("the farm")

# (condition, whether it holds for the job the tests create)
CONDITIONS = [
    ({"status": {"eq": "queued"}}, True),
    ({"status": {"ne": "queued"}}, False),
    ({"retryCount": {"lt": 1}}, True),
    ({"retryCount": {"between": [1, 3]}}, False),
    ({"orgId": {"beginsWith": "org-"}}, True),
    ({"orgId": {"contains": "g-1"}}, True),
    ({"orgId": {"notContains": "g-1"}}, False),
    ({"taskArn": {"attributeExists": False}}, True),
    ({"taskArn": {"attributeExists": True}}, False),
    ({"taskArn": {"ne": "arn:x"}}, True),
    ({"taskArn": {"notContains": "x"}}, True),
    ({"progress": {"ge": 0.5}}, False),
    ({"or": [{"status": {"eq": "claimed"}}, {"retryCount": {"eq": 0}}]}, True),
    ({"and": [{"status": {"eq": "queued"}}, {"retryCount": {"gt": 0}}]}, False),
    ({"not": {"status": {"eq": "queued"}}}, False),
    ({"status": {"eq": "queued"}, "kind": {"eq": "render"}, "maxRetries": {"le": 3}}, True),
]


@pytest.mark.parametrize(("condition", "holds"), CONDITIONS)
def test_sqlite_judges_conditions_like_dynamodb(condition, holds, tmp_path, dynamo_store):
    outcomes = []
    for store in (SqliteStore(tmp_path / "jobs.db"), dynamo_store):
        service = JobsService(store, new_id=lambda: "job-1")
        service.create_job(STUDIO, {"orgId": "org-1", "kind": "render", "inputJson": "{}"})
        try:
            service.update_job(FARM, {"id": "job-1", "failureReason": "x"}, condition)
            outcomes.append(True)
        except ConditionalCheckFailedException:
            outcomes.append(False)
        assert (store.get(JOB, "job-1").get("failureReason") == "x") == outcomes[-1]
    assert outcomes == [holds, holds], f"SQLite {outcomes[0]}, DynamoDB {outcomes[1]}"
