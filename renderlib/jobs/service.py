"""The jobs API's logic, shared by the local server and the AppSync Lambda resolver.

Each GraphQL root field is one method taking the caller (renderlib/jobs/authorization.py)
and the field's arguments as plain data, and returning records as plain dicts (AWSJSON
fields as JSON strings). The service owns ids, timestamps, defaults, validation
(renderlib/jobs/fields.py) and status transitions, and asks the authorization model
before every read and write; conditions, including the org and status guards of an
update, are judged atomically by the store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from renderlib.errors import InvalidValueError
from renderlib.farm.storage import GENERATIONS_PREFIX, RENDERS_PREFIX
from renderlib.jobs import conditions
from renderlib.jobs import fields as f
from renderlib.jobs.api_errors import (
    ConditionalCheckFailedException,
    NotFoundException,
    ValidationError,
)
from renderlib.jobs.authorization import (
    RETRY,
    RETRY_CLEARS,
    Caller,
    Role,
    allowed_from,
    authorize,
    check_job_fields,
    listing_org,
    update_operation,
)
from renderlib.jobs.conditions import ConditionInputError
from renderlib.jobs.media_links import MediaLinks
from renderlib.jobs.models import (
    GENERATION_RUN,
    JOB,
    JOB_EVENT,
    RENDER_CHUNK,
    RENDER_RUN,
    Entity,
)
from renderlib.jobs.status import (
    FINISHED_STATUSES,
    INITIAL_STATUS,
    JobStatus,
    chunk_predecessors,
    parse_status,
)
from renderlib.jobs.store import BadPageToken, ConditionNotMet, Store

DEFAULT_MAX_RETRIES = 3
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DATETIME_FIELDS = frozenset({"heartbeatAt", "startedAt", "finishedAt"})
JOB_TOKENS = ("id", "orgId", "kind", "executionMode")
JOB_TEXTS = ("claimedByAgentId", "taskArn", "failureReason")
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
        links: MediaLinks | None = None,
    ) -> None:
        self.store = store
        self.links = links  # None: RenderRuns carry no mp4Url or posterUrl
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
            ("Query", "whoAmI"): self.who_am_i,
            ("Mutation", "createJob"): self.create_job,
            ("Mutation", "updateJob"): self.update_job,
            ("Mutation", "createJobEvent"): self.create_job_event,
            ("Mutation", "createRenderRun"): self.create_render_run,
            ("Mutation", "createGenerationRun"): self.create_generation_run,
            ("Query", "getRenderChunk"): self.get_render_chunk,
            ("Query", "listRenderChunkByJobIdAndCreatedAt"): self.list_render_chunks,
            ("Query", "listRenderChunkByStatusAndCreatedAt"): self.list_render_chunks_by_status,
            ("Mutation", "createRenderChunk"): self.create_render_chunk,
            ("Mutation", "updateRenderChunk"): self.update_render_chunk,
        }

    @property
    def fields(self) -> list[tuple[str, str]]:
        """Every (parent type, field name) the service resolves."""
        return list(self._fields)

    def resolve(self, parent_type: str, field_name: str, arguments: dict, caller: Caller) -> Any:
        try:
            method = self._fields[(parent_type, field_name)]
        except KeyError:
            raise ValidationError(f"the jobs API has no field {parent_type}.{field_name}") from None
        try:
            return method(caller, **arguments)
        except InvalidValueError as exc:
            raise ValidationError(str(exc)) from None

    # Queries

    def get_job(self, caller: Caller, id: str) -> dict | None:
        job = self.store.get(JOB, id)
        authorize(caller, "getJob", _org(job), f"job {id}")
        return job

    def list_jobs_by_status(
        self,
        caller: Caller,
        status: str,
        createdAt: dict | None = None,
        sortDirection: str | None = None,
        limit: int | None = None,
        nextToken: str | None = None,
    ) -> dict:
        org = listing_org(caller, "listJobByStatusAndCreatedAt")
        _status(status)
        return self._query(
            JOB, "byStatus", status, "createdAt", createdAt, sortDirection, limit, nextToken, org
        )

    def get_job_event(self, caller: Caller, id: str) -> dict | None:
        event = self.store.get(JOB_EVENT, id)
        if event is not None:
            org = event.get("orgId") or _org(self.store.get(JOB, event["jobId"]))
            authorize(caller, "getJobEvent", org, f"job event {id}")
        return event

    def list_job_events(
        self,
        caller: Caller,
        jobId: str,
        createdAt: dict | None = None,
        sortDirection: str | None = None,
        limit: int | None = None,
        nextToken: str | None = None,
    ) -> dict:
        org = self._job_listing_org(caller, "listJobEventByJobIdAndCreatedAt", jobId)
        return self._query(
            JOB_EVENT, "byJob", jobId, "createdAt", createdAt, sortDirection, limit, nextToken, org
        )

    def get_render_run(self, caller: Caller, id: str) -> dict | None:
        run = self.store.get(RENDER_RUN, id)
        authorize(caller, "getRenderRun", _org(run), f"render run {id}")
        return self._with_links(run)

    def list_render_runs(
        self, caller: Caller, jobId: str, limit: int | None = None, nextToken: str | None = None
    ) -> dict:
        org = self._job_listing_org(caller, "listRenderRunByJobId", jobId)
        page = self._query(RENDER_RUN, "byJob", jobId, None, None, None, limit, nextToken, org)
        return {**page, "items": [self._with_links(run) for run in page["items"]]}

    def get_generation_run(self, caller: Caller, id: str) -> dict | None:
        run = self.store.get(GENERATION_RUN, id)
        authorize(caller, "getGenerationRun", _org(run), f"generation run {id}")
        return run

    def who_am_i(self, caller: Caller) -> dict:
        authorize(caller, "whoAmI")
        return {"role": caller.role.value, "orgId": caller.org_id, "name": caller.name}

    def get_render_chunk(self, caller: Caller, id: str) -> dict | None:
        chunk = self.store.get(RENDER_CHUNK, id)
        authorize(caller, "getRenderChunk", _org(chunk), f"render chunk {id}")
        return chunk

    def list_render_chunks(
        self,
        caller: Caller,
        jobId: str,
        createdAt: dict | None = None,
        sortDirection: str | None = None,
        limit: int | None = None,
        nextToken: str | None = None,
    ) -> dict:
        org = self._job_listing_org(caller, "listRenderChunkByJobIdAndCreatedAt", jobId)
        return self._query(
            RENDER_CHUNK,
            "byJob",
            jobId,
            "createdAt",
            createdAt,
            sortDirection,
            limit,
            nextToken,
            org,
        )

    def list_render_chunks_by_status(
        self,
        caller: Caller,
        status: str,
        createdAt: dict | None = None,
        sortDirection: str | None = None,
        limit: int | None = None,
        nextToken: str | None = None,
    ) -> dict:
        org = listing_org(caller, "listRenderChunkByStatusAndCreatedAt")
        _status(status)
        return self._query(
            RENDER_CHUNK,
            "byStatus",
            status,
            "createdAt",
            createdAt,
            sortDirection,
            limit,
            nextToken,
            org,
        )

    # Mutations

    def create_job(self, caller: Caller, input: dict, condition: dict | None = None) -> dict:
        values = _present(input)
        check_job_fields(caller, "createJob", values.keys())
        _initial_status(values, "job")
        values.setdefault("retryCount", 0)
        values.setdefault("maxRetries", self.default_max_retries)
        _check_job_values(values)
        _require(JOB, values)
        authorize(caller, "createJob", values["orgId"], f"org {values['orgId']}'s job")
        self._check_run_of_org(values)
        return self._create(JOB, values, condition)

    def update_job(self, caller: Caller, input: dict, condition: dict | None = None) -> dict:
        job_id, values, remove = _update_of(JOB, "updateJob", input)
        new_status = _status(values["status"]) if "status" in values else None
        operation = update_operation(caller, new_status)
        authorize(caller, operation)
        check_job_fields(caller, operation, values.keys() | remove)
        _check_job_values(values)
        user_condition = self._condition(JOB, condition)
        if new_status is not None:
            values["status"] = new_status.value
        retried_at = None
        if operation == RETRY:
            remove |= RETRY_CLEARS
            retried_at = self._next_attempt(job_id, values)
        allowed = allowed_from(caller, new_status)
        guards = conditions.both(
            conditions.OneOf("status", tuple(sorted(s.value for s in allowed))),
            conditions.Compare("orgId", "eq", caller.org_id)
            if caller.role is Role.STUDIO
            else None,
            retried_at,
        )
        values["updatedAt"] = self.clock()
        try:
            return self.store.update(
                JOB, job_id, values, remove, conditions.both(user_condition, guards)
            )
        except ConditionNotMet as lost:
            raise self._update_refused(
                caller, operation, job_id, lost.current, user_condition, new_status, allowed
            ) from None

    def create_job_event(self, caller: Caller, input: dict, condition: dict | None = None) -> dict:
        authorize(caller, "createJobEvent")
        values = _present(input)
        _require(JOB_EVENT, values)
        job = self._existing_job(values["jobId"], "createJobEvent")
        values.setdefault("orgId", job["orgId"])
        _check_org_of_job(values, job, "JobEvent")
        _optional_token(values, "id")
        _event_type(values["type"])
        _check_progress(values)
        if "message" in values:
            f.check_text("message", values["message"])
        if "data" in values:
            values["data"] = _json_value("data", values["data"], f.MAX_EVENT_DATA_BYTES)
        return self._create(JOB_EVENT, values, condition)

    def create_render_run(self, caller: Caller, input: dict, condition: dict | None = None) -> dict:
        authorize(caller, "createRenderRun")
        values = _present(input)
        _require(RENDER_RUN, values)
        job = self._existing_job(values["jobId"], "createRenderRun")
        _check_org_of_job(values, job, "RenderRun")
        for name in ("id", "videoId", "generationRunId", "status"):
            _optional_token(values, name)
        folder = (RENDERS_PREFIX, job["orgId"], values["videoId"], job["id"])
        for name in ("mp4ArtifactKey", "posterArtifactKey"):
            if name in values:
                _check_key_in(name, values[name], folder)
        return self._create(RENDER_RUN, values, condition)

    def create_generation_run(
        self, caller: Caller, input: dict, condition: dict | None = None
    ) -> dict:
        values = _present(input)
        _require(GENERATION_RUN, values)
        for name in ("id", "orgId", "videoId"):
            _optional_token(values, name)
        org = values["orgId"]
        authorize(caller, "createGenerationRun", org, f"org {org}'s generation run")
        folder = (GENERATIONS_PREFIX, org)
        for name in ("scriptArtifactKey", "timelineArtifactKey"):
            _check_key_in(name, values[name], folder)
        for key in values.get("audioArtifactKeys", []):
            _check_key_in("audioArtifactKeys", key, folder)
        if "artifactPrefix" in values:
            _check_key_in("artifactPrefix", values["artifactPrefix"].rstrip("/"), folder)
        return self._create(GENERATION_RUN, values, condition)

    def create_render_chunk(
        self, caller: Caller, input: dict, condition: dict | None = None
    ) -> dict:
        authorize(caller, "createRenderChunk")
        values = _present(input)
        job = self._existing_job(values.get("jobId"), "createRenderChunk")
        _check_org_of_job(values, job, "RenderChunk")
        _initial_status(values, "chunk")
        values.setdefault("retryCount", 0)
        values.setdefault("maxRetries", job["maxRetries"])
        _optional_token(values, "id")
        _check_chunk_values(values)
        if not 0 <= values["startFrame"] < values["endFrame"] or values["index"] < 0:
            raise ValidationError(
                f"a chunk covers frames [startFrame, endFrame) with 0 <= startFrame < endFrame "
                f"and an index >= 0; got index {values['index']}, "
                f"frames {values['startFrame']}:{values['endFrame']}"
            )
        return self._create(RENDER_CHUNK, values, condition)

    def update_render_chunk(
        self, caller: Caller, input: dict, condition: dict | None = None
    ) -> dict:
        authorize(caller, "updateRenderChunk")
        chunk_id, values, remove = _update_of(RENDER_CHUNK, "updateRenderChunk", input)
        new_status = _status(values["status"]) if "status" in values else None
        if new_status is not None:
            values["status"] = new_status.value
        _check_chunk_values(values)
        user_condition = self._condition(RENDER_CHUNK, condition)
        allowed = chunk_predecessors(new_status)
        guard = conditions.OneOf("status", tuple(sorted(s.value for s in allowed)))
        values["updatedAt"] = self.clock()
        try:
            return self.store.update(
                RENDER_CHUNK, chunk_id, values, remove, conditions.both(user_condition, guard)
            )
        except ConditionNotMet as lost:
            if lost.current is None:
                raise NotFoundException(f"no RenderChunk with id {chunk_id!r}") from None
            status = lost.current.get("status")
            if not conditions.matches(user_condition, lost.current):
                raise ConditionalCheckFailedException(
                    f"{CONDITION_FAILED}: render chunk {chunk_id} did not match the condition "
                    f"(its status is {status!r})"
                ) from None
            target = "stay" if new_status is None else f"go to {new_status.value!r}"
            raise ValidationError(
                f"render chunk {chunk_id} is {status}: it cannot {target} from there"
            ) from None

    # Shared steps

    def _with_links(self, run: dict | None) -> dict | None:
        """A RenderRun the caller may read, with links to its files (media_links.py)."""
        if run is None or self.links is None:
            return run
        return self.links.run_links(run)

    def _create(self, entity: Entity, values: dict, condition: dict | None) -> dict:
        _require(entity, values)
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

    def _update_refused(
        self,
        caller: Caller,
        operation: str,
        job_id: str,
        current: dict | None,
        user_condition: conditions.Condition | None,
        new_status: JobStatus | None,
        allowed: frozenset[JobStatus],
    ) -> Exception:
        """Why an update's conditional write lost, judged on the job as it was."""
        if current is None:
            return NotFoundException(f"no Job with id {job_id!r}")
        authorize(caller, operation, current.get("orgId"), f"job {job_id}")
        status = current.get("status")
        if not conditions.matches(user_condition, current):
            return ConditionalCheckFailedException(
                f"{CONDITION_FAILED}: job {job_id} did not match the condition "
                f"(its status is {status!r})"
            )
        if status in FINISHED_STATUSES:
            return ValidationError(
                f"job {job_id} is {status}: a finished job changes only by a manual retry "
                "(failed -> queued)"
            )
        return ValidationError(
            f"job {job_id} cannot go from {status!r} to {new_status.value!r}; "
            f"{caller.name} may move it there only from {', '.join(sorted(allowed))}"
        )

    def _check_run_of_org(self, job: dict) -> None:
        """A job may name only a generation run of its own org (the worker checks again,
        for runs created after the job and jobs from APIs that do not check)."""
        run_id = _parsed_input(job["inputJson"]).get("generationRunId")
        run = self.store.get(GENERATION_RUN, run_id) if run_id else None
        if run is not None and run["orgId"] != job["orgId"]:
            raise ValidationError(
                f"inputJson names generation run {run_id}, which is not org {job['orgId']}'s"
            )

    def _next_attempt(self, job_id: str, values: dict) -> conditions.Condition | None:
        """A manual retry is a new attempt: without a new attempt number the launcher's
        client token (job id + attempt) would hand back the failed attempt's stopped task.
        Returns the guard that the count is still the one read (None: no such job)."""
        current = self.store.get(JOB, job_id)
        if current is None:
            return None
        count = current.get("retryCount", 0)
        values["retryCount"] = count + 1
        return conditions.Compare("retryCount", "eq", count)

    def _existing_job(self, job_id: str, field_name: str) -> dict:
        job = self.store.get(JOB, job_id)
        if job is None:
            raise NotFoundException(f"{field_name}: no Job with id {job_id!r}")
        return job

    def _job_listing_org(self, caller: Caller, operation: str, job_id: str) -> str | None:
        """The org a listing of a job's events or runs is limited to, after refusing a
        studio another org's job."""
        org = listing_org(caller, operation)
        if org is not None:
            authorize(caller, operation, _org(self.store.get(JOB, job_id)), f"job {job_id}")
        return org

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
        org: str | None,
    ) -> dict:
        """One page of an index; given ``org``, only that org's records (filtered after
        the page is read, as DynamoDB filters: a page may come back short)."""
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
                filter=None if org is None else conditions.Compare("orgId", "eq", org),
            )
        except (ConditionInputError, BadPageToken) as exc:
            raise ValidationError(str(exc)) from None
        return {"items": page.items, "nextToken": page.next_token}


