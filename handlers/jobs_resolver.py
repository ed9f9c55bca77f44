"""Lambda entry point of the jobs API on AppSync (direct Lambda resolver for every field).

Environment: JOB_TABLE, JOB_EVENT_TABLE, RENDER_RUN_TABLE, GENERATION_RUN_TABLE.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from renderlib.jobs.dynamo_store import DynamoStore
from renderlib.jobs.lambda_resolver import resolve
from renderlib.jobs.service import JobsService


@cache
def _service() -> JobsService:
    return JobsService(DynamoStore.from_env())


def handler(event: dict, _context: Any) -> Any:
    return resolve(_service(), event)
