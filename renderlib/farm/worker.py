"""One render job, start to finish, as the farm's worker task runs it.

    claimed --mark_running--> running --render, upload, RenderRun--> succeeded
                                 |--bad input--------------------> failed (reason)
                                 |--transient error, time limit--> queued (retryCount+1) / failed
                                 '--SIGTERM----------------------> queued (retryCount+1)

Every state change is conditional on the job still being this attempt's; when it is
not (another attempt owns it, the reaper requeued it, it was canceled) the worker
stops without touching it. docs/worker.md explains the choices.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from renderlib.cost import FargatePrices, TaskSize, run_cost
from renderlib.errors import (
    BadInputError,
    ClaimLostError,
    JobNotFoundError,
    JobsApiError,
    RenderlibError,
)
from renderlib.farm.chunking import ChunkPolicy, check_stated_length, split_job
from renderlib.farm.heartbeat import Heartbeat
from renderlib.farm.interrupts import Interrupts, Terminated, TimeLimitExceeded
from renderlib.farm.logs import emit_metric
from renderlib.farm.storage import (
    RENDERS_PREFIX,
    LocalStorage,
    Storage,
    download_generation_run,
)
from renderlib.farm.task_clock import process_seconds
from renderlib.jobs.client import JobsClient
from renderlib.jobs.fields import check_token
from renderlib.jobs.records import Job, RenderRun
from renderlib.jobs.status import JobStatus

if TYPE_CHECKING:
    from renderlib.composition import Composition
    from renderlib.renderer import RenderResult

log = logging.getLogger(__name__)

MP4_NAME = "video.mp4"
POSTER_NAME = "poster.jpg"


@dataclass(frozen=True)
class Outcome:
    """How the attempt ended.

    status: succeeded | failed | requeued | split (into chunks, which their own tasks
    run) | not-ours (another attempt owns the job, or it was requeued or canceled
    meanwhile) | unreported (the jobs API could not be told; the reaper will requeue
    the job). A chunk's attempt ends the same ways, ``landed`` when its segment is in and
    another chunk's task joins the video.
    """

    status: str
    reason: str | None = None
    render_run: RenderRun | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "unreported" else 0


@dataclass(frozen=True)
class Rendered:
    job: Job
    video_id: str
    generation_run_id: str
    mp4_key: str
    poster_key: str
    result: RenderResult
    # The seconds of the other tasks whose work this one joined (a chunked job's chunk
    # tasks), priced into the RenderRun's cost with this task's own.
    other_task_seconds: tuple[float, ...] = ()


def run_worker(
    job_id: str,
    attempt: int,
    *,
    client: JobsClient,
    storage: Storage,
    time_limit: float | None = None,
    heartbeat_interval: float = 20.0,
    work_dir: Path | str | None = None,
    workers: int | None = None,
    task_size: TaskSize | None = None,
    prices: FargatePrices | None = None,
    policy: ChunkPolicy | None = None,
) -> Outcome:
    """Run attempt ``attempt`` (the job's retryCount when it was claimed) of job ``job_id``.

    Must be called in the main thread: SIGTERM and the time limit stop the render by
    raising there. ``workers`` (browsers) defaults to what the CPU count allows. The
    RenderRun's cost is priced for ``task_size`` at ``prices`` (default: from the
    environment, see renderlib/cost.py). A job the ``policy`` (default: the farm's, from
    the environment) splits into chunks is only split here: its chunks' own tasks render
    it (renderlib/farm/chunk_worker.py).
    """
    task_size = task_size or TaskSize.from_env()
    prices = prices or FargatePrices.from_env()
    try:
        job = client.mark_running(job_id, attempt=attempt)
    except (ClaimLostError, JobNotFoundError) as exc:
        log.warning("not starting: job is not claimed for attempt %s (%s)", attempt, exc)
        return Outcome("not-ours", str(exc))
    except JobsApiError as exc:
        log.error("cannot mark the job running: %s", exc)
        return Outcome("unreported", str(exc))
    log.info("job running", extra={"fields": {"orgId": job.org_id}})

    with Interrupts(time_limit) as interrupts:
        heartbeat = Heartbeat(client, job_id, attempt, heartbeat_interval)
        work = tempfile.TemporaryDirectory(prefix="renderlib-job-", dir=work_dir)
        tmp = Path(work.name)
        try:
            with heartbeat, work:
                rendered = _render_job(
                    job, client, storage, heartbeat, tmp, workers, policy or ChunkPolicy.from_env()
                )
                # Done: a signal from here on must not cut the report short.
                interrupts.disarm()
        except BaseException as exc:  # noqa: BLE001 - every ending is reported below
            interrupts.disarm()
            reason = without_local_paths(describe_failure(exc), tmp, storage)
            return _report_failure(client, job, attempt, exc, reason)
        if isinstance(rendered, _Split):
            log.info("job split into %d chunks", rendered.chunk_count)
            return Outcome("split")
        return report_success(client, job, attempt, rendered, task_size, prices)


@dataclass(frozen=True)
class LoadedJob:
    job: Job
    video_id: str
    generation_run_id: str
    composition: Composition

    def keys(self, storage: Storage) -> tuple[str, str]:
        """The final MP4's key and its poster's."""
        base = render_folder(storage, self.job, self.video_id)
        return f"{base}/{MP4_NAME}", f"{base}/{POSTER_NAME}"


@dataclass(frozen=True)
class _Split:
    """The job was split into chunks; their own tasks render it."""

    loaded: LoadedJob
    chunk_count: int


def render_folder(storage: Storage, job: Job, video_id: str) -> str:
    """The job's folder of renders: renders/<org>/<video>/<job>."""
    return storage.key(RENDERS_PREFIX, job.org_id, video_id, job.id)


