"""A chunked render job: the split, one chunk's attempt, and the fan-in (docs/farm.md).

    split:       plan the chunks (RenderChunk records, chunkCount on the job, which stays
                 running): the dispatcher at claim time, or the job's own task, which exits
    chunk attempt (one task each):
        claimed --mark running--> running --render frames, mix their audio, upload
                                             chunks/NNNN.mp4 and .wav, land it on the
                                             job's counter-->
            the last to land: join the segments and the audio parts (the whole mix),
                              mux, verify, upload, RenderRun, job succeeded
            the others: done
        then: chunk succeeded
        |--bad input, time limit------> chunk failed, job failed (the reason names it)
        |--transient error-------------> chunk queued (retryCount+1) / failed as above
        '--SIGTERM---------------------> chunk queued (retryCount+1)

Exactly one fan-in: landing is a compare-and-set on the job (renderlib/jobs/chunk_client.py)
and only the landing that makes the count whole joins; the RenderRun's id derives from
the job's, so even a fan-in redone after a crash makes no second one. Every chunk update
is conditional on the chunk still being at this attempt, as every job update is.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from renderlib.cost import FargatePrices, TaskSize
from renderlib.errors import (
    BadInputError,
    ClaimLostError,
    JobNotFoundError,
    JobsApiError,
    RenderlibError,
)
from renderlib.farm.heartbeat import Heartbeat
from renderlib.farm.interrupts import Interrupts, Terminated, TimeLimitExceeded
from renderlib.farm.logs import emit_metric
from renderlib.farm.storage import CHUNKS_FOLDER, Storage
from renderlib.farm.worker import (
    POSTER_NAME,
    LoadedJob,
    Outcome,
    Rendered,
    describe_failure,
    load_job,
    render_folder,
    report_success,
    upload_render,
    without_local_paths,
)
from renderlib.jobs.chunk_client import chunk_id
from renderlib.jobs.client import JobsClient
from renderlib.jobs.records import Job, RenderChunk
from renderlib.jobs.status import JobStatus

log = logging.getLogger(__name__)


def chunk_key(storage: Storage, job: Job, video_id: str, index: int, suffix: str = ".mp4") -> str:
    """The chunk's segment (``.mp4``) or its part of the audio mix (``.wav``)."""
    return f"{render_folder(storage, job, video_id)}/{CHUNKS_FOLDER}/{index:04d}{suffix}"


def chunks_poster_key(storage: Storage, job: Job, video_id: str) -> str:
    return f"{render_folder(storage, job, video_id)}/{CHUNKS_FOLDER}/{POSTER_NAME}"


class ChunkHeartbeat(Heartbeat):
    """The chunk attempt's heartbeat: refreshes the chunk, stops the render when the chunk
    or its job is no longer this attempt's to run (requeued, canceled, failed), and
    reports the job's progress over all its chunks as the job's events."""

    def __init__(
        self, client: JobsClient, job: Job, chunk: RenderChunk, attempt: int, interval: float
    ) -> None:
        super().__init__(client, job.id, attempt, interval)
        self.job = job
        self.chunk = chunk
        self.frames_done = 0

    def render_progress(self, stage: str, done: int, total: int) -> None:
        if stage == "capture":
            self.frames_done = done
        super().render_progress(stage, done, total)

    def _report(self, message: str | None, progress: float | None, data: dict | None) -> None:
        client, chunk = self.client, self.chunk
        client.chunk_heartbeat(chunk.id, self.frames_done, attempt=self.attempt)
        job = client.get_job(self.job_id)
        if job.status != JobStatus.RUNNING:
            raise ClaimLostError(f"job {job.id} is {job.status}", "ConditionalCheckFailedException")
        if message is None:
            return
        chunks = client.list_chunks(self.job_id)
        done = {c.index: c.frames_done or 0 for c in chunks}
        done[chunk.index] = self.frames_done
        frames = sum(done.values())
        total = sum(c.frames for c in chunks)
        client.set_job_progress(self.job_id, round(frames / total, 3))
        client.add_event(
            self.job_id,
            "progress",
            f"{chunk.name}: {message}; {frames}/{total} frames rendered, "
            f"{job.chunks_done}/{job.chunk_count} chunks done",
            progress=round(frames / total, 3),
            # The shape of a single task's progress data, plus the chunks (the farm page
            # shows both).
            data={
                "chunk": chunk.index,
                "frames": {"done": frames, "total": total},
                "chunks": {"done": job.chunks_done, "total": job.chunk_count},
            },
            org_id=job.org_id,
        )