def _require(entity: Entity, values: dict) -> None:
    missing = sorted(name for name in entity.required if values.get(name) is None)
    if missing:
        raise ValidationError(f"create{entity.name} is missing {', '.join(missing)}")


def _initial_status(values: dict, kind: str) -> None:
    """A new job's or chunk's status: the initial one (the default), no other."""
    status = _status(values.get("status", INITIAL_STATUS.value))
    if status != INITIAL_STATUS:
        raise ValidationError(
            f"a {kind} is created with status {INITIAL_STATUS.value!r}, not {status.value!r}"
        )
    values["status"] = status.value


def _check_org_of_job(values: dict, job: dict, kind: str) -> None:
    """A record of a job (event, run, chunk) belongs to the job's org."""
    if values.get("orgId") != job["orgId"]:
        raise ValidationError(
            f"a {kind}'s orgId is its job's ({job['orgId']}), not {values.get('orgId')!r}"
        )


def _update_of(entity: Entity, operation: str, input: dict) -> tuple[str, dict, frozenset]:
    """An update's (id, fields to set, fields to remove: those given as null); a required
    field given as null is refused."""
    values = dict(input)
    record_id = values.pop("id")
    remove = frozenset(name for name, value in values.items() if value is None)
    required_removed = sorted(remove & entity.required)
    if required_removed:
        raise ValidationError(
            f"{operation} cannot set required fields to null: {', '.join(required_removed)}"
        )
    return record_id, _present(values), remove