def load_job(job: Job, client: JobsClient, storage: Storage, tmp: Path) -> LoadedJob:
    """The job's generation run, downloaded into ``tmp`` and loaded as a composition
    (BadInputError if the job states another length: its chunks were planned from it)."""
    import renderlib

    generation_run_id, video_id = _parse_input(job)
    run = client.get_generation_run(generation_run_id)
    video_id = check_token("the generation run's videoId", video_id or run.video_id)
    run_dir = tmp / "run"
    download_generation_run(storage, run, run_dir, job.org_id)
    composition = renderlib.load_source(run_dir)
    check_stated_length(job.input, composition)
    log.info(
        "rendering %dx%d, %d frames at %g fps",
        composition.width,
        composition.height,
        composition.frame_count,
        composition.fps,
        extra={"fields": {"generationRunId": run.id, "videoId": video_id}},
    )
    return LoadedJob(job, video_id, run.id, composition)


def _render_job(
    job: Job,
    client: JobsClient,
    storage: Storage,
    heartbeat: Heartbeat,
    tmp: Path,
    workers: int | None,
    policy: ChunkPolicy,
) -> Rendered | _Split:
    import renderlib

    heartbeat.set_stage("loading", 0.0)
    loaded = load_job(job, client, storage, tmp)
    composition = loaded.composition
    ranges = policy.ranges(job.input, composition.frame_count, composition.frame_rate)
    if len(ranges) > 1:
        from renderlib.farm.chunk_worker import fan_in

        split_job(client, job, ranges, composition.frame_rate)
        if client.get_job(job.id).chunks_done < len(ranges):
            return _Split(loaded, len(ranges))
        # Every chunk landed before (a retried job whose join failed): join them here.
        heartbeat.set_stage("joining the chunks", 0.97)
        return fan_in(client, storage, loaded, tmp / "join")
    result = renderlib.render(
        loaded.composition,
        tmp / "output" / MP4_NAME,
        workers=workers,
        progress=heartbeat.render_progress,
    )
    log.info(result.summary())
    heartbeat.set_stage("uploading", 0.95)
    return upload_render(storage, loaded, result)


def upload_render(storage: Storage, loaded: LoadedJob, result: RenderResult) -> Rendered:
    mp4_key, poster_key = loaded.keys(storage)
    storage.upload(result.poster_path, poster_key, "image/jpeg")
    storage.upload(result.path, mp4_key, "video/mp4")
    log.info("uploaded %s and %s", storage.url(mp4_key), storage.url(poster_key))
    return Rendered(
        loaded.job, loaded.video_id, loaded.generation_run_id, mp4_key, poster_key, result
    )


def _parse_input(job: Job) -> tuple[str, str | None]:
    """The generation run id and video id the job names, each a path-safe token, as is
    its org (a job may come through an API that checks none of them)."""
    check_token("the job's orgId", job.org_id)
    data = job.input
    run_id = data.get("generationRunId")
    if not isinstance(run_id, str) or not run_id:
        raise BadInputError(
            'the job\'s inputJson needs "generationRunId": the id of the generation run '
            f"to render (got {data.get('generationRunId')!r})"
        )
    check_token("the job's inputJson.generationRunId", run_id)
    video_id = data.get("videoId")
    if video_id is not None:
        check_token("the job's inputJson.videoId", video_id)
    return run_id, video_id