@dataclass(frozen=True)
class _ChunkDone:
    loaded: LoadedJob
    finished_job: bool  # this attempt landed the last chunk and joined the video


def run_chunk_worker(
    job_id: str,
    index: int,
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
) -> Outcome:
    """Run attempt ``attempt`` (the chunk's retryCount when it was claimed) of chunk
    ``index`` of job ``job_id``. Must be called in the main thread (see run_worker); the
    cost of a finished job's RenderRun is priced as run_worker prices it."""
    task_size = task_size or TaskSize.from_env()
    prices = prices or FargatePrices.from_env()
    try:
        job = client.get_job(job_id)
        if job.status != JobStatus.RUNNING:
            raise ClaimLostError(f"job {job_id} is {job.status}", "")
        chunk = client.mark_chunk_running(chunk_id(job_id, index), attempt=attempt)
    except (ClaimLostError, JobNotFoundError) as exc:
        log.warning(
            "not starting: chunk %s is not claimed for attempt %s (%s)", index, attempt, exc
        )
        return Outcome("not-ours", str(exc))
    except JobsApiError as exc:
        log.error("cannot mark the chunk running: %s", exc)
        return Outcome("unreported", str(exc))
    log.info("chunk running", extra={"fields": {"chunk": index, "orgId": job.org_id}})

    with Interrupts(time_limit) as interrupts:
        heartbeat = ChunkHeartbeat(client, job, chunk, attempt, heartbeat_interval)
        work = tempfile.TemporaryDirectory(prefix="renderlib-chunk-", dir=work_dir)
        tmp = Path(work.name)
        try:
            with heartbeat, work:
                done = _render_chunk(
                    job, chunk, client, storage, heartbeat, tmp, workers, task_size, prices
                )
                interrupts.disarm()
        except BaseException as exc:  # noqa: BLE001 - every ending is reported below
            interrupts.disarm()
            reason = without_local_paths(describe_failure(exc), tmp, storage)
            return _report_chunk_failure(client, job, chunk, exc, reason)
    try:
        client.succeed_chunk(chunk, attempt=attempt)
    except ClaimLostError as exc:
        return Outcome("not-ours", str(exc))
    except JobsApiError as exc:
        return Outcome("unreported", str(exc))
    if done.finished_job:
        return Outcome("succeeded", render_run=client.list_render_runs(job.id)[0])
    return Outcome("landed")


def _render_chunk(
    job: Job,
    chunk: RenderChunk,
    client: JobsClient,
    storage: Storage,
    heartbeat: ChunkHeartbeat,
    tmp: Path,
    workers: int | None,
    task_size: TaskSize,
    prices: FargatePrices,
) -> _ChunkDone:
    from renderlib.audio import mix_audio
    from renderlib.renderer import render_chunk

    heartbeat.set_stage("loading", 0.0)
    loaded = load_job(job, client, storage, tmp)
    if not loaded.composition.pure and chunk.start_frame > 0:
        client.add_event(
            job.id,
            "log",
            f"{chunk.name}: the page is not pure (its state builds up frame by frame), so "
            f"this chunk steps through the {chunk.start_frame} frames before its own first; "
            'mark the composition "pure" if each frame depends only on its time',
            org_id=job.org_id,
        )
    result = render_chunk(
        loaded.composition,
        tmp / "chunk" / f"{chunk.index:04d}.mp4",
        frame_range=(chunk.start_frame, chunk.end_frame),
        workers=workers,
        progress=heartbeat.render_progress,
    )
    if loaded.composition.audio:
        # Its part of the mix, so the finisher only joins the parts (renderlib/audio.py).
        heartbeat.set_stage("mixing the chunk's audio", 0.9)
        piece = mix_audio(
            loaded.composition,
            tmp / "chunk" / f"{chunk.index:04d}.wav",
            frame_range=(chunk.start_frame, chunk.end_frame),
        )
        storage.upload(
            piece, chunk_key(storage, job, loaded.video_id, chunk.index, ".wav"), "audio/wav"
        )
    heartbeat.set_stage("uploading the chunk", 0.95)
    if result.poster is not None:
        poster = tmp / "chunk" / POSTER_NAME
        poster.write_bytes(result.poster)
        storage.upload(poster, chunks_poster_key(storage, job, loaded.video_id), "image/jpeg")
    storage.upload(result.path, chunk_key(storage, job, loaded.video_id, chunk.index), "video/mp4")
    landed, _ = client.land_chunk(job.id, chunk.index)
    log.info("chunk landed: %d/%d", landed.chunks_done, landed.chunk_count)
    if landed.chunks_done < (landed.chunk_count or 0):
        return _ChunkDone(loaded, finished_job=False)
    heartbeat.set_stage("joining the chunks", 0.97)
    rendered = fan_in(client, storage, loaded, tmp / "join", finisher=chunk.index)
    outcome = report_success(client, landed, landed.retry_count, rendered, task_size, prices)
    if outcome.status != "succeeded":
        raise ClaimLostError(f"the joined video could not be recorded: {outcome.reason}", "")
    return _ChunkDone(loaded, finished_job=True)


