"""The AppSync direct Lambda resolver: an AppSync event -> JobsService over DynamoDB.

AppSync sends ``{"arguments", "identity", "request": {"headers"}, "info":
{"parentTypeName", "fieldName"}, ...}``; the caller comes from ``identity`` (and the
``x-api-key`` header) through renderlib/jobs/authorization.py. Errors are raised as
ApiError subclasses whose class name is the errorType (for example
ConditionalCheckFailedException, UnauthorizedException); their messages also name the
failure, so clients recognise it whether AppSync reports the Lambda's error type or
``Lambda:Unhandled``.
"""

from __future__ import annotations

import json
from typing import Any

from renderlib.jobs.authorization import AppSyncAuthConfig, caller_from_appsync
from renderlib.jobs.models import ENTITIES
from renderlib.jobs.service import JobsService

JSON_FIELDS = frozenset().union(*(entity.json_fields for entity in ENTITIES.values()))


def resolve(service: JobsService, event: dict, auth: AppSyncAuthConfig) -> Any:
    info = event["info"]
    caller = caller_from_appsync(event, auth)
    result = service.resolve(
        info["parentTypeName"], info["fieldName"], event.get("arguments") or {}, caller
    )
    return _for_appsync(result)


def _for_appsync(value: Any) -> Any:
    """AppSync serialises an AWSJSON field from the object a Lambda returns for it."""
    if isinstance(value, list):
        return [_for_appsync(v) for v in value]
    if isinstance(value, dict):
        return {
            k: json.loads(v) if k in JSON_FIELDS and isinstance(v, str) else _for_appsync(v)
            for k, v in value.items()
        }
    return value
