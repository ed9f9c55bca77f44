"""The worker task's entrypoint: ``python -m handlers.worker``.

Environment: JOB_ID, JOB_ATTEMPT (the job's retryCount at launch, or with CHUNK_INDEX the
chunk's: the task then renders that chunk of the job), JOBS_API_URL and
JOBS_API_AUTH (see JobsClient.from_env), RENDER_BUCKET or RENDERLIB_STORAGE,
JOB_TIME_LIMIT_SECONDS (default 3600), HEARTBEAT_INTERVAL_SECONDS (default 20),
RENDER_WORKERS (browsers; default from the CPU count), CHUNK_AFTER_SECONDS and
CHUNK_SECONDS (the farm's default chunking, renderlib/farm/chunking.py), LOG_LEVEL,
ECS_CLUSTER; for the RenderRun's cost TASK_CPU, TASK_MEMORY, TASK_EPHEMERAL_STORAGE_GIB
and FARGATE_*_USD (renderlib/cost.py; default: this machine's size at us-east-1 prices).
Exit code 0 when the job's outcome was recorded (succeeded, failed, requeued, or it
was not this attempt's), 1 when it could not be, 2 on a configuration error.
"""

from __future__ import annotations

import logging
import os
import sys

from renderlib.cost import FargatePrices, TaskSize
from renderlib.errors import RenderlibError
from renderlib.farm.chunk_worker import run_chunk_worker
from renderlib.farm.chunking import ChunkPolicy
from renderlib.farm.logs import configure_logging
from renderlib.farm.storage import storage_from_env
from renderlib.farm.worker import run_worker
from renderlib.jobs.client import JobsClient

log = logging.getLogger("handlers.worker")


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    job_id = env.get("JOB_ID", "")
    configure_logging(
        {
            "jobId": job_id or None,
            "attempt": _int_or_none(env.get("JOB_ATTEMPT")),
            "chunk": _int_or_none(env.get("CHUNK_INDEX")),
        },
        env.get("LOG_LEVEL") or "INFO",
    )
    try:
        if not job_id:
            raise RenderlibError("JOB_ID is not set: the dispatcher passes it to the task")
        attempt = _number(env, "JOB_ATTEMPT", int, None)
        if attempt is None:
            raise RenderlibError("JOB_ATTEMPT is not set: the dispatcher passes it to the task")
        time_limit = _number(env, "JOB_TIME_LIMIT_SECONDS", float, 3600.0)
        interval = _number(env, "HEARTBEAT_INTERVAL_SECONDS", float, 20.0)
        workers = _number(env, "RENDER_WORKERS", int, None)
        chunk = _number(env, "CHUNK_INDEX", int, None)
        policy = ChunkPolicy.from_env(env)
        client = JobsClient.from_env(env)
        storage = storage_from_env(env)
        task_size, prices = TaskSize.from_env(env), FargatePrices.from_env(env)
    except RenderlibError as exc:
        log.error("worker not started: %s", exc)
        return 2
    options = dict(
        client=client,
        storage=storage,
        time_limit=time_limit,
        heartbeat_interval=interval,
        workers=workers,
        task_size=task_size,
        prices=prices,
    )
    if chunk is None:
        outcome = run_worker(job_id, attempt, policy=policy, **options)
    else:
        outcome = run_chunk_worker(job_id, chunk, attempt, **options)
    log.info("worker done: %s", outcome.status, extra={"fields": {"reason": outcome.reason}})
    return outcome.exit_code


def _number(env: dict[str, str], name: str, kind: type, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return kind(raw)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise RenderlibError(f"{name}={raw!r} is not {expected}") from None


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


if __name__ == "__main__":
    sys.exit(main())
