"""The dispatcher: claims queued render jobs, launches one worker task per job attempt,
and reaps jobs whose task died. One entry point, ``handle_event``, for the three events
that invoke it (see docs/farm.md):

- a DynamoDB stream batch of the Job table: dispatch those queued render jobs now;
- an EventBridge "Scheduled Event" (the sweep): reap lost jobs, dispatch queued jobs
  oldest first as capacity allows, publish the queue metrics;
- an ECS "Task State Change" with lastStatus STOPPED: reap that task's job, then fill
  the freed slot with the oldest queued jobs.

Rules that make every job run exactly once per attempt:

- claim (conditional queued -> claimed) BEFORE launch: of racing dispatchers only one
  claim wins, and only the winner launches;
- the launch is idempotent per attempt (RunTask clientToken = job id + attempt);
- every reap is conditional on the job still being at the attempt the evidence is about.

Chunked jobs (docs/farm.md, "Chunked renders"): a job whose inputJson states its length
and that the farm's chunk policy splits is split here, at claim time, into RenderChunks
(no task of its own: only one task start-up lies before its chunks render); any other
job that needs splitting is split by its own task. Each chunk attempt is claimed,
launched (client token ``<job>:<chunk>:<attempt>``), reaped and retried alone by these
same rules, in the same capacity. A chunk out of retries fails its job (the reason
names the chunk); the chunks of a job that is no longer running (canceled, failed) are
canceled, not launched. The dispatcher (the farm's cleanup role; the tasks' role has no
delete) deletes a split job's chunk segments when the stream shows the job succeeded, and
again whenever one of its chunk tasks stops after that (a late attempt's segment).

Capacity = max concurrent tasks - the worker tasks ECS lists as pending or running, read
once per invocation and counted down as this invocation launches. Racing dispatchers can
each see the same free capacity (by default the Lambda reserves no concurrency, which new
accounts cannot spare), so tasks may briefly exceed the cap by one invocation's launches;
exactly-once launch does not depend on it (the claim and the client token above).

Launch failures: a RunTask exception (throttling, timeout, 5xx) may hide a task that
started, so the job is requeued WITHOUT counting a retry: the next launch has the same
attempt, hence the same client token, and gets that task back rather than a second one.
When ECS answers with ``failures`` (no task exists), the retry IS counted: the next
launch gets a fresh token (ECS may replay a token's first answer for 24 h), and a job
ECS keeps refusing ends failed with ECS's reason. Jobs put back from claimed are left
to the next sweep (not re-dispatched from the stream), so a broken launch is retried
once a sweep, never in a tight loop.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from renderlib.errors import (
    BadInputError,
    ClaimLostError,
    JobNotFoundError,
    JobsApiError,
    LaunchError,
    StorageError,
)
from renderlib.farm.chunking import split_job, stated_length
from renderlib.farm.launcher import Launcher, TaskState, task_state_from_ecs
from renderlib.farm.logs import emit_metric
from renderlib.farm.settings import DispatchSettings
from renderlib.farm.storage import CHUNKS_FOLDER, Storage
from renderlib.jobs.chunk_client import chunk_id
from renderlib.jobs.client import JobsClient
from renderlib.jobs.fields import TOKEN_RULE, is_token
from renderlib.jobs.records import Job, RenderChunk
from renderlib.jobs.status import JobStatus

STREAM = "stream"
SWEEP = "sweep"
TASK_STOPPED = "task-stopped"
TASK_STATE = "task-state"  # a task state change other than STOPPED: nothing to do

log = logging.getLogger("renderlib.farm.dispatcher")


@dataclass
class Report:
    """What one invocation did (also logged as its last line)."""

    kind: str
    capacity: int | None = None
    launched: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    claims_lost: int = 0
    examined: int = 0
    out_of_budget: bool = False


def handle_event(
    event: Mapping[str, Any],
    *,
    client: JobsClient,
    launcher: Launcher,
    settings: DispatchSettings,
    clock: Callable[[], datetime] | None = None,
    agent_id: str | None = None,
    remaining_seconds: Callable[[], float] | None = None,
    storage: Storage | None = None,
) -> Report:
    """Handle one invocation. ``clock`` gives the time now (UTC); ``remaining_seconds`` the
    time left to this invocation (from Lambda's context): no new work starts when less
    than the settings' margin is left. ``storage``: where chunk segments are deleted from
    once their job succeeded (None: they are left)."""
    dispatcher = Dispatcher(
        client,
        launcher,
        settings,
        clock=clock or (lambda: datetime.now(UTC)),
        agent_id=agent_id or default_agent_id(),
        remaining_seconds=remaining_seconds,
        storage=storage,
    )
    kind = event_kind(event)
    if kind == STREAM:
        report = dispatcher.dispatch_ids(stream_job_ids(event["Records"]), Report(kind))
        dispatcher.dispatch_chunks_of(stream_split_job_ids(event["Records"]), report)
        dispatcher.clean_up_after(stream_succeeded_split_job_ids(event["Records"]))
    elif kind == SWEEP:
        report = dispatcher.sweep()
    elif kind == TASK_STOPPED:
        report = dispatcher.reap_stopped_task(event["detail"])
        # A task ended: its slot is free for the oldest queued job now, not at the next sweep.
        dispatcher.dispatch_queued(report)
    else:
        report = Report(kind)
    log_event(
        log,
        "invocation done",
        kind=report.kind,
        capacity=report.capacity,
        launched=len(report.launched),
        requeued=len(report.requeued),
        failed=len(report.failed),
        claims_lost=report.claims_lost,
        examined=report.examined,
        out_of_budget=report.out_of_budget,
    )
    return report


def event_kind(event: Mapping[str, Any]) -> str:
    if isinstance(event.get("Records"), list):
        return STREAM
    detail_type = event.get("detail-type")
    if detail_type == "Scheduled Event":
        return SWEEP
    if detail_type == "ECS Task State Change":
        detail = event.get("detail") or {}
        return TASK_STOPPED if detail.get("lastStatus") == "STOPPED" else TASK_STATE
    raise BadInputError(
        "the dispatcher handles Job stream records, Scheduled Events and ECS Task State "
        f"Change events; got an event with keys {sorted(event)}"
    )


Image = Mapping[str, Any]


def stream_job_ids(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ids of the jobs the batch shows queued (render jobs), in stream order, once each.

    A job whose old image was ``claimed`` went back to the queue because its launch failed
    or its task never started: the sweep retries it, not the stream (no tight loop)."""

    def queued(event: str, new: Image, old: Image) -> bool:
        return (
            event in ("INSERT", "MODIFY")
            and _attr(new, "status") == "queued"
            and _attr(new, "kind") == "render"
            and _attr(old, "status") != "claimed"
        )

    return _ids_where(records, queued)


def stream_split_job_ids(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ids of the jobs the batch shows newly split into chunks (chunkCount appears on a
    running job): their chunks are queued for launch."""

    def just_split(event: str, new: Image, old: Image) -> bool:
        return (
            event == "MODIFY"
            and _attr(new, "status") == "running"
            and "chunkCount" in new
            and "chunkCount" not in old
        )

    return _ids_where(records, just_split)


def stream_succeeded_split_job_ids(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ids of the split jobs the batch shows just succeeded: their chunk segments go."""

    def just_succeeded(event: str, new: Image, old: Image) -> bool:
        return (
            event == "MODIFY"
            and "chunkCount" in new
            and _attr(new, "status") == "succeeded"
            and _attr(old, "status") != "succeeded"
        )

    return _ids_where(records, just_succeeded)


def _ids_where(
    records: Iterable[Mapping[str, Any]], wanted: Callable[[str, Image, Image], bool]
) -> list[str]:
    """The job ids of the records ``wanted`` (event name, new image, old image) picks, in
    stream order, once each."""
    ids: list[str] = []
    for record in records:
        images = record.get("dynamodb") or {}
        new, old = images.get("NewImage") or {}, images.get("OldImage") or {}
        if wanted(record.get("eventName") or "", new, old):
            job_id = _attr(new, "id")
            if job_id and job_id not in ids:
                ids.append(job_id)
    return ids


def _attr(image: Mapping[str, Any], name: str) -> str | None:
    value = image.get(name) or {}
    return value.get("S") if isinstance(value, Mapping) else None


def default_agent_id() -> str:
    return f"dispatcher:{socket.gethostname()}:{os.getpid()}"


def job_of_task(detail: Mapping[str, Any]) -> tuple[str, int, int | None] | None:
    """(job id, attempt, chunk index or None) from a task's JOB_ID, JOB_ATTEMPT and
    CHUNK_INDEX container overrides."""
    env: dict[str, str] = {}
    for override in (detail.get("overrides") or {}).get("containerOverrides") or []:
        for item in override.get("environment") or []:
            env[item.get("name")] = item.get("value")
    attempt, chunk = env.get("JOB_ATTEMPT") or "", env.get("CHUNK_INDEX") or ""
    if env.get("JOB_ID") and attempt.isdigit():
        return env["JOB_ID"], int(attempt), int(chunk) if chunk.isdigit() else None
    return None


class Dispatcher:
    def __init__(
        self,
        client: JobsClient,
        launcher: Launcher,
        settings: DispatchSettings,
        *,
        clock: Callable[[], datetime],
        agent_id: str,
        remaining_seconds: Callable[[], float] | None,
        storage: Storage | None = None,
    ) -> None:
        self.storage = storage
        self.client = client
        self.launcher = launcher
        self.settings = settings
        self.clock = clock
        self.agent_id = agent_id
        self.remaining_seconds = remaining_seconds

    # Dispatch

    def dispatch_ids(self, job_ids: list[str], report: Report) -> Report:
        """Claim and launch these jobs in order, within capacity and budget."""
        if job_ids:  # a batch of records that were all skipped needs no ListTasks
            self._launch_in_order(job_ids, self._launch_budget(report), report)
        return report

    def dispatch_chunks_of(self, job_ids: list[str], report: Report) -> Report:
        """Claim and launch the queued chunks of these (just split) jobs."""
        if job_ids:
            chunks = [
                chunk
                for job_id in job_ids
                for chunk in self.client.list_chunks(job_id)
                if chunk.status == JobStatus.QUEUED
            ]
            self._launch_chunks(chunks, self._launch_budget(report), report)
        return report

    def dispatch_queued(self, report: Report) -> Report:
        """Launch the oldest queued render jobs, then chunks, the free capacity allows."""
        budget = self._launch_budget(report)
        if budget > 0:
            # Other dispatchers may win some claims: read a few more jobs than slots.
            limit = min(self.settings.max_jobs_examined, 2 * budget + 10)
            queued = self._jobs(JobStatus.QUEUED, report, limit)
            budget = self._launch_in_order([job.id for job in queued], budget, report)
        if budget > 0:
            limit = min(self.settings.max_jobs_examined, 2 * budget + 10)
            self._launch_chunks(self._chunks(JobStatus.QUEUED, report, limit), budget, report)
        return report

    def _launch_in_order(self, job_ids: list[str], budget: int, report: Report) -> int:
        """Launch within ``budget``; the budget left."""
        for job_id in job_ids:
            if budget <= 0 or self._out_of_time(report):
                return budget
            budget = self._claim_and_launch(job_id, budget, report)
        return budget

    def _launch_chunks(
        self,
        chunks: list[RenderChunk],
        budget: int,
        report: Report,
        known: dict[str, Job] | None = None,
    ) -> int:
        """Launch within ``budget`` (``known``: jobs just read, not read again); the
        budget left."""
        jobs: dict[str, Job | None] = dict(known or {})
        for chunk in chunks:
            if budget <= 0 or self._out_of_time(report):
                return budget
            if chunk.job_id not in jobs:
                jobs[chunk.job_id] = self._job_or_none(chunk.job_id)
            if self._claim_and_launch_chunk(jobs[chunk.job_id], chunk, report):
                budget -= 1
        return budget

    def sweep(self) -> Report:
        report = Report(SWEEP)
        self.reap_lost_jobs(report)
        self.reap_lost_chunks(report)
        queued = self._jobs(JobStatus.QUEUED, report)
        self._publish_queue_metrics(queued)
        chunks = self._chunks(JobStatus.QUEUED, report)
        if queued or chunks:  # nothing to launch needs no ListTasks
            budget = self._launch_in_order(
                [job.id for job in queued], self._launch_budget(report), report
            )
            self._launch_chunks(chunks, budget, report)
        return report

    def _launch_budget(self, report: Report) -> int:
        report.capacity = max(
            0, self.settings.max_concurrent_tasks - self.launcher.active_task_count()
        )
        return min(report.capacity, self.settings.max_launches_per_call)

    def _claim_and_launch(self, job_id: str, budget: int, report: Report) -> int:
        """Claim the job and launch its task, or split it and launch its chunks' tasks;
        the budget left."""
        if not is_token(job_id):
            self._fail_unlaunchable(job_id, report)
            return budget
        try:
            job = self.client.claim(job_id, self.agent_id)
        except (ClaimLostError, JobNotFoundError):
            report.claims_lost += 1
            return budget
        attempt = job.retry_count
        plan = self._chunks_at_claim(job)
        if plan is not None:
            return self._split_and_launch(job, *plan, budget, report)
        try:
            task_id = self.launcher.launch(job, attempt)
        except LaunchError as exc:
            self._launch_failed(job, attempt, exc, report)
            return budget
        try:
            self.client.set_task_arn(job.id, task_id, agent_id=self.agent_id)
        except ClaimLostError:
            pass  # the worker already finished or requeued it: nothing to record
        report.launched.append(job.id)
        log_event(log, "launched", job_id=job.id, attempt=attempt, task=task_id)
        return budget - 1

    def _chunks_at_claim(self, job: Job) -> tuple[list[tuple[int, int]], Fraction] | None:
        """The chunks (and frame rate) of a job that states its length and that the farm's
        policy splits; None for every other job (its own task loads it, reports bad input,
        splits it if needed)."""
        length = stated_length(job.input)
        if length is None:
            return None
        try:
            ranges = self.settings.chunk_policy.ranges(job.input, *length)
        except BadInputError:
            return None
        return (ranges, length[1]) if len(ranges) > 1 else None

    def _split_and_launch(
        self,
        job: Job,
        ranges: list[tuple[int, int]],
        frame_rate: Fraction,
        budget: int,
        report: Report,
    ) -> int:
        """Run the claimed job as its chunks: running with no task of its own, split, its
        chunks launched as the budget allows (the rest by the next dispatch). If this
        stops half way, the reaper finds the job claimed or running with no heartbeat and
        requeues it, and planning again keeps the chunks already made."""
        try:
            job = self.client.mark_running(job.id, attempt=job.retry_count)
            chunks = split_job(self.client, job, ranges, frame_rate)
        except ClaimLostError:
            report.claims_lost += 1
            return budget
        log_event(log, "split", job_id=job.id, attempt=job.retry_count, chunks=len(ranges))
        queued = [c for c in chunks if c.status == JobStatus.QUEUED]
        return self._launch_chunks(queued, budget, report, known={job.id: job})

    def _claim_and_launch_chunk(self, job: Job | None, chunk: RenderChunk, report: Report) -> bool:
        if job is None:
            return False
        if job.status != JobStatus.RUNNING:
            self._cancel_chunk(chunk, report)
            return False
        try:
            claimed = self.client.claim_chunk(chunk.id, self.agent_id)
        except (ClaimLostError, JobNotFoundError):
            report.claims_lost += 1
            return False
        attempt = claimed.retry_count
        try:
            task_id = self.launcher.launch(job, attempt, chunk=chunk.index)
        except LaunchError as exc:
            self._chunk_launch_failed(claimed, exc, report)
            return False
        try:
            self.client.set_chunk_task_arn(chunk.id, task_id, agent_id=self.agent_id)
        except ClaimLostError:
            pass  # its worker already finished or requeued it
        report.launched.append(_chunk_name(chunk))
        log_event(log, "launched", job_id=job.id, chunk=chunk.index, attempt=attempt, task=task_id)
        return True

    def _chunk_launch_failed(self, chunk: RenderChunk, error: LaunchError, report: Report) -> None:
        """By the rules of a job's failed launch (``_launch_failed``), on the chunk."""
        log_event(
            log,
            "chunk launch failed",
            level=logging.WARNING,
            job_id=chunk.job_id,
            chunk=chunk.index,
            attempt=chunk.retry_count,
            error=str(error),
            retry_counted=not error.task_may_exist,
        )
        try:
            if error.task_may_exist:
                self.client.requeue_chunk(
                    chunk, f"launch failed, retrying: {error}", count_retry=False
                )
                report.requeued.append(_chunk_name(chunk))
            else:
                self._retry_or_fail_chunk(chunk, str(error), report)
        except ClaimLostError:
            pass  # the chunk moved on (its job canceled, or a task of an earlier try ran it)

    def _cancel_chunk(self, chunk: RenderChunk, report: Report) -> None:
        """A chunk of a job that stopped (canceled, failed) runs no more."""
        try:
            self.client.cancel_chunk(chunk)
            log_event(log, "chunk canceled", job_id=chunk.job_id, chunk=chunk.index)
        except ClaimLostError:
            pass

    def _retry_or_fail_chunk(self, chunk: RenderChunk, reason: str, report: Report) -> None:
        """Retry the chunk alone; once it is out of retries, its job fails, naming it."""
        after = self.client.retry_or_fail_chunk(chunk, reason)
        name = _chunk_name(chunk)
        if after.status != JobStatus.FAILED:
            report.requeued.append(name)
            log_event(log, "reaped", job_id=chunk.job_id, chunk=chunk.index, reason=reason)
            return
        report.failed.append(name)
        try:
            self.client.fail(
                chunk.job_id,
                f"{chunk.name} failed: {after.failure_reason}",
                expected_status=JobStatus.RUNNING,
            )
        except ClaimLostError:
            pass  # the job stopped meanwhile
        log_event(log, "failed", job_id=chunk.job_id, chunk=chunk.index, reason=reason)

    def _fail_unlaunchable(self, job_id: str, report: Report) -> None:
        """A job whose id is not a path-safe token (it reached the queue through an API
        that does not check) would name a task, a log file: fail it from queued, unclaimed,
        once; if even that is refused, leave it and go on with the other jobs."""
        reason = f"job id {job_id!r} is not a valid id: use {TOKEN_RULE}"
        try:
            self.client.fail(job_id, reason, expected_status=JobStatus.QUEUED)
            report.failed.append(job_id)
        except JobsApiError as exc:
            log_event(
                log,
                "cannot fail a job with an invalid id",
                level=logging.WARNING,
                job_id=job_id,
                error=str(exc),
            )

    def _launch_failed(self, job: Job, attempt: int, error: LaunchError, report: Report) -> None:
        log_event(
            log,
            "launch failed",
            level=logging.WARNING,
            job_id=job.id,
            attempt=attempt,
            error=str(error),
            retry_counted=not error.task_may_exist,
        )
        try:
            if error.task_may_exist:
                self.client.requeue(
                    job.id,
                    f"launch failed, retrying: {error}",
                    expected_status=JobStatus.CLAIMED,
                    count_retry=False,
                    attempt=attempt,
                )
                report.requeued.append(job.id)
            else:
                self._retry_or_fail(job.id, attempt, str(error), JobStatus.CLAIMED, report)
        except ClaimLostError:
            pass  # the job moved on (canceled, or a task from an earlier try started it)

    def _publish_queue_metrics(self, queued: list[Job]) -> None:
        oldest = (self.clock() - queued[0].created_at).total_seconds() if queued else 0.0
        cluster = self.settings.metrics_cluster
        emit_metric(log, "QueuedJobs", len(queued), cluster=cluster)
        emit_metric(
            log, "OldestQueuedJobAgeSeconds", max(0.0, oldest), unit="Seconds", cluster=cluster
        )

    def clean_up_after(self, job_ids: list[str]) -> None:
        """Delete the chunk segments of these split jobs, once succeeded."""
        for job_id in job_ids:
            job = self._job_or_none(job_id)
            if job is not None and job.status == JobStatus.SUCCEEDED:
                self._delete_chunk_segments(job)

    # Reap

    def reap_stopped_task(self, detail: Mapping[str, Any]) -> Report:
        """A worker task stopped: if its job is still claimed or running at the task's
        attempt, the worker did not finish it (crash, OOM, failed to start): retry or fail."""
        report = Report(TASK_STOPPED)
        found = job_of_task(detail)
        if found is None:
            log_event(log, "stopped task names no job", task=detail.get("taskArn"))
            return report
        job_id, attempt, chunk_index = found
        try:
            job = self.client.get_job(job_id)
        except JobNotFoundError:
            return report
        report.examined = 1
        if chunk_index is not None:
            self._reap_stopped_chunk(job, chunk_index, attempt, detail, report)
            return report
        if job.status not in (JobStatus.CLAIMED, JobStatus.RUNNING) or job.retry_count != attempt:
            return report  # the worker finished, failed or requeued it itself
        if job.chunked and job.status == JobStatus.RUNNING and self._chunks_going(job):
            return report  # it split the job and is done: the chunks' tasks go on
        state = task_state_from_ecs(detail, _container_name(detail))
        self._retry_or_fail(job.id, attempt, state.describe(), job.status, report)
        return report

    def _reap_stopped_chunk(
        self, job: Job, index: int, attempt: int, detail: Mapping[str, Any], report: Report
    ) -> None:
        if job.status == JobStatus.SUCCEEDED:
            self._delete_chunk_segments(job)
        try:
            chunk = self.client.get_chunk(chunk_id(job.id, index))
        except JobNotFoundError:
            return
        if chunk.status not in (JobStatus.CLAIMED, JobStatus.RUNNING):
            return
        if chunk.retry_count != attempt:
            return
        try:
            if job.status == JobStatus.SUCCEEDED:
                self.client.succeed_chunk(chunk, attempt=attempt)  # its segment is in the video
            elif job.status != JobStatus.RUNNING:
                self._cancel_chunk(chunk, report)
            else:
                state = task_state_from_ecs(detail, _container_name(detail))
                self._retry_or_fail_chunk(chunk, state.describe(), report)
        except ClaimLostError:
            pass

    def _chunks_going(self, job: Job) -> bool:
        """Whether a split job's chunks carry it on: one is yet to run, or all landed (the
        finisher is at work). Else its task died before it split the job again."""
        active = (JobStatus.QUEUED, JobStatus.CLAIMED, JobStatus.RUNNING)
        chunks = self.client.list_chunks(job.id)
        return job.chunks_done == job.chunk_count or any(c.status in active for c in chunks)

    def _delete_chunk_segments(self, job: Job) -> None:
        """The succeeded job's chunks/ folder, beside its MP4 (none left: nothing done)."""
        runs = self.client.list_render_runs(job.id) if self.storage is not None else []
        if not runs or not runs[0].mp4_artifact_key:
            return
        folder = f"{runs[0].mp4_artifact_key.rpartition('/')[0]}/{CHUNKS_FOLDER}/"
        try:
            deleted = self.storage.delete_folder(folder)
        except StorageError as exc:
            log_event(log, "cannot delete chunk segments", level=logging.WARNING, error=str(exc))
            return
        if deleted:
            log_event(log, "chunk segments deleted", job_id=job.id, files=deleted)

    def reap_lost_chunks(self, report: Report) -> None:
        """The chunks' reaper, by the jobs' rules: claimed chunks whose task stopped,
        vanished or never started, running chunks whose heartbeat is older than the lease;
        and any chunk still going of a job that failed or was canceled. A lost chunk of a
        succeeded job (the finisher's, stopped after the job's success) succeeded."""
        claimed = self._chunks(JobStatus.CLAIMED, report)
        running = self._chunks(JobStatus.RUNNING, report)
        now, lease = self.clock(), self.settings.heartbeat_lease_seconds
        task_ids = [chunk.task_arn for chunk in claimed + running if chunk.task_arn]
        states = self.launcher.task_states(task_ids) if task_ids else {}
        jobs: dict[str, Job | None] = {}
        for chunk in claimed + running:
            if self._out_of_time(report):
                return
            if chunk.job_id not in jobs:
                jobs[chunk.job_id] = self._job_or_none(chunk.job_id)
            job = jobs[chunk.job_id]
            if job is None:
                continue
            state = states.get(chunk.task_arn or "")
            if chunk.status == JobStatus.CLAIMED:
                reason = self._claimed_job_problem(chunk, state, now)
            else:
                age = (now - (chunk.heartbeat_at or chunk.updated_at)).total_seconds()
                reason = f"no heartbeat for {age:.0f} s" if age > lease else None
                if reason and state is not None and state.stopped:
                    reason += f" ({state.describe()})"
            try:
                if job.status == JobStatus.SUCCEEDED:
                    # The finisher's own chunk, between the job's success and its own.
                    if reason is not None:
                        self.client.succeed_chunk(chunk, attempt=chunk.retry_count)
                elif job.status != JobStatus.RUNNING:
                    self._cancel_chunk(chunk, report)
                elif reason is not None:
                    self._retry_or_fail_chunk(chunk, reason, report)
            except ClaimLostError:
                continue

    def reap_lost_jobs(self, report: Report) -> None:
        """Claimed jobs whose task stopped, vanished or never started the job, and running
        jobs whose heartbeat is older than the lease: retry or fail each."""
        claimed = self._jobs(JobStatus.CLAIMED, report)
        running = self._jobs(JobStatus.RUNNING, report)
        now = self.clock()
        lease = self.settings.heartbeat_lease_seconds
        stale = [
            (job, (now - (job.heartbeat_at or job.updated_at)).total_seconds()) for job in running
        ]
        # A split job runs no task of its own: its chunks' are reaped instead.
        stale = [(job, age) for job, age in stale if age > lease and not job.chunked]
        task_ids = [job.task_arn for job in claimed if job.task_arn]
        task_ids += [job.task_arn for job, _ in stale if job.task_arn]
        states = self.launcher.task_states(task_ids) if task_ids else {}

        for job in claimed:
            if self._out_of_time(report):
                return
            reason = self._claimed_job_problem(job, states.get(job.task_arn or ""), now)
            if reason is None:
                continue
            try:
                if job.task_arn:
                    self._retry_or_fail(job.id, job.retry_count, reason, job.status, report)
                else:
                    # Claimed but no task recorded: the dispatcher stopped between claim and
                    # launch. Same attempt again: the client token finds a task it started.
                    self.client.requeue(
                        job.id,
                        reason,
                        expected_status=JobStatus.CLAIMED,
                        count_retry=False,
                        attempt=job.retry_count,
                    )
                    report.requeued.append(job.id)
            except ClaimLostError:
                continue
        for job, age in stale:
            if self._out_of_time(report):
                return
            reason = f"no heartbeat for {age:.0f} s"
            state = states.get(job.task_arn or "")
            if state is not None and state.stopped:
                reason += f" ({state.describe()})"
            try:
                self._retry_or_fail(job.id, job.retry_count, reason, job.status, report)
            except ClaimLostError:
                continue

    def _claimed_job_problem(
        self, job: Job | RenderChunk, state: TaskState | None, now: datetime
    ) -> str | None:
        waited = (now - job.updated_at).total_seconds()
        if job.task_arn is None:
            if waited > self.settings.claim_timeout_seconds:
                return f"claimed {waited:.0f} s ago but no task was recorded"
            return None
        if state is None:
            # Just launched tasks may not be visible yet; ECS forgets stopped ones after ~1 h.
            if waited > self.settings.heartbeat_lease_seconds:
                return f"task {job.task_arn} is unknown to the cluster"
            return None
        if state.stopped:
            return f"{state.describe()} before the job started"
        if waited > self.settings.claim_timeout_seconds:
            return f"task {job.task_arn} did not start the job in {waited:.0f} s"
        return None

    def _retry_or_fail(
        self, job_id: str, attempt: int, reason: str, status: JobStatus, report: Report
    ) -> None:
        job = self.client.retry_or_fail(job_id, reason, expected_status=status, attempt=attempt)
        (report.failed if job.status == JobStatus.FAILED else report.requeued).append(job_id)
        log_event(
            log,
            "reaped" if job.status == JobStatus.QUEUED else "failed",
            job_id=job_id,
            attempt=attempt,
            reason=reason,
            status=str(job.status),
        )

    def _jobs(self, status: JobStatus, report: Report, limit: int | None = None) -> list[Job]:
        """Render jobs in ``status``, oldest first: at most ``limit`` (default
        max_jobs_examined) read."""
        jobs, limit = [], limit or self.settings.max_jobs_examined
        for read, job in enumerate(
            self.client.iter_jobs(status, page_size=min(limit, 100)), start=1
        ):
            report.examined += 1
            if job.kind == "render":
                jobs.append(job)
            if read >= limit or self._out_of_time(report):
                break
        return jobs

    def _chunks(
        self, status: JobStatus, report: Report, limit: int | None = None
    ) -> list[RenderChunk]:
        """Chunks in ``status``, oldest first: at most ``limit`` (default max_jobs_examined)."""
        chunks, limit = [], limit or self.settings.max_jobs_examined
        for read, chunk in enumerate(
            self.client.iter_chunks(status, page_size=min(limit, 100)), start=1
        ):
            report.examined += 1
            chunks.append(chunk)
            if read >= limit or self._out_of_time(report):
                break
        return chunks

    def _job_or_none(self, job_id: str) -> Job | None:
        try:
            return self.client.get_job(job_id)
        except JobNotFoundError:
            return None

    def _out_of_time(self, report: Report) -> bool:
        if self.remaining_seconds is None:
            return False
        if self.remaining_seconds() < self.settings.time_margin_seconds:
            report.out_of_budget = True
            return True
        return False


def _chunk_name(chunk: RenderChunk) -> str:
    """How a report lists a chunk: ``<job>:<chunk>``."""
    return f"{chunk.job_id}:{chunk.index}"


def _container_name(detail: Mapping[str, Any]) -> str:
    """The worker container of an ECS event: the one the overrides name."""
    overrides = (detail.get("overrides") or {}).get("containerOverrides") or [{}]
    return overrides[0].get("name") or ""


def log_event(
    logger: logging.Logger, message: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """A log line with fields (JSON once renderlib.farm.logs.configure_logging is set up)."""
    logger.log(level, message, extra={"fields": fields})
