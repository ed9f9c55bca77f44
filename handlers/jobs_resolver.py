"""Lambda entry point of the jobs API on AppSync (direct Lambda resolver for every field).

Environment: JOB_TABLE, JOB_EVENT_TABLE, RENDER_RUN_TABLE, GENERATION_RUN_TABLE, RENDER_CHUNK_TABLE,
DEFAULT_MAX_RETRIES (the maxRetries of a job created without one), and who the callers
are: FARM_ROLE_ARNS, API_KEY_ORG_ID, ORG_CLAIM (renderlib.jobs.authorization);
RENDER_BUCKET, the bucket whose renders/ a RenderRun's mp4Url and posterUrl presign
(unset: RenderRuns carry no links).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from renderlib.jobs.authorization import AppSyncAuthConfig
from renderlib.jobs.dynamo_store import DynamoStore
from renderlib.jobs.lambda_resolver import resolve
from renderlib.jobs.media_links import S3Links
from renderlib.jobs.service import DEFAULT_MAX_RETRIES, JobsService


@cache
def _dependencies() -> tuple[JobsService, AppSyncAuthConfig]:
    default_max_retries = int(os.environ.get("DEFAULT_MAX_RETRIES", DEFAULT_MAX_RETRIES))
    bucket = os.environ.get("RENDER_BUCKET")
    links = S3Links.for_bucket(bucket) if bucket else None
    service = JobsService(
        DynamoStore.from_env(), default_max_retries=default_max_retries, links=links
    )
    return service, AppSyncAuthConfig.from_env()


def handler(event: dict, _context: Any) -> Any:
    service, auth = _dependencies()
    return resolve(service, event, auth)