def report_success(
    client: JobsClient,
    job: Job,
    attempt: int,
    rendered: Rendered,
    task_size: TaskSize,
    prices: FargatePrices,
) -> Outcome:
    """Record the RenderRun, priced for this task's whole run and the other tasks whose
    work it joined, and mark the job succeeded."""
    result = rendered.result
    cost = run_cost(task_size, prices, [*rendered.other_task_seconds, process_seconds()])
    try:
        run = client.create_render_run(
            job.id,
            org_id=job.org_id,
            video_id=rendered.video_id,
            generation_run_id=rendered.generation_run_id,
            mp4_artifact_key=rendered.mp4_key,
            poster_artifact_key=rendered.poster_key,
            duration=result.duration,
            frames=result.frames,
            width=result.width,
            height=result.height,
            fps=result.fps,
            render_seconds=round(result.seconds, 3),
            task_seconds=round(cost.task_seconds, 3),
            estimated_cost_usd=round(cost.cost_usd, 6),
        )
        client.succeed(job.id, attempt=attempt)
    except ClaimLostError as exc:
        log.warning("rendered, but the job is no longer this attempt's: %s", exc)
        return Outcome("not-ours", str(exc))
    except JobsApiError as exc:
        log.error("rendered, but cannot record it: %s", exc)
        return Outcome("unreported", str(exc))
    log.info(
        "job succeeded",
        extra={"fields": {"renderRunId": run.id, "mp4Key": rendered.mp4_key}},
    )
    emit_metric(log, "RendersSucceeded")
    emit_metric(log, "RenderSeconds", round(result.seconds, 3), unit="Seconds")
    return Outcome("succeeded", render_run=run)


def _report_failure(
    client: JobsClient, job: Job, attempt: int, exc: BaseException, reason: str
) -> Outcome:
    """Report how the attempt ended; ``reason`` is ``exc`` described for the studio."""
    if isinstance(exc, ClaimLostError):
        log.warning("stopped: %s", exc)
        return Outcome("not-ours", str(exc))
    # Each report is conditional on the job still running at this attempt; if it has
    # moved on (reaped, canceled), ClaimLostError below leaves it alone.
    try:
        if isinstance(exc, Terminated):
            # Not the job's fault: requeued whatever its retries; the new retryCount
            # gives the next launch its own attempt number (and RunTask clientToken).
            reason = f"{reason}; requeued to run again"
            log.warning("stopped: %s", reason)
            client.requeue(job.id, reason, expected_status=JobStatus.RUNNING, attempt=attempt)
            return Outcome("requeued", reason)
        if isinstance(exc, BadInputError | TimeLimitExceeded):
            log.error("job failed: %s", reason)
            client.fail(job.id, reason, expected_status=JobStatus.RUNNING, attempt=attempt)
            emit_metric(log, "RendersFailed")
            return Outcome("failed", reason)
        log.error("attempt failed: %s", reason, exc_info=not isinstance(exc, RenderlibError))
        after = client.retry_or_fail(
            job.id, reason, expected_status=JobStatus.RUNNING, attempt=attempt
        )
        if after.status == JobStatus.FAILED:
            emit_metric(log, "RendersFailed")
            return Outcome("failed", after.failure_reason)
        return Outcome("requeued", reason)
    except ClaimLostError as lost:
        log.warning("the job changed hands while reporting %s: %s", reason, lost)
        return Outcome("not-ours", reason)
    except JobsApiError as api_error:
        log.error("cannot report %s: %s", reason, api_error)
        return Outcome("unreported", reason)


def describe_failure(exc: BaseException) -> str:
    """A failureReason: the error's own message, which says what to fix."""
    if isinstance(exc, TimeLimitExceeded):
        return (
            f"{exc}: shorten the video or lower its frame size or fps, "
            "or raise the farm's job time limit"
        )
    if isinstance(exc, RenderlibError | Terminated):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def without_local_paths(message: str, tmp: Path, storage: Storage) -> str:
    """The message as the studio may read it: no path on the worker's machine. A file of
    the generation run is named by its path in the run (``script.json``), a stored file
    by its key, any other file in the worker's folders by its name."""
    for form in _forms(tmp / "run"):
        message = message.replace(f"{form}/", "").replace(form, "the generation run")
    if isinstance(storage, LocalStorage):
        for form in _forms(storage.root):
            message = message.replace(f"{form}/", "").replace(form, "storage")
    for root in sorted({*_forms(tmp), *_forms(Path(tempfile.gettempdir()))}, key=len, reverse=True):
        message = re.sub(
            re.escape(root) + r"(?![^/\s'\"])(/[^\s'\"]*)?",
            lambda found: PurePosixPath(found.group(0)).name if found.group(1) else "a work folder",
            message,
        )
    return message


def _forms(folder: Path) -> set[str]:
    """The ways a folder may be spelled in a message: as given, and resolved."""
    return {str(folder), str(folder.resolve())}
