"""The jobs API's logic, shared by the local server and the AppSync Lambda resolver.

Each GraphQL root field is one method taking the field's arguments as plain data and
returning records as plain dicts (AWSJSON fields as JSON strings). The service owns
ids, timestamps, defaults, validation and status transitions; conditions are judged
atomically by the store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from renderlib.jobs import conditions
from renderlib.jobs.api_errors import (
    ConditionalCheckFailedException,
    NotFoundException,
    ValidationError,
)
from renderlib.jobs.conditions import ConditionInputError
from renderlib.jobs.models import GENERATION_RUN, JOB, JOB_EVENT, RENDER_RUN, Entity
from renderlib.jobs.status import INITIAL_STATUS, JobStatus, parse_status, predecessors
from renderlib.jobs.store import BadPageToken, ConditionNotMet, Store

DEFAULT_MAX_RETRIES = 3
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DATETIME_FIELDS = frozenset({"heartbeatAt", "startedAt", "finishedAt"})
CONDITION_FAILED = "The conditional request failed"


def utc_now() -> str:
    """An AWSDateTime for now, as Amplify writes them: UTC, milliseconds, ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JobsService:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], str] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        default_max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.store = store
        self.default_max_retries = default_max_retries
        self.clock = clock
        self.new_id = new_id
        self._fields: dict[tuple[str, str], Callable[..., Any]] = {
            ("Query", "getJob"): self.get_job,
            ("Query", "listJobByStatusAndCreatedAt"): self.list_jobs_by_status,
            ("Query", "getJobEvent"): self.get_job_event,
            ("Query", "listJobEventByJobIdAndCreatedAt"): self.list_job_events,
            ("Query", "getRenderRun"): self.get_render_run,
            ("Query", "listRenderRunByJobId"): self.list_render_runs,
            ("Query", "getGenerationRun"): self.get_generation_run,
            ("Mutation", "createJob"): self.create_job,
            ("Mutation", "updateJob"): self.update_job,
            ("Mutation", "createJobEvent"): self.create_job_event,
            ("Mutation", "createRenderRun"): self.create_render_run,
            ("Mutation", "createGenerationRun"): self.create_generation_run,
        }

    @property
    def fields(self) -> list[tuple[str, str]]:
        """Every (parent type, field name) the service resolves."""
        return list(self._fields)

    def resolve(self, parent_type: str, field_name: str, arguments: dict) -> Any:
        try:
            method = self._fields[(parent_type, field_name)]
        except KeyError:
            raise ValidationError(f"the jobs API has no field {parent_type}.{field_name}") from None
        return method(**arguments)

    # Queries

    def get_job(self, id: str) -> dict | None:
        return self.store.get(JOB, id)

    def list_jobs_by_status(
        self,
        status: str,
        createdAt: dict | None = None,
        sortDirection: str | None = None,
        limit: int | None = None,
        nextToken: str | None = None,
    ) -> dict:
        _status(status)
        return self._query(
            JOB, "byStatus", status, "createdAt", createdAt, sortDirection, limit, nextToken
        )

    def get_job_event(self, id: str) -> dict | None:
        return self.store.get(JOB_EVENT, id)

    def list_job_events(
        self,
        jobId: str,
        createdAt: dict | None = None,
        sortDirection: str | None = None,
        limit: int | None = None,
        nextToken: str | None = None,
    ) -> dict:
        return self._query(
            JOB_EVENT, "byJob", jobId, "createdAt", createdAt, sortDirection, limit, nextToken
        )

    def get_render_run(self, id: str) -> dict | None:
        return self.store.get(RENDER_RUN, id)

    def list_render_runs(
        self, jobId: str, limit: int | None = None, nextToken: str | None = None
    ) -> dict:
        return self._query(RENDER_RUN, "byJob", jobId, None, None, None, limit, nextToken)

    def get_generation_run(self, id: str) -> dict | None:
        return self.store.get(GENERATION_RUN, id)

    # Mutations

    def create_job(self, input: dict, condition: dict | None = None) -> dict:
        values = _present(input)
        status = _status(values.get("status", INITIAL_STATUS.value))
        if status != INITIAL_STATUS:
            raise ValidationError(
                f"a job is created with status {INITIAL_STATUS.value!r}, not {status.value!r}"
            )
        values["status"] = status.value
        values.setdefault("retryCount", 0)
        values.setdefault("maxRetries", self.default_max_retries)
        _check_job_values(values)
        for name in ("orgId", "kind"):
            _non_empty(name, values.get(name))
        return self._create(JOB, values, condition)

    def update_job(self, input: dict, condition: dict | None = None) -> dict:
        values = dict(input)
        job_id = values.pop("id")
        remove = frozenset(name for name, value in values.items() if value is None)
        required_removed = sorted(remove & JOB.required)
        if required_removed:
            raise ValidationError(
                f"updateJob cannot set required fields to null: {', '.join(required_removed)}"
            )
        values = _present(values)
        _check_job_values(values)
        user_condition = self._condition(JOB, condition)
        new_status = _status(values["status"]) if "status" in values else None
        transition = None
        if new_status is not None:
            values["status"] = new_status.value
            transition = conditions.OneOf(
                "status", tuple(sorted(s.value for s in predecessors(new_status)))
            )
        values["updatedAt"] = self.clock()
        try:
            return self.store.update(
                JOB,
                job_id,
                values,
                remove,
                conditions.both(user_condition, transition),
            )
        except ConditionNotMet as lost:
            if lost.current is None:
                raise NotFoundException(f"no Job with id {job_id!r}") from None
            if not conditions.matches(user_condition, lost.current):
                raise ConditionalCheckFailedException(
                    f"{CONDITION_FAILED}: job {job_id} did not match the condition "
                    f"(its status is {lost.current.get('status')!r})"
                ) from None
            # The user's condition held, so the transition is what failed.
            allowed = predecessors(new_status)
            raise ValidationError(
                f"job {job_id} cannot go from {lost.current.get('status')!r} to "
                f"{new_status.value!r}; only from {', '.join(sorted(allowed))}"
            ) from None

    def create_job_event(self, input: dict, condition: dict | None = None) -> dict:
        values = _present(input)
        job = self._existing_job(values["jobId"], "createJobEvent")
        values.setdefault("orgId", job["orgId"])
        _event_type(values["type"])
        _check_progress(values)
        if "data" in values:
            values["data"] = _json_value("data", values["data"])
        return self._create(JOB_EVENT, values, condition)

    def create_render_run(self, input: dict, condition: dict | None = None) -> dict:
        values = _present(input)
        self._existing_job(values["jobId"], "createRenderRun")
        return self._create(RENDER_RUN, values, condition)

    def create_generation_run(self, input: dict, condition: dict | None = None) -> dict:
        values = _present(input)
        for name in ("orgId", "videoId", "scriptArtifactKey", "timelineArtifactKey"):
            _non_empty(name, values.get(name))
        return self._create(GENERATION_RUN, values, condition)

    # Shared steps

    def _create(self, entity: Entity, values: dict, condition: dict | None) -> dict:
        missing = sorted(name for name in entity.required if values.get(name) is None)
        if missing:
            raise ValidationError(f"create{entity.name} is missing {', '.join(missing)}")
        now = self.clock()
        item = {
            **values,
            "id": values.get("id") or self.new_id(),
            "createdAt": now,
            "updatedAt": now,
        }
        try:
            self.store.create(entity, item, self._condition(entity, condition))
        except ConditionNotMet as lost:
            why = "exists already" if lost.current is not None else "did not match the condition"
            raise ConditionalCheckFailedException(
                f"{CONDITION_FAILED}: {entity.name} {item['id']} {why}"
            ) from None
        return item

    def _existing_job(self, job_id: str, field_name: str) -> dict:
        job = self.store.get(JOB, job_id)
        if job is None:
            raise NotFoundException(f"{field_name}: no Job with id {job_id!r}")
        return job

    def _condition(self, entity: Entity, condition: dict | None) -> conditions.Condition | None:
        try:
            return conditions.from_input(condition, entity.fields)
        except ConditionInputError as exc:
            raise ValidationError(f"invalid condition: {exc}") from None

    def _query(
        self,
        entity: Entity,
        index: str,
        key: str,
        sort_field: str | None,
        sort_condition: dict | None,
        sort_direction: str | None,
        limit: int | None,
        next_token: str | None,
    ) -> dict:
        limit = DEFAULT_PAGE_SIZE if limit is None else limit
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
        if sort_direction not in (None, "ASC", "DESC"):
            raise ValidationError(f"sortDirection must be ASC or DESC, got {sort_direction!r}")
        try:
            key_condition = (
                conditions.key_condition(sort_field, sort_condition) if sort_field else None
            )
            page = self.store.query(
                entity,
                index,
                key,
                sort_condition=key_condition,
                ascending=sort_direction != "DESC",
                limit=limit,
                next_token=next_token,
            )
        except (ConditionInputError, BadPageToken) as exc:
            raise ValidationError(str(exc)) from None
        return {"items": page.items, "nextToken": page.next_token}


