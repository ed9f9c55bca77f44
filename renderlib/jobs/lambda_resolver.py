"""The AppSync direct Lambda resolver: an AppSync event -> JobsService over DynamoDB.

AppSync sends ``{"arguments", "info": {"parentTypeName", "fieldName"}, ...}``. Errors
are raised as ApiError subclasses whose class name is the errorType (for example
ConditionalCheckFailedException); their messages also name the failure, so clients
recognise it whether AppSync reports the Lambda's error type or ``Lambda:Unhandled``.
"""

from __future__ import annotations

import json
from typing import Any

from renderlib.jobs.models import ENTITIES
from renderlib.jobs.service import JobsService

JSON_FIELDS = frozenset().union(*(entity.json_fields for entity in ENTITIES.values()))


def resolve(service: JobsService, event: dict) -> Any:
    info = event["info"]
    result = service.resolve(
        info["parentTypeName"], info["fieldName"], event.get("arguments") or {}
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
