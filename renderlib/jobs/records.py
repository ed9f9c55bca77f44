"""Typed records the JobsClient returns, built from the API's camelCase JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from renderlib.errors import BadInputError
from renderlib.jobs.status import JobStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    id: str
    org_id: str
    kind: str
    status: JobStatus
    input_json: str
    retry_count: int
    max_retries: int
    created_at: datetime
    updated_at: datetime
    claimed_by_agent_id: str | None = None
    execution_mode: str | None = None
    failure_reason: str | None = None
    task_arn: str | None = None
    heartbeat_at: datetime | None = None
    progress: float | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    chunk_count: int | None = None
    chunks_landed: str | None = None

    @property
    def chunked(self) -> bool:
        """Split into chunks, each run by its own tasks (the job's own task only planned)."""
        return bool(self.chunk_count)

    @property
    def chunks_done(self) -> int:
        return (self.chunks_landed or "").count("1")

    @property
    def attempt(self) -> int:
        """Which attempt this is, counting from 0: the number of retries so far."""
        return self.retry_count

    @property
    def input(self) -> dict:
        """The parsed inputJson; BadInputError when it is not a JSON object."""
        try:
            value = json.loads(self.input_json)
        except ValueError as exc:
            raise BadInputError(f"job {self.id}: inputJson is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise BadInputError(f"job {self.id}: inputJson must be a JSON object, got {value!r}")
        return value


@dataclass(frozen=True)
class RenderChunk:
    id: str
    job_id: str
    org_id: str
    index: int
    start_frame: int
    end_frame: int
    status: JobStatus
    retry_count: int
    max_retries: int
    created_at: datetime
    updated_at: datetime
    claimed_by_agent_id: str | None = None
    failure_reason: str | None = None
    task_arn: str | None = None
    heartbeat_at: datetime | None = None
    frames_done: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def name(self) -> str:
        """How messages name it: "chunk 3 (frames 120:160)"."""
        return f"chunk {self.index} (frames {self.start_frame}:{self.end_frame})"


@dataclass(frozen=True)
class JobEvent:
    id: str
    job_id: str
    type: str
    created_at: datetime
    updated_at: datetime
    org_id: str | None = None
    message: str | None = None
    progress: float | None = None
    data: str | None = None


@dataclass(frozen=True)
class RenderRun:
    id: str
    org_id: str
    video_id: str
    job_id: str
    status: str
    created_at: datetime
    updated_at: datetime
    generation_run_id: str | None = None
    mp4_artifact_key: str | None = None
    poster_artifact_key: str | None = None
    duration: float | None = None
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    render_seconds: float | None = None
    task_seconds: float | None = None
    estimated_cost_usd: float | None = None


@dataclass(frozen=True)
class GenerationRun:
    id: str
    org_id: str
    video_id: str
    script_artifact_key: str
    timeline_artifact_key: str
    created_at: datetime
    updated_at: datetime
    artifact_prefix: str | None = None
    audio_artifact_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def selection(record_type: type) -> str:
    """The GraphQL selection set naming every field of ``record_type``."""
    return " ".join(camel(f.name) for f in dataclasses.fields(record_type))


def from_api(record_type: type[T], data: dict[str, Any]) -> T:
    values = {}
    for name, value in data.items():
        key = snake(name)
        if value is None:
            continue
        if key.endswith("_at"):
            value = datetime.fromisoformat(value)
        elif key in ("input_json", "data") and not isinstance(value, str):
            value = json.dumps(value)
        elif key == "status" and record_type in (Job, RenderChunk):
            value = JobStatus(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    known = {f.name for f in dataclasses.fields(record_type)}
    return record_type(**{k: v for k, v in values.items() if k in known})