def fan_in(
    client: JobsClient,
    storage: Storage,
    loaded: LoadedJob,
    folder: Path,
    *,
    finisher: int | None = None,
) -> Rendered:
    """Join the job's landed chunks into the final MP4 (no re-encoding; the chunks' parts
    of the audio mix joined into the whole mix), verify it and upload it and its poster:
    what report_success records.

    The run's other task seconds are each chunk's landed attempt, from its start to its
    landing, but the ``finisher`` chunk's (the calling task prices its own whole run);
    failed attempts and the task that split the job are not counted."""
    from renderlib.renderer import join_chunks

    job = loaded.job
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    chunks = client.list_chunks(job.id)
    suffixes = (".mp4", ".wav") if loaded.composition.audio else (".mp4",)
    downloaded: dict[str, list[Path]] = {suffix: [] for suffix in suffixes}
    for chunk in chunks:
        for suffix in suffixes:
            path = folder / f"{chunk.index:04d}{suffix}"
            storage.download(chunk_key(storage, job, loaded.video_id, chunk.index, suffix), path)
            downloaded[suffix].append(path)
    poster = folder / POSTER_NAME
    storage.download(chunks_poster_key(storage, job, loaded.video_id), poster)
    result = join_chunks(
        loaded.composition,
        downloaded[".mp4"],
        folder / "output" / "video.mp4",
        poster=poster.read_bytes(),
        captures=loaded.composition.frame_count,
        audio_pieces=downloaded.get(".wav"),
    )
    log.info(result.summary())
    others = tuple(
        (chunk.finished_at - chunk.started_at).total_seconds()
        for chunk in chunks
        if chunk.index != finisher and chunk.started_at and chunk.finished_at
    )
    rendered = upload_render(storage, loaded, result)
    seconds = round(time.monotonic() - started, 3)
    client.add_event(
        job.id,
        "log",
        f"joined {len(chunks)} chunks in {seconds:.1f} s (download, join, mux, verify, upload)",
        data={"joinSeconds": seconds},
        org_id=job.org_id,
    )
    return replace(rendered, other_task_seconds=others)


def _report_chunk_failure(
    client: JobsClient, job: Job, chunk: RenderChunk, exc: BaseException, reason: str
) -> Outcome:
    """Report how the chunk's attempt ended: retried alone while it has retries left;
    once it has none (or its input is bad) the job fails, naming the chunk."""
    if isinstance(exc, ClaimLostError):
        log.warning("stopped: %s", exc)
        return Outcome("not-ours", str(exc))
    try:
        current = client.get_chunk(chunk.id)
        if current.retry_count != chunk.retry_count or current.status != JobStatus.RUNNING:
            return Outcome("not-ours", reason)
        if isinstance(exc, Terminated):
            reason = f"{reason}; requeued to run again"
            client.requeue_chunk(current, reason)
            return Outcome("requeued", reason)
        final = isinstance(exc, BadInputError | TimeLimitExceeded)
        log.error("chunk attempt failed: %s", reason, exc_info=not isinstance(exc, RenderlibError))
        after = client.retry_or_fail_chunk(current, reason, give_up=final)
        if after.status != JobStatus.FAILED:
            return Outcome("requeued", reason)
        failure = f"{chunk.name} failed: {after.failure_reason}"
        client.fail(job.id, failure, expected_status=JobStatus.RUNNING, attempt=job.retry_count)
        emit_metric(log, "RendersFailed")
        return Outcome("failed", failure)
    except ClaimLostError as lost:
        log.warning("the chunk changed hands while reporting %s: %s", reason, lost)
        return Outcome("not-ours", reason)
    except JobsApiError as api_error:
        log.error("cannot report %s: %s", reason, api_error)
        return Outcome("unreported", reason)
