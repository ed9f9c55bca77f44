"""Dispatcher settings from the environment, and the Lambda entry point handlers.trigger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from renderlib.errors import ConfigError
from renderlib.farm.settings import DispatchSettings, EcsSettings
from renderlib.jobs.status import JobStatus
from tests.farm.conftest import CONTAINER, FAMILY
from tests.farm.farm_helpers import SCHEDULE_EVENT

ENV = {
    "ECS_CLUSTER": "babulus-render-cluster",
    "TASK_DEFINITION": "babulus-render-worker",
    "TASK_FAMILY": "babulus-render-worker",
    "SUBNETS": "subnet-a, subnet-b",
    "SECURITY_GROUPS": "sg-1",
    "CONTAINER_NAME": "worker",
    "MAX_CONCURRENT_TASKS": "10",
    "HEARTBEAT_LEASE_SECONDS": "180",
}


def test_settings_from_the_infra_environment():
    ecs = EcsSettings.from_env(ENV)
    assert ecs.subnets == ("subnet-a", "subnet-b") and ecs.security_groups == ("sg-1",)
    assert ecs.started_by == "babulus-dispatcher" and len(ecs.started_by) <= 36
    dispatch = DispatchSettings.from_env(ENV)
    assert dispatch.max_concurrent_tasks == 10 and dispatch.heartbeat_lease_seconds == 180
    assert dispatch.metrics_cluster == "babulus-render-cluster"


def test_task_family_defaults_to_the_task_definitions():
    env = {**ENV, "TASK_FAMILY": "", "TASK_DEFINITION": "arn:aws:ecs:r:1:task-definition/fam:7"}
    assert EcsSettings.from_env(env).task_family == "fam"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAX_CONCURRENT_TASKS", "", "MAX_CONCURRENT_TASKS is not set"),
        ("MAX_CONCURRENT_TASKS", "ten", "MAX_CONCURRENT_TASKS must be a whole number, got 'ten'"),
        ("MAX_CONCURRENT_TASKS", "0", "MAX_CONCURRENT_TASKS must be at least 1, got 0"),
        ("HEARTBEAT_LEASE_SECONDS", "5", "HEARTBEAT_LEASE_SECONDS must be at least 10"),
        ("SUBNETS", " , ", "SUBNETS must be a comma-separated list"),
        ("ECS_CLUSTER", "", "ECS_CLUSTER is not set"),
    ],
)
def test_bad_settings_name_the_variable(name, value, message):
    env = {**ENV, name: value}
    # Each settings object that reads the variable refuses it on its own.
    readers = {"SUBNETS": [EcsSettings], "ECS_CLUSTER": [EcsSettings, DispatchSettings]}
    for settings in readers.get(name, [DispatchSettings]):
        with pytest.raises(ConfigError, match=message):
            settings.from_env(env)


def test_trigger_imports_without_browser_or_video_libraries():
    code = (
        "import sys, handlers.trigger; "
        "bad = [m for m in ('selenium', 'moviepy') if m in sys.modules]; "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


class LambdaContext:
    """The two members of Lambda's context object the handler uses."""

    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def test_handler_sweeps_with_settings_from_the_environment(
    monkeypatch, client, api, api_keys, ecs, ecs_settings, org1
):
    import handlers.trigger as trigger

    env = {
        **ENV,
        "ECS_CLUSTER": ecs_settings.cluster,
        "TASK_DEFINITION": FAMILY,
        "TASK_FAMILY": FAMILY,
        "SUBNETS": ",".join(ecs_settings.subnets),
        "SECURITY_GROUPS": ",".join(ecs_settings.security_groups),
        "CONTAINER_NAME": CONTAINER,
        "MAX_CONCURRENT_TASKS": "2",
        "JOBS_API_URL": api.url,
        "JOBS_API_AUTH": "api_key",
        "JOBS_API_KEY": api_keys.farm_key(),
        "RENDER_BUCKET": "render-bucket",  # where it deletes chunk segments
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    trigger._dependencies.cache_clear()
    jobs = [org1.create_job("org-1", {"videoId": "v"}) for _ in range(3)]
    try:
        answer = trigger.handler(SCHEDULE_EVENT, LambdaContext())
    finally:
        trigger._dependencies.cache_clear()
    assert answer["kind"] == "sweep" and answer["launched"] == [jobs[0].id, jobs[1].id]
    claimed = client.get_job(jobs[0].id)
    assert claimed.status == JobStatus.CLAIMED
    assert claimed.claimed_by_agent_id == f"dispatcher:{LambdaContext.aws_request_id}"
