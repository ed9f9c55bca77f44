"""The JobsClient's calls about a chunked render job's chunks (docs/farm.md, "Chunked renders").

A chunk moves through the job statuses as a job does, under the same rules: every state
change is a conditional ``updateRenderChunk`` at the attempt (retryCount) it is about,
and a lost condition raises ClaimLostError. The job counts its landed chunks in
``chunksLanded`` (a "1" at each landed chunk's index), set by compare-and-set: landing
the same chunk twice counts it once, and exactly one landing sees the count reach the
total.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

from renderlib.errors import ClaimLostError, JobNotFoundError, JobsApiError
from renderlib.jobs import operations as ops
from renderlib.jobs.fields import clip_text
from renderlib.jobs.records import Job, RenderChunk, from_api
from renderlib.jobs.service import utc_now
from renderlib.jobs.status import JobStatus

if TYPE_CHECKING:
    from renderlib.jobs.client import _Answer

# Chunk ids derive from the job id and the index: a re-planned job finds its chunks.
CHUNK_NAMESPACE = uuid.UUID("2c9a4b1e-7d3f-4e8a-b6c5-0f1e2d3c4b5a")


def chunk_id(job_id: str, index: int) -> str:
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{job_id}:{index}"))


class ChunkCalls:
    """Mixed into JobsClient, whose request machinery (``_call``, ``_data``,
    ``_update_record``, ``_update``, ``add_event``, ``get_job``) it uses."""

    # Planning and landing (on the job)

    def plan_chunks(
        self, job: Job, ranges: list[tuple[int, int]], *, attempt: int
    ) -> list[RenderChunk]:
        """Make the job's chunks (those an earlier attempt made are kept as they are, a
        failed or canceled one not yet landed queued again) and record how many there
        are, on the job still running at ``attempt``."""
        if job.chunk_count not in (None, len(ranges)):
            raise JobsApiError(
                f"job {job.id} was split into {job.chunk_count} chunks before, "
                f"now into {len(ranges)}: its input or its composition changed"
            )
        chunks = []
        landed = job.chunks_landed or "0" * len(ranges)
        for index, (start, end) in enumerate(ranges):
            chunk = self._create_chunk(job, index, start, end)
            if chunk.status in (JobStatus.FAILED, JobStatus.CANCELED) and landed[index] == "0":
                chunk = self._update_chunk(
                    chunk.id,
                    {"status": "queued", "retryCount": 0, **_CLEARED},
                    {"status": {"eq": str(chunk.status)}},
                )
            chunks.append(chunk)
        self._update(
            job.id,
            {"chunkCount": len(ranges), "chunksLanded": landed},
            {"status": {"eq": "running"}, "retryCount": {"eq": attempt}},
        )
        return chunks

    def land_chunk(self, job_id: str, index: int) -> tuple[Job, bool]:
        """Count chunk ``index`` as landed on the running job: (the job after, whether this
        call counted it). ClaimLostError once the job is no longer running."""
        while True:
            job = self.get_job(job_id)
            landed = job.chunks_landed or ""
            if job.status != JobStatus.RUNNING or not 0 <= index < len(landed):
                raise ClaimLostError(
                    f"job {job_id} is {job.status}, not running with chunk {index}",
                    "ConditionalCheckFailedException",
                )
            if landed[index] == "1":
                return job, False
            marked = landed[:index] + "1" + landed[index + 1 :]
            try:
                return self._update(
                    job_id,
                    {"chunksLanded": marked},
                    {"status": {"eq": "running"}, "chunksLanded": {"eq": landed}},
                ), True
            except ClaimLostError:
                continue  # another chunk landed meanwhile: read the count again

    def set_job_progress(self, job_id: str, progress: float) -> Job:
        """The split job's progress over all its chunks (0..1), while it runs."""
        return self._update(job_id, {"progress": progress}, {"status": {"eq": "running"}})

    # Reading

    def get_chunk(self, chunk_id: str) -> RenderChunk:
        data = self._data(ops.GET_RENDER_CHUNK, {"id": chunk_id})["getRenderChunk"]
        if data is None:
            raise JobNotFoundError(f"no render chunk with id {chunk_id!r}")
        return from_api(RenderChunk, data)

    def list_chunks(self, job_id: str) -> list[RenderChunk]:
        """The job's chunks in frame order (the byJob index)."""
        chunks, token = [], None
        while True:
            data = self._data(
                ops.LIST_RENDER_CHUNKS, {"jobId": job_id, "limit": 1000, "nextToken": token}
            )["listRenderChunkByJobIdAndCreatedAt"]
            chunks.extend(from_api(RenderChunk, item) for item in data["items"] if item)
            token = data["nextToken"]
            if token is None:
                return sorted(chunks, key=lambda chunk: chunk.index)

    def iter_chunks(
        self, status: JobStatus | str, *, page_size: int = 100
    ) -> Iterator[RenderChunk]:
        """Every job's chunks in ``status``, oldest first (the byStatus index)."""
        token = None
        while True:
            data = self._data(
                ops.LIST_RENDER_CHUNKS_BY_STATUS,
                {"status": str(status), "limit": page_size, "nextToken": token},
            )["listRenderChunkByStatusAndCreatedAt"]
            yield from (from_api(RenderChunk, item) for item in data["items"] if item)
            token = data["nextToken"]
            if token is None:
                return

    # A chunk attempt's life, as a job's

    def claim_chunk(self, chunk_id: str, agent_id: str) -> RenderChunk:
        return self._update_chunk(
            chunk_id,
            {"status": "claimed", "claimedByAgentId": agent_id},
            {"status": {"eq": "queued"}},
        )

    def set_chunk_task_arn(self, chunk_id: str, task_arn: str, *, agent_id: str) -> RenderChunk:
        return self._update_chunk(
            chunk_id,
            {"taskArn": task_arn},
            {
                "or": [{"status": {"eq": "claimed"}}, {"status": {"eq": "running"}}],
                "claimedByAgentId": {"eq": agent_id},
            },
        )

    def mark_chunk_running(self, chunk_id: str, *, attempt: int) -> RenderChunk:
        now = utc_now()
        return self._update_chunk(
            chunk_id,
            {"status": "running", "startedAt": now, "heartbeatAt": now, "framesDone": 0},
            {"status": {"eq": "claimed"}, "retryCount": {"eq": attempt}},
        )

    def chunk_heartbeat(self, chunk_id: str, frames_done: int, *, attempt: int) -> RenderChunk:
        return self._update_chunk(
            chunk_id,
            {"heartbeatAt": utc_now(), "framesDone": frames_done},
            {"status": {"eq": "running"}, "retryCount": {"eq": attempt}},
        )

    def succeed_chunk(self, chunk: RenderChunk, *, attempt: int) -> RenderChunk:
        return self._update_chunk(
            chunk.id,
            {"status": "succeeded", "finishedAt": utc_now(), "framesDone": chunk.frames},
            {"status": {"eq": "running"}, "retryCount": {"eq": attempt}},
        )

    def cancel_chunk(self, chunk: RenderChunk) -> RenderChunk:
        """-> canceled, conditional on the chunk as read (its job stopped)."""
        return self._update_chunk(
            chunk.id, {"status": "canceled", "finishedAt": utc_now()}, _as_read(chunk)
        )

    def requeue_chunk(
        self, chunk: RenderChunk, reason: str, *, count_retry: bool = True
    ) -> RenderChunk:
        """Back to queued (retryCount + 1 unless ``count_retry`` is False, which keeps the
        launch's client token), conditional on the chunk as read; the job is told in a
        status event."""
        retry_count = chunk.retry_count + (1 if count_retry else 0)
        reason = clip_text(reason)
        after = self._update_chunk(
            chunk.id,
            {"status": "queued", "retryCount": retry_count, "failureReason": reason, **_CLEARED},
            _as_read(chunk),
        )
        self.add_event(
            chunk.job_id,
            "status",
            f"{chunk.name} requeued (retry {retry_count}): {reason}",
            org_id=chunk.org_id,
        )
        return after

    def retry_or_fail_chunk(
        self, chunk: RenderChunk, reason: str, *, give_up: bool = False
    ) -> RenderChunk:
        """The job's retry policy for one chunk: requeued while retries are left (and not
        ``give_up``), else failed; conditional on the chunk as read. Failing the job is
        the caller's to do."""
        if not give_up and chunk.retry_count < chunk.max_retries:
            return self.requeue_chunk(chunk, reason)
        if not give_up:
            reason = f"{reason} (gave up after {chunk.retry_count + 1} attempts)"
        reason = clip_text(reason)
        after = self._update_chunk(
            chunk.id,
            {"status": "failed", "failureReason": reason, "finishedAt": utc_now()},
            _as_read(chunk),
        )
        self.add_event(
            chunk.job_id, "status", f"{chunk.name} failed: {reason}", org_id=chunk.org_id
        )
        return after

    def _create_chunk(self, job: Job, index: int, start: int, end: int) -> RenderChunk:
        record_id = chunk_id(job.id, index)
        values = {
            "id": record_id,
            "jobId": job.id,
            "orgId": job.org_id,
            "index": index,
            "startFrame": start,
            "endFrame": end,
        }
        answer: _Answer = self._call(ops.CREATE_RENDER_CHUNK, {"input": values})
        if answer.errors:
            from renderlib.jobs.client import _api_error

            existing = self._data(ops.GET_RENDER_CHUNK, {"id": record_id})["getRenderChunk"]
            if existing is None:
                raise _api_error(answer.errors)
            chunk = from_api(RenderChunk, existing)
            if (chunk.start_frame, chunk.end_frame) != (start, end):
                raise JobsApiError(
                    f"job {job.id}'s {chunk.name} exists with other frames than {start}:{end}"
                )
            return chunk
        return from_api(RenderChunk, answer.data["createRenderChunk"])

    def _update_chunk(self, chunk_id: str, values: dict, condition: dict) -> RenderChunk:
        return self._update_record(RenderChunk, chunk_id, values, condition)


def _as_read(chunk: RenderChunk) -> dict:
    """The condition that the chunk is still as it was read: its status and attempt."""
    return {"status": {"eq": str(chunk.status)}, "retryCount": {"eq": chunk.retry_count}}


# What a requeued chunk forgets of its last attempt.
_CLEARED = {
    "claimedByAgentId": None,
    "taskArn": None,
    "heartbeatAt": None,
    "startedAt": None,
    "framesDone": None,
}
