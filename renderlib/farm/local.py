"""The local farm: the cloud's code paths on one machine, with no AWS.

    jobs API       renderlib.jobs.server over SQLite     (cloud: AppSync + DynamoDB)
    dispatcher     renderlib.farm.dispatcher             (cloud: the same, in Lambda)
    job stream     a poll of the queues (jobs, chunks)   (cloud: the Job table's stream)
                   every 0.5 s
    sweep          every ``sweep_interval`` seconds      (cloud: EventBridge schedule)
    STOPPED events LocalLauncher.stopped_events()        (cloud: ECS via EventBridge)
    worker tasks   ``python -m handlers.worker`` processes, one per job (or chunk) attempt
    S3             the folder FOLDER/storage              (cloud: the render bucket)

The API's origin also serves the farm page at / (renderlib/jobs/web/) and the stored
renders it links to. Everything lives in one folder: jobs.db, api-keys.json (the farm's
key and one per org: renderlib/jobs/api_keys.py), storage/ (generation runs,
renders/...) and logs/ (one log per worker process). The API listens on loopback unless
told otherwise, and answers only requests carrying one of those keys; the dispatcher and
workers use the farm's.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from renderlib.farm.chunking import ChunkPolicy
from renderlib.farm.dispatcher import handle_event
from renderlib.farm.launcher import LocalLauncher
from renderlib.farm.settings import DispatchSettings
from renderlib.farm.storage import LocalStorage
from renderlib.jobs.api_keys import KEYS_FILE, ApiKeys
from renderlib.jobs.auth import ApiKeyAuth
from renderlib.jobs.client import JobsClient
from renderlib.jobs.server import GRAPHQL_PATH, RunningServer, start_server

log = logging.getLogger("renderlib.farm.local")

SCHEDULED_EVENT = {"detail-type": "Scheduled Event", "source": "renderlib.local", "detail": {}}


def queued_stream_event(job_ids: list[str]) -> dict:
    """What the Job table's stream would deliver for these newly queued render jobs."""
    return {
        "Records": [
            {
                "eventName": "INSERT",
                "eventSource": "renderlib.local",
                "dynamodb": {
                    "NewImage": {
                        "id": {"S": job_id},
                        "status": {"S": "queued"},
                        "kind": {"S": "render"},
                    }
                },
            }
            for job_id in job_ids
        ]
    }


def split_stream_event(job_ids: list[str]) -> dict:
    """What the Job table's stream would deliver for these jobs just split into chunks."""
    return {
        "Records": [
            {
                "eventName": "MODIFY",
                "eventSource": "renderlib.local",
                "dynamodb": {
                    "OldImage": {"id": {"S": job_id}, "status": {"S": "running"}},
                    "NewImage": {
                        "id": {"S": job_id},
                        "status": {"S": "running"},
                        "kind": {"S": "render"},
                        "chunkCount": {"N": "0"},
                    },
                },
            }
            for job_id in job_ids
        ]
    }


@dataclass
class FarmConfig:
    folder: Path
    max_concurrent: int = 2
    port: int = 4000
    host: str = "127.0.0.1"
    render_workers: int | None = None  # browsers per job; None: the worker decides
    orgs: tuple[str, ...] = ("demo",)  # orgs given a key in api-keys.json (more can be added)
    poll_interval: float = 0.5
    sweep_interval: float = 15.0
    heartbeat_interval: float = 10.0
    heartbeat_lease: float = 60.0
    stop_timeout: float = 30.0


class LocalFarm:
    """``with LocalFarm(config) as farm:`` runs the API, the dispatcher thread and the
    workers it launches; leaving the block stops the dispatcher, SIGTERMs the workers (each
    requeues its job) and then stops the API."""

    def __init__(self, config: FarmConfig) -> None:
        self.config = config
        self.folder = Path(config.folder).resolve()
        self.storage = self.folder / "storage"
        self.keys = ApiKeys(self.folder / KEYS_FILE)
        self.server: RunningServer | None = None
        self.client: JobsClient | None = None
        self.launcher: LocalLauncher | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "the farm is not started"
        return self.server.url

    @property
    def page_url(self) -> str:
        """The farm page, beside the API on the same origin."""
        return self.url.removesuffix(GRAPHQL_PATH) + "/"

    def __enter__(self) -> LocalFarm:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> None:
        config = self.config
        self.storage.mkdir(parents=True, exist_ok=True)
        self.keys = ApiKeys.create(self.keys.path, config.orgs)
        self.server = start_server(
            self.folder / "jobs.db",
            self.keys,
            port=config.port,
            host=config.host,
            storage=self.storage,
        )
        farm_key = self.keys.farm_key()
        self.client = JobsClient(
            self.server.url, ApiKeyAuth(farm_key), retries=2, backoff_seconds=0.2
        )
        env = {
            "JOBS_API_URL": self.server.url,
            "JOBS_API_AUTH": "api_key",
            "JOBS_API_KEY": farm_key,
            "RENDERLIB_STORAGE": str(self.storage),
            "HEARTBEAT_INTERVAL_SECONDS": str(config.heartbeat_interval),
            "ECS_CLUSTER": "local",
        }
        if config.render_workers:
            env["RENDER_WORKERS"] = str(config.render_workers)
        self.launcher = LocalLauncher(env, self.folder / "logs")
        self.settings = DispatchSettings(
            max_concurrent_tasks=config.max_concurrent,
            heartbeat_lease_seconds=config.heartbeat_lease,
            claim_timeout_seconds=max(60.0, 4 * config.heartbeat_lease),
            # The workers' policy: they inherit this process's environment.
            chunk_policy=ChunkPolicy.from_env(),
        )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="farm-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching first (so nothing relaunches), then the workers, then the API."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.launcher is not None:
            self.launcher.stop_all(self.config.stop_timeout)
        if self.server is not None:
            self.server.stop()

    def _run(self) -> None:
        next_sweep = 0.0
        while not self._stop.is_set():
            try:
                for event in self.launcher.stopped_events():
                    self._handle(event)
                if time.monotonic() >= next_sweep:
                    self._handle(SCHEDULED_EVENT)
                    next_sweep = time.monotonic() + self.config.sweep_interval
                elif self.launcher.active_task_count() < self.config.max_concurrent:
                    queued = self.client.list_queued_render_jobs(limit=self.config.max_concurrent)
                    # Only what the stream would call new: a requeued job carries its
                    # failureReason and is left to the sweep, as in the cloud.
                    new = [job.id for job in queued if job.failure_reason is None]
                    if new:
                        self._handle(queued_stream_event(new))
                    split = {
                        chunk.job_id
                        for chunk in self.client.iter_chunks("queued")
                        if chunk.failure_reason is None
                    }
                    if split:
                        self._handle(split_stream_event(sorted(split)))
            except Exception:  # noqa: BLE001 - keep dispatching; the sweep catches up
                log.exception("dispatcher loop failed; retrying")
            self._stop.wait(self.config.poll_interval)

    def _handle(self, event: dict) -> None:
        handle_event(
            event,
            client=self.client,
            launcher=self.launcher,
            settings=self.settings,
            agent_id="local-farm",
            storage=LocalStorage(self.storage),
        )