def _present(values: dict) -> dict:
    return {name: value for name, value in values.items() if value is not None}


def _status(value: object) -> JobStatus:
    try:
        return parse_status(value)
    except ValueError as exc:
        raise ValidationError(f"invalid job status: {exc}") from None


def _event_type(value: object) -> None:
    if value not in ("status", "progress", "log"):
        raise ValidationError(f"invalid JobEvent type {value!r}; expected status, progress or log")


def _non_empty(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")


def _check_job_values(values: dict) -> None:
    if "inputJson" in values:
        values["inputJson"] = _json_value("inputJson", values["inputJson"])
    for name in ("retryCount", "maxRetries"):
        if name in values and values[name] < 0:
            raise ValidationError(f"{name} must be >= 0, got {values[name]}")
    for name in DATETIME_FIELDS & values.keys():
        _check_datetime(name, values[name])
    _check_progress(values)


def _check_progress(values: dict) -> None:
    progress = values.get("progress")
    if progress is not None and not 0 <= progress <= 1:
        raise ValidationError(f"progress is a fraction between 0 and 1, got {progress}")


def _json_value(name: str, value: Any) -> str:
    """An AWSJSON field as a JSON string. AppSync hands a Lambda AWSJSON arguments
    already parsed; the local server hands them as validated strings."""
    if not isinstance(value, str):
        return json.dumps(value)
    try:
        json.loads(value)
    except ValueError as exc:
        raise ValidationError(f"{name} must be a JSON string (AWSJSON): {exc}") from None
    return value


def _check_datetime(name: str, value: str) -> None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(
            f"{name} must be an AWSDateTime like 2026-01-31T12:00:00.000Z, got {value!r}"
        )
