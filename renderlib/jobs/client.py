"""JobsClient: the farm's client of the jobs API (AppSync or the local server), on gql.

Every state change is a conditional ``updateJob``: a lost condition raises
ClaimLostError and is never retried. Transport failures (connection errors, HTTP
429/5xx) are retried with exponential backoff; when a retried request then loses
its condition, the client checks whether its own first attempt got through and, if
so, returns that result instead of a false ClaimLostError. Creates use ids chosen
here, so a retried create cannot make a second record.

One JobsClient may be shared by threads: each thread gets its own HTTP session.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import requests
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.requests import RequestsHTTPTransport
from graphql import DocumentNode, parse

from renderlib.errors import (
    ClaimLostError,
    GenerationRunNotFoundError,
    JobNotFoundError,
    JobsApiError,
    JobsUnavailableError,
    NotAuthorizedError,
)
from renderlib.jobs import auth as jobs_auth
from renderlib.jobs import operations as ops
from renderlib.jobs.chunk_client import ChunkCalls
from renderlib.jobs.fields import clip_text
from renderlib.jobs.records import (
    GenerationRun,
    Job,
    JobEvent,
    Page,
    RenderChunk,
    RenderRun,
    from_api,
)
from renderlib.jobs.service import utc_now
from renderlib.jobs.status import JobStatus

DEFAULT_API_URL = "http://127.0.0.1:4000/graphql"
RETRY_STATUS_CODES = frozenset({429, 500, 502, 503, 504})
# RenderRun ids derive from the job id, so one job can only ever have one RenderRun.
RENDER_RUN_NAMESPACE = uuid.UUID("6f1d3b52-8f0e-4c47-9a43-6a5c1f0e2b7d")
CONDITION_ERROR_TYPE = "ConditionalCheckFailedException"
UNAUTHORIZED_ERROR_TYPE = "UnauthorizedException"


@dataclass
class _Answer:
    data: dict | None
    errors: list[dict] = field(default_factory=list)
    retried: bool = False


class JobsClient(ChunkCalls):
    def __init__(
        self,
        url: str = DEFAULT_API_URL,
        auth: requests.auth.AuthBase | None = None,
        *,
        timeout: float = 30,
        retries: int = 4,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.url = url
        self.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._local = threading.local()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> JobsClient:
        """A client configured by JOBS_API_URL, JOBS_API_AUTH (none|api_key|iam|cognito),
        JOBS_API_KEY or JOBS_API_KEY_SECRET_ARN, WORKER_CREDENTIALS or
        WORKER_CREDENTIALS_SECRET_ID, COGNITO_CLIENT_ID and AWS_REGION."""
        env = os.environ if env is None else env
        url = env.get("JOBS_API_URL") or DEFAULT_API_URL
        return cls(url, auth_from_env(env, url), **options)

    # Jobs

    def create_job(
        self,
        org_id: str,
        input: Mapping[str, Any],
        *,
        kind: str = "render",
        max_retries: int | None = None,
        execution_mode: str | None = None,
        job_id: str | None = None,
    ) -> Job:
        job_id = job_id or str(uuid.uuid4())
        values = {
            "id": job_id,
            "orgId": org_id,
            "kind": kind,
            "status": "queued",
            "inputJson": json.dumps(dict(input)),
            "maxRetries": max_retries,
            "executionMode": execution_mode,
        }
        answer = self._call(ops.CREATE_JOB, {"input": _present(values)})
        return self._created(answer, "createJob", Job, lambda: self.get_job(job_id))

    def get_job(self, job_id: str) -> Job:
        data = self._data(ops.GET_JOB, {"id": job_id})["getJob"]
        if data is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return from_api(Job, data)

    def list_jobs(
        self,
        status: JobStatus | str,
        *,
        limit: int = 100,
        next_token: str | None = None,
        oldest_first: bool = True,
    ) -> Page[Job]:
        """One page of the jobs in ``status``, by creation time (the byStatus index)."""
        data = self._data(
            ops.LIST_JOBS,
            {
                "status": str(status),
                "limit": limit,
                "nextToken": next_token,
                "sortDirection": "ASC" if oldest_first else "DESC",
            },
        )["listJobByStatusAndCreatedAt"]
        return Page([from_api(Job, item) for item in data["items"] if item], data["nextToken"])

    def iter_jobs(
        self, status: JobStatus | str, *, oldest_first: bool = True, page_size: int = 100
    ) -> Iterator[Job]:
        token = None
        while True:
            page = self.list_jobs(
                status, limit=page_size, next_token=token, oldest_first=oldest_first
            )
            yield from page.items
            token = page.next_token
            if token is None:
                return

    def list_queued_render_jobs(self, limit: int = 100) -> list[Job]:
        """Up to ``limit`` queued jobs of kind ``render``, oldest first."""
        jobs = []
        for job in self.iter_jobs(JobStatus.QUEUED, page_size=min(max(limit, 1), 100)):
            if job.kind == "render":
                jobs.append(job)
                if len(jobs) >= limit:
                    break
        return jobs

    def cancel(self, job_id: str) -> Job:
        """-> canceled: a studio stops its own job that has not finished (its worker, if
        one runs it, stops at its next heartbeat)."""
        return self._update(job_id, {"status": "canceled"}, {})

    def claim(self, job_id: str, agent_id: str) -> Job:
        """queued -> claimed by ``agent_id``; ClaimLostError if the job was not queued."""
        return self._update(
            job_id,
            {"status": "claimed", "claimedByAgentId": agent_id},
            {"status": {"eq": "queued"}},
        )

    def set_task_arn(self, job_id: str, task_arn: str, *, agent_id: str | None = None) -> Job:
        """Record the ECS task running a claimed (or already running) job."""
        condition: dict[str, Any] = {
            "or": [{"status": {"eq": "claimed"}}, {"status": {"eq": "running"}}]
        }
        if agent_id is not None:
            condition["claimedByAgentId"] = {"eq": agent_id}
        return self._update(job_id, {"taskArn": task_arn}, condition)

    def mark_running(self, job_id: str, *, attempt: int | None = None) -> Job:
        """claimed -> running (and, given ``attempt``, only if it is still that attempt)."""
        now = utc_now()
        job = self._update(
            job_id,
            {"status": "running", "startedAt": now, "heartbeatAt": now, "progress": 0.0},
            _with_attempt({"status": {"eq": "claimed"}}, attempt),
        )
        self.add_event(job_id, "status", f"running (attempt {job.attempt})", org_id=job.org_id)
        return job

    def heartbeat(
        self,
        job_id: str,
        progress: float | None = None,
        message: str | None = None,
        *,
        attempt: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Job:
        """Refresh the running job's heartbeat (and progress, 0..1); with a message or
        progress also add a progress event (carrying ``data``, such as the frames done).
        ClaimLostError: the job is no longer this worker's to run (requeued, canceled):
        stop."""
        values: dict[str, Any] = {"heartbeatAt": utc_now()}
        if progress is not None:
            values["progress"] = progress
        job = self._update(job_id, values, _with_attempt({"status": {"eq": "running"}}, attempt))
        if message is not None or progress is not None:
            self.add_event(
                job_id, "progress", message, progress=progress, data=data, org_id=job.org_id
            )
        return job

    def requeue(
        self,
        job_id: str,
        reason: str,
        *,
        expected_status: JobStatus | str | None = None,
        count_retry: bool = True,
        attempt: int | None = None,
    ) -> Job:
        """Back to queued (retryCount + 1 unless ``count_retry`` is False), conditional on
        the job still being in ``expected_status`` (default: the status read now) at
        the same retry count (given ``attempt``: at that one). The reason is kept in
        failureReason and in a status event."""
        job = self._get_attempt(job_id, attempt)
        return self._requeue(job, reason, expected_status, count_retry)

    def retry_or_fail(
        self,
        job_id: str,
        reason: str,
        *,
        expected_status: JobStatus | str | None = None,
        attempt: int | None = None,
    ) -> Job:
        """requeue while retryCount < maxRetries, else fail: the one retry policy. Given
        ``attempt``, only while the job is still at that attempt (a late report about an
        earlier attempt's task cannot touch the next one)."""
        job = self._get_attempt(job_id, attempt)
        if job.retry_count < job.max_retries:
            return self._requeue(job, reason, expected_status, True)
        return self._fail(
            job, f"{reason} (gave up after {job.retry_count + 1} attempts)", expected_status
        )

    def succeed(self, job_id: str, *, attempt: int | None = None) -> Job:
        """running -> succeeded."""
        job = self._update(
            job_id,
            {
                "status": "succeeded",
                "finishedAt": utc_now(),
                "progress": 1.0,
                "failureReason": None,
            },
            _with_attempt({"status": {"eq": "running"}}, attempt),
        )
        self.add_event(job_id, "status", "succeeded", org_id=job.org_id)
        return job

    def fail(
        self,
        job_id: str,
        reason: str,
        *,
        expected_status: JobStatus | str | None = None,
        attempt: int | None = None,
    ) -> Job:
        """-> failed with ``reason``, conditional on the status (default: as read now)
        and the retry count (given ``attempt``: that one)."""
        return self._fail(self._get_attempt(job_id, attempt), reason, expected_status)

    # Events

    def add_event(
        self,
        job_id: str,
        type: str,
        message: str | None = None,
        *,
        progress: float | None = None,
        data: Mapping[str, Any] | None = None,
        org_id: str | None = None,
    ) -> JobEvent:
        event_id = str(uuid.uuid4())
        values = {
            "id": event_id,
            "jobId": job_id,
            "type": type,
            "message": None if message is None else clip_text(message),
            "progress": progress,
            "orgId": org_id,
            "data": None if data is None else json.dumps(dict(data)),
        }
        answer = self._call(ops.CREATE_EVENT, {"input": _present(values)})
        return self._created(
            answer,
            "createJobEvent",
            JobEvent,
            lambda: self._get(ops.GET_EVENT, "getJobEvent", JobEvent, event_id),
        )

    def list_events(self, job_id: str, *, newest_first: bool = False) -> list[JobEvent]:
        events, token = [], None
        while True:
            data = self._data(
                ops.LIST_EVENTS,
                {
                    "jobId": job_id,
                    "limit": 1000,
                    "nextToken": token,
                    "sortDirection": "DESC" if newest_first else "ASC",
                },
            )["listJobEventByJobIdAndCreatedAt"]
            events.extend(from_api(JobEvent, item) for item in data["items"] if item)
            token = data["nextToken"]
            if token is None:
                return events

    # Render runs and generation runs

    def create_render_run(
        self,
        job_id: str,
        *,
        org_id: str,
        video_id: str,
        status: str = "succeeded",
        generation_run_id: str | None = None,
        mp4_artifact_key: str | None = None,
        poster_artifact_key: str | None = None,
        duration: float | None = None,
        frames: int | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        render_seconds: float | None = None,
        task_seconds: float | None = None,
        estimated_cost_usd: float | None = None,
    ) -> RenderRun:
        """The job's RenderRun; if one exists already (an earlier attempt made it),
        that one is returned and nothing new is stored."""
        run_id = render_run_id(job_id)
        values = {
            "id": run_id,
            "jobId": job_id,
            "orgId": org_id,
            "videoId": video_id,
            "status": status,
            "generationRunId": generation_run_id,
            "mp4ArtifactKey": mp4_artifact_key,
            "posterArtifactKey": poster_artifact_key,
            "duration": duration,
            "frames": frames,
            "width": width,
            "height": height,
            "fps": fps,
            "renderSeconds": render_seconds,
            "taskSeconds": task_seconds,
            "estimatedCostUsd": estimated_cost_usd,
        }
        answer = self._call(ops.CREATE_RENDER_RUN, {"input": _present(values)})
        if answer.errors and _error_type(answer.errors) == CONDITION_ERROR_TYPE:
            return self.get_render_run(run_id)
        return self._created(
            answer, "createRenderRun", RenderRun, lambda: self.get_render_run(run_id)
        )

    def get_render_run(self, run_id: str) -> RenderRun:
        run = self._get(ops.GET_RENDER_RUN, "getRenderRun", RenderRun, run_id)
        if run is None:
            raise JobsApiError(f"no RenderRun with id {run_id!r}")
        return run

    def list_render_runs(self, job_id: str) -> list[RenderRun]:
        data = self._data(ops.LIST_RENDER_RUNS, {"jobId": job_id, "limit": 100})
        return [from_api(RenderRun, item) for item in data["listRenderRunByJobId"]["items"]]

    def get_generation_run(self, run_id: str) -> GenerationRun:
        run = self._get(ops.GET_GENERATION_RUN, "getGenerationRun", GenerationRun, run_id)
        if run is None:
            raise GenerationRunNotFoundError(f"no generation run with id {run_id!r}")
        return run

    def create_generation_run(
        self,
        org_id: str,
        video_id: str,
        script_artifact_key: str,
        timeline_artifact_key: str,
        audio_artifact_keys: list[str] | tuple[str, ...] = (),
        *,
        artifact_prefix: str | None = None,
        run_id: str | None = None,
    ) -> GenerationRun:
        run_id = run_id or str(uuid.uuid4())
        values = {
            "id": run_id,
            "orgId": org_id,
            "videoId": video_id,
            "scriptArtifactKey": script_artifact_key,
            "timelineArtifactKey": timeline_artifact_key,
            "audioArtifactKeys": list(audio_artifact_keys),
            "artifactPrefix": artifact_prefix,
        }
        answer = self._call(ops.CREATE_GENERATION_RUN, {"input": _present(values)})
        return self._created(
            answer, "createGenerationRun", GenerationRun, lambda: self.get_generation_run(run_id)
        )

    # Low level

    def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict:
        """Run any GraphQL document; the data, or the mapped JobsApiError."""
        return self._data(document, dict(variables or {}))

    def _get_attempt(self, job_id: str, attempt: int | None) -> Job:
        """The job as read now; ClaimLostError if it has moved past ``attempt``. The
        update that follows is conditional on this read's retryCount, so the check holds."""
        job = self.get_job(job_id)
        if attempt is not None and job.retry_count != attempt:
            raise ClaimLostError(
                f"job {job_id} is at attempt {job.retry_count}, not {attempt}",
                CONDITION_ERROR_TYPE,
            )
        return job

    def _requeue(
        self, job: Job, reason: str, expected_status: JobStatus | str | None, count_retry: bool
    ) -> Job:
        retry_count = job.retry_count + 1 if count_retry else job.retry_count
        reason = clip_text(reason)
        requeued = self._update(
            job.id,
            {
                "status": "queued",
                "retryCount": retry_count,
                "failureReason": reason,
                "claimedByAgentId": None,
                "taskArn": None,
                "heartbeatAt": None,
                "startedAt": None,
                "progress": None,
            },
            _with_attempt({"status": {"eq": str(expected_status or job.status)}}, job.retry_count),
        )
        self.add_event(
            job.id, "status", f"requeued (retry {retry_count}): {reason}", org_id=job.org_id
        )
        return requeued

    def _fail(self, job: Job, reason: str, expected_status: JobStatus | str | None) -> Job:
        reason = clip_text(reason)
        failed = self._update(
            job.id,
            {"status": "failed", "failureReason": reason, "finishedAt": utc_now()},
            _with_attempt({"status": {"eq": str(expected_status or job.status)}}, job.retry_count),
        )
        self.add_event(job.id, "status", f"failed: {reason}", org_id=job.org_id)
        return failed

    def _update(self, job_id: str, values: dict, condition: dict) -> Job:
        return self._update_record(Job, job_id, values, condition)

    def _update_record(self, record_type: type, record_id: str, values: dict, condition: dict):
        """A conditional update of a Job or a RenderChunk."""
        update, get = _UPDATES[record_type]
        answer = self._call(update, {"input": {"id": record_id, **values}, "condition": condition})
        field_name = _root_field(update)
        if answer.errors:
            error = _api_error(answer.errors)
            if isinstance(error, ClaimLostError) and answer.retried:
                # Our first attempt may have been applied before the connection failed.
                current = self._data(get, {"id": record_id})[_root_field(get)]
                if current and all(current.get(k) == v for k, v in values.items()):
                    return from_api(record_type, current)
            raise error
        return from_api(record_type, answer.data[field_name])

    def _created(self, answer: _Answer, field_name: str, record_type: type, existing):
        if answer.errors:
            error = _api_error(answer.errors)
            if isinstance(error, ClaimLostError) and answer.retried:
                return existing()  # our first attempt created it
            raise error
        return from_api(record_type, answer.data[field_name])

    def _get(self, document: str, field_name: str, record_type: type, record_id: str):
        data = self._data(document, {"id": record_id})[field_name]
        return None if data is None else from_api(record_type, data)

    def _data(self, document: str, variables: dict) -> dict:
        answer = self._call(document, variables)
        if answer.errors:
            raise _api_error(answer.errors)
        return answer.data

    def _call(self, document: str, variables: dict) -> _Answer:
        request = GraphQLRequest(_parsed(document), variable_values=variables)
        attempt = 0
        reauthenticated = False
        while True:
            try:
                data = self._session().execute(request)
                return _Answer(data, retried=attempt > 0)
            except TransportQueryError as exc:
                errors = list(exc.errors or [])
                if _error_type(errors) == UNAUTHORIZED_ERROR_TYPE and self._reauthenticate(
                    reauthenticated
                ):
                    reauthenticated = True
                    continue
                return _Answer(exc.data, errors, retried=attempt > 0)
            except TransportServerError as exc:
                if exc.code in (401, 403) and self._reauthenticate(reauthenticated):
                    reauthenticated = True
                    continue
                if exc.code in (401, 403):
                    raise NotAuthorizedError(
                        f"jobs API at {self.url} refused the caller: {exc}", str(exc.code)
                    ) from None
                if exc.code not in RETRY_STATUS_CODES:
                    raise JobsApiError(
                        f"jobs API at {self.url} refused the request: {exc}", str(exc.code)
                    ) from None
                failure: Exception = exc
            except (TransportConnectionFailed, TransportProtocolError) as exc:
                failure = exc
            if attempt >= self.retries:
                raise JobsUnavailableError(
                    f"jobs API at {self.url} unreachable after {attempt + 1} attempts: {failure}"
                )
            time.sleep(self.backoff_seconds * 2**attempt * random.uniform(0.5, 1.0))
            attempt += 1

    def _reauthenticate(self, already: bool) -> bool:
        """Once per request, let an auth with expiring tokens (Cognito) renew them."""
        if already or not hasattr(self.auth, "invalidate"):
            return False
        self.auth.invalidate()
        return True

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            transport = RequestsHTTPTransport(
                url=self.url, auth=self.auth, timeout=self.timeout, retries=0
            )
            session = Client(transport=transport).connect_sync()
            self._local.session = session
        return session


def auth_from_env(env: Mapping[str, str], url: str) -> requests.auth.AuthBase | None:
    mode = env.get("JOBS_API_AUTH") or "none"
    if mode == "none":
        return None
    if mode == "api_key":
        return jobs_auth.ApiKeyAuth(jobs_auth.api_key(env))
    if mode == "iam":
        return jobs_auth.SigV4Auth(jobs_auth.aws_region(env, url))
    if mode == "cognito":
        import boto3

        credentials = jobs_auth.worker_credentials(env)
        client_id = credentials.get("clientId") or env.get("COGNITO_CLIENT_ID")
        if not client_id:
            raise JobsApiError("JOBS_API_AUTH=cognito needs COGNITO_CLIENT_ID")
        cognito = boto3.client("cognito-idp", region_name=jobs_auth.aws_region(env, url))
        return jobs_auth.CognitoAuth(
            credentials["username"], credentials["password"], client_id, cognito
        )
    raise JobsApiError(f"JOBS_API_AUTH={mode!r} is not one of {', '.join(jobs_auth.AUTH_MODES)}")


_UPDATES = {
    Job: (ops.UPDATE_JOB, ops.GET_JOB),
    RenderChunk: (ops.UPDATE_RENDER_CHUNK, ops.GET_RENDER_CHUNK),
}


def _root_field(document: str) -> str:
    """The one root field a document of renderlib/jobs/operations.py selects."""
    operation = _parsed(document).definitions[0]
    return operation.selection_set.selections[0].name.value


def render_run_id(job_id: str) -> str:
    return str(uuid.uuid5(RENDER_RUN_NAMESPACE, job_id))


@lru_cache(maxsize=64)
def _parsed(document: str) -> DocumentNode:
    return parse(document)


def _present(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def _with_attempt(condition: dict, attempt: int | None) -> dict:
    if attempt is not None:
        condition["retryCount"] = {"eq": attempt}
    return condition


def _error_type(errors: list[dict]) -> str | None:
    first = errors[0] if errors else {}
    error_type = first.get("errorType") or (first.get("extensions") or {}).get("errorType")
    message = str(first.get("message") or "")
    # A Lambda resolver's error may reach the client as "Lambda:Unhandled" with the
    # condition failure only in the message.
    if CONDITION_ERROR_TYPE in message or "conditional request failed" in message.lower():
        return CONDITION_ERROR_TYPE
    return error_type


def _api_error(errors: list[dict]) -> JobsApiError:
    error_type = _error_type(errors)
    message = "; ".join(str(e.get("message")) for e in errors)
    if error_type == CONDITION_ERROR_TYPE:
        return ClaimLostError(message, error_type)
    if error_type == "NotFoundException":
        return JobNotFoundError(message, error_type)
    if error_type == UNAUTHORIZED_ERROR_TYPE:
        return NotAuthorizedError(f"jobs API error ({error_type}): {message}", error_type)
    return JobsApiError(f"jobs API error ({error_type}): {message}", error_type)