def _org(record: dict | None) -> str | None:
    return None if record is None else record.get("orgId")


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


def _optional_token(values: dict, name: str) -> None:
    if name in values:
        f.check_token(name, values[name])


def _check_key_in(name: str, key: object, folder: tuple[str, ...]) -> None:
    f.check_key(name, key)
    if not f.key_in(key, *folder):
        raise ValidationError(f"{name} {key!r} is not under {'/'.join(folder)}/")


def _check_job_values(values: dict) -> None:
    for name in JOB_TOKENS:
        _optional_token(values, name)
    for name in JOB_TEXTS:
        if name in values:
            f.check_text(name, values[name])
    if "inputJson" in values:
        values["inputJson"] = _json_value("inputJson", values["inputJson"], f.MAX_INPUT_JSON_BYTES)
        _check_input_ids(_parsed_input(values["inputJson"]))
    if values.get("retryCount", 0) < 0:
        raise ValidationError(f"retryCount must be >= 0, got {values['retryCount']}")
    if not 0 <= values.get("maxRetries", 0) <= f.MAX_RETRIES_LIMIT:
        raise ValidationError(
            f"maxRetries must be between 0 and {f.MAX_RETRIES_LIMIT}, got {values['maxRetries']}"
        )
    for name in DATETIME_FIELDS & values.keys():
        _check_datetime(name, values[name])
    _check_progress(values)


