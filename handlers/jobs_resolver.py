"""Lambda entry point of the jobs API on AppSync (direct Lambda resolver for every field).

Environment: JOB_TABLE, JOB_EVENT_TABLE, RENDER_RUN_TABLE, GENERATION_RUN_TABLE, and
DEFAULT_MAX_RETRIES (the maxRetries of a job created without one).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from renderlib.jobs.dynamo_store import DynamoStore
from renderlib.jobs.lambda_resolver import resolve
from renderlib.jobs.service import DEFAULT_MAX_RETRIES, JobsService


@cache
def _service() -> JobsService:
    default_max_retries = int(os.environ.get("DEFAULT_MAX_RETRIES", DEFAULT_MAX_RETRIES))
    return JobsService(DynamoStore.from_env(), default_max_retries=default_max_retries)


def handler(event: dict, _context: Any) -> Any:
    return resolve(_service(), event)
