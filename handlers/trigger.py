"""Lambda entry point of the dispatcher: Job stream batches, the sweep schedule and ECS
STOPPED task events all land here and go to renderlib.farm.dispatcher.handle_event.

Environment (set by infra/dispatcher.py): ECS_CLUSTER, TASK_DEFINITION, TASK_FAMILY,
SUBNETS, SECURITY_GROUPS, CONTAINER_NAME, MAX_CONCURRENT_TASKS, HEARTBEAT_LEASE_SECONDS,
JOBS_API_URL, JOBS_API_AUTH (+ JOBS_API_KEY_SECRET_ARN), RENDER_BUCKET (where it deletes a
succeeded chunked job's segments). Imports nothing of Selenium or
MoviePy, which the Lambda package does not ship.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from renderlib.farm.dispatcher import handle_event
from renderlib.farm.launcher import EcsLauncher
from renderlib.farm.logs import configure_logging
from renderlib.farm.settings import DispatchSettings, EcsSettings
from renderlib.farm.storage import Storage, storage_from_env
from renderlib.jobs.client import JobsClient


@cache
def _dependencies() -> tuple[JobsClient, EcsLauncher, DispatchSettings, Storage]:
    import boto3
    from botocore.config import Config

    ecs = boto3.client("ecs", config=Config(retries={"mode": "standard", "max_attempts": 3}))
    # Short retries: a Lambda has 30 s, and the next sweep picks up what this one missed.
    client = JobsClient.from_env(timeout=10, retries=2)
    launcher = EcsLauncher(ecs, EcsSettings.from_env())
    return client, launcher, DispatchSettings.from_env(), storage_from_env()


def handler(event: dict, context: Any) -> dict:
    # JSON lines (and EMF metric lines) only, in place of the runtime's text format.
    configure_logging({"requestId": context.aws_request_id}, os.environ.get("LOG_LEVEL", "INFO"))
    client, launcher, settings, storage = _dependencies()
    report = handle_event(
        event,
        client=client,
        launcher=launcher,
        settings=settings,
        agent_id=f"dispatcher:{context.aws_request_id}",
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
        storage=storage,
    )
    return {
        "kind": report.kind,
        "launched": report.launched,
        "requeued": report.requeued,
        "failed": report.failed,
    }