def _check_chunk_values(values: dict) -> None:
    for name in ("claimedByAgentId", "taskArn", "failureReason"):
        if name in values:
            f.check_text(name, values[name])
    for name in ("retryCount", "framesDone", "index", "startFrame", "endFrame"):
        if values.get(name, 0) < 0:
            raise ValidationError(f"{name} must be >= 0, got {values[name]}")
    if not 0 <= values.get("maxRetries", 0) <= f.MAX_RETRIES_LIMIT:
        raise ValidationError(
            f"maxRetries must be between 0 and {f.MAX_RETRIES_LIMIT}, got {values['maxRetries']}"
        )
    for name in DATETIME_FIELDS & values.keys():
        _check_datetime(name, values[name])


def _parsed_input(input_json: str) -> dict:
    """The job's input as an object ({} when it is not one: the worker fails such a job)."""
    value = json.loads(input_json)
    return value if isinstance(value, dict) else {}


def _check_input_ids(data: dict) -> None:
    for name in ("generationRunId", "videoId"):
        if name in data:
            f.check_token(f"inputJson.{name}", data[name])


def _check_progress(values: dict) -> None:
    progress = values.get("progress")
    if progress is not None and not 0 <= progress <= 1:
        raise ValidationError(f"progress is a fraction between 0 and 1, got {progress}")


def _json_value(name: str, value: Any, limit: int) -> str:
    """An AWSJSON field as a JSON string of at most ``limit`` bytes. AppSync hands a
    Lambda AWSJSON arguments already parsed; the local server hands them as validated
    strings."""
    if not isinstance(value, str):
        value = json.dumps(value)
    size = len(value.encode())
    if size > limit:
        raise ValidationError(f"{name} is {size} bytes; the jobs API takes at most {limit}")
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
