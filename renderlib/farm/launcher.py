"""Launchers start one worker task per job (or chunk) attempt and report on the tasks they started.

The dispatcher sees only this interface:

- ``active_task_count()``: worker tasks that are starting or running now (the capacity
  already in use, whoever started those tasks);
- ``launch(job, attempt, chunk=None) -> task id``: start the worker for that attempt of the
  job (or, given ``chunk``, of that chunk of it), idempotently (launching the same attempt
  twice yields the same task); LaunchError when it cannot;
- ``task_states(task_ids)``: what became of tasks (absent from the answer: unknown).

``EcsLauncher`` runs Fargate tasks with RunTask; ``LocalLauncher`` runs the same worker
entry point (``python -m handlers.worker``) as a local process with the same environment
contract (JOB_ID, JOB_ATTEMPT, CHUNK_INDEX for a chunk) and reports exits as ECS "Task
State Change" events.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from renderlib.errors import BadInputError, LaunchError
from renderlib.farm.running_workers import RunningWorkers
from renderlib.farm.settings import EcsSettings
from renderlib.jobs.fields import TOKEN_RULE, is_token
from renderlib.jobs.records import Job

STOPPED = "STOPPED"
# DescribeTasks takes at most 100 tasks a call.
DESCRIBE_BATCH = 100


@dataclass(frozen=True)
class TaskState:
    """A task as ECS describes it (or as a local process looks in the same terms)."""

    task_id: str
    last_status: str
    stop_code: str | None = None
    stopped_reason: str | None = None
    exit_code: int | None = None
    container_reason: str | None = None

    @property
    def stopped(self) -> bool:
        return self.last_status == STOPPED

    def describe(self) -> str:
        """Why the task stopped, in words a failureReason can carry."""
        parts = [f"task {self.task_id} {self.last_status.lower()}"]
        if self.stop_code:
            parts.append(f"stop code {self.stop_code}")
        if self.exit_code is not None:
            parts.append(f"exit code {self.exit_code}")
        for reason in (self.container_reason, self.stopped_reason):
            if reason:
                parts.append(reason)
        return ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]


class Launcher(Protocol):
    def active_task_count(self) -> int: ...

    def launch(self, job: Job, attempt: int, chunk: int | None = None) -> str: ...

    def task_states(self, task_ids: Sequence[str]) -> dict[str, TaskState]: ...


def client_token(job_id: str, attempt: int, chunk: int | None = None) -> str:
    """RunTask's idempotency token for one attempt of one job, or of one chunk of it
    (``<job>:<chunk>:<attempt>``; ECS: <= 64 printable ASCII characters, kept 24 h): a
    retried launch of the same attempt finds its task."""
    token = f"{job_id}:{attempt}" if chunk is None else f"{job_id}:{chunk}:{attempt}"
    if len(token) <= 64 and all(33 <= ord(c) <= 126 for c in token):
        return token
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:57]


def job_tags(job: Job) -> dict[str, str]:
    """JobId, VideoId and OrgId, as tags on the task (a job whose input is not valid JSON
    is still launched: its worker fails it with a reason the studio can read)."""
    try:
        video_id = job.input.get("videoId")
    except BadInputError:
        video_id = None
    tags = {"JobId": job.id, "OrgId": job.org_id}
    if isinstance(video_id, str) and video_id:
        tags["VideoId"] = video_id[:256]
    return tags


def worker_environment(job_id: str, attempt: int, chunk: int | None = None) -> dict[str, str]:
    env = {"JOB_ID": job_id, "JOB_ATTEMPT": str(attempt)}
    if chunk is not None:
        env["CHUNK_INDEX"] = str(chunk)
    return env


def attempt_name(job: Job, attempt: int, chunk: int | None) -> str:
    """How messages name a launch: "job J attempt 2", "job J chunk 3 attempt 0"."""
    return f"job {job.id} {'' if chunk is None else f'chunk {chunk} '}attempt {attempt}"


class EcsLauncher:
    """Fargate tasks of one task definition family in one cluster, through boto3's ECS client."""

    def __init__(self, ecs: Any, settings: EcsSettings) -> None:
        self.ecs = ecs
        self.settings = settings

    def active_task_count(self) -> int:
        # desiredStatus RUNNING lists PROVISIONING, PENDING and RUNNING tasks.
        count = 0
        pages = self.ecs.get_paginator("list_tasks").paginate(
            cluster=self.settings.cluster,
            family=self.settings.task_family,
            desiredStatus="RUNNING",
        )
        for page in pages:
            count += len(page["taskArns"])
        return count

    def launch(self, job: Job, attempt: int, chunk: int | None = None) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        settings = self.settings
        environment = worker_environment(job.id, attempt, chunk)
        try:
            response = self.ecs.run_task(
                cluster=settings.cluster,
                taskDefinition=settings.task_definition,
                launchType="FARGATE",
                count=1,
                clientToken=client_token(job.id, attempt, chunk),
                startedBy=settings.started_by,
                tags=[{"key": k, "value": v} for k, v in job_tags(job).items()],
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": list(settings.subnets),
                        "securityGroups": list(settings.security_groups),
                        "assignPublicIp": "DISABLED",
                    }
                },
                overrides={
                    "containerOverrides": [
                        {
                            "name": settings.container_name,
                            "environment": [
                                {"name": k, "value": v} for k, v in environment.items()
                            ],
                        }
                    ]
                },
            )
        except (ClientError, BotoCoreError) as exc:
            # A timeout or a 5xx may hide a task that did start: the next launch of this
            # attempt reuses the client token and gets that task back instead of a second.
            raise LaunchError(
                f"RunTask for {attempt_name(job, attempt, chunk)} failed: {exc}",
                task_may_exist=True,
            ) from exc
        tasks = response.get("tasks") or []
        if not tasks:
            failures = "; ".join(
                f"{f.get('reason', 'unknown')}" + (f" ({f['detail']})" if f.get("detail") else "")
                for f in response.get("failures") or []
            )
            raise LaunchError(
                f"ECS could not start a task for {attempt_name(job, attempt, chunk)}: "
                f"{failures or 'no task returned'}",
                task_may_exist=False,
            )
        return tasks[0]["taskArn"]

    def task_states(self, task_ids: Sequence[str]) -> dict[str, TaskState]:
        states: dict[str, TaskState] = {}
        ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(ids), DESCRIBE_BATCH):
            response = self.ecs.describe_tasks(
                cluster=self.settings.cluster, tasks=ids[start : start + DESCRIBE_BATCH]
            )
            for task in response.get("tasks") or []:
                state = task_state_from_ecs(task, self.settings.container_name)
                states[state.task_id] = state
        return states


def task_state_from_ecs(task: Mapping[str, Any], container_name: str) -> TaskState:
    """A TaskState from a DescribeTasks task or an ECS Task State Change event's detail."""
    container = next(
        (c for c in task.get("containers") or [] if c.get("name") == container_name),
        None,
    )
    return TaskState(
        task_id=task["taskArn"],
        last_status=task.get("lastStatus") or "UNKNOWN",
        stop_code=task.get("stopCode"),
        stopped_reason=task.get("stoppedReason"),
        exit_code=container.get("exitCode") if container else None,
        container_reason=container.get("reason") if container else None,
    )


@dataclass
class _Process:
    task_id: str
    job_id: str
    attempt: int
    chunk: int | None
    popen: subprocess.Popen
    reported: bool = False


class LocalLauncher:
    """One local worker process per job attempt, the way ECS runs one task per attempt.

    The process gets this process's environment, ``env`` (the jobs API URL, the storage
    folder...) and JOB_ID/JOB_ATTEMPT; its output goes to ``log_dir/<job>-<attempt>.log``.
    It runs in its own session, so a Ctrl-C in the terminal reaches the farm only and the
    farm stops workers with SIGTERM, as ECS does. Each worker is recorded in
    ``log_dir/running``, so the active count covers every live worker of the folder, not
    only this process's (see running_workers).
    """

    CONTAINER_NAME = "worker"

    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path,
        command: Sequence[str] = (sys.executable, "-m", "handlers.worker"),
    ) -> None:
        self.env = dict(env)
        self.log_dir = Path(log_dir)
        self.command = list(command)
        self._processes: dict[str, _Process] = {}
        self._by_token: dict[str, str] = {}
        self._lock = threading.Lock()
        self._running = RunningWorkers(self.log_dir / "running")

    def active_task_count(self) -> int:
        with self._lock:
            for process in self._processes.values():
                process.popen.poll()  # reap this process's exited workers: no zombie counts
            return self._running.count()

    def launch(self, job: Job, attempt: int, chunk: int | None = None) -> str:
        if not is_token(job.id):  # it names the log file
            raise LaunchError(
                f"job id {job.id!r} is not a valid id: use {TOKEN_RULE}", task_may_exist=False
            )
        token = client_token(job.id, attempt, chunk)
        with self._lock:
            if token in self._by_token:
                return self._by_token[token]
            self.log_dir.mkdir(parents=True, exist_ok=True)
            part = "" if chunk is None else f"chunk{chunk}-"
            log_path = self.log_dir / f"{job.id}-{part}{attempt}.log"
            env = {**os.environ, **self.env, **worker_environment(job.id, attempt, chunk)}
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(project_root()), env.get("PYTHONPATH")) if p
            )
            try:
                with open(log_path, "ab") as log:
                    popen = subprocess.Popen(
                        self.command,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            except OSError as exc:
                raise LaunchError(
                    f"cannot start the worker for job {job.id}: {exc}", task_may_exist=False
                ) from exc
            self._running.add(popen.pid, job.id, attempt)
            task_id = f"local-task/{popen.pid}"
            self._processes[task_id] = _Process(task_id, job.id, attempt, chunk, popen)
            self._by_token[token] = task_id
            return task_id

    def task_states(self, task_ids: Sequence[str]) -> dict[str, TaskState]:
        with self._lock:
            return {
                task_id: self._state(self._processes[task_id])
                for task_id in task_ids
                if task_id in self._processes
            }

    def stopped_events(self) -> list[dict]:
        """ECS-shaped "Task State Change" events for processes that exited since the last call."""
        events = []
        with self._lock:
            for process in self._processes.values():
                if process.reported or process.popen.poll() is None:
                    continue
                process.reported = True
                events.append(self._stopped_event(process))
        return events

    def stop_all(self, timeout: float = 30.0) -> None:
        """SIGTERM every live worker (each requeues its job), SIGKILL any left after ``timeout``."""
        with self._lock:
            live = [p.popen for p in self._processes.values() if p.popen.poll() is None]
        for popen in live:
            _signal(popen, signal.SIGTERM)
        for popen in live:
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal(popen, signal.SIGKILL)
                popen.wait()

    def _state(self, process: _Process) -> TaskState:
        code = process.popen.poll()
        if code is None:
            return TaskState(process.task_id, "RUNNING")
        return TaskState(
            process.task_id,
            STOPPED,
            stop_code="EssentialContainerExited",
            stopped_reason="Essential container in task exited",
            exit_code=code if code >= 0 else 128 - code,
            container_reason=None if code >= 0 else f"killed by signal {-code}",
        )

    def _stopped_event(self, process: _Process) -> dict:
        state = self._state(process)
        return {
            "source": "renderlib.local",
            "detail-type": "ECS Task State Change",
            "detail": {
                "taskArn": process.task_id,
                "lastStatus": state.last_status,
                "stopCode": state.stop_code,
                "stoppedReason": state.stopped_reason,
                "containers": [
                    {
                        "name": self.CONTAINER_NAME,
                        "exitCode": state.exit_code,
                        "reason": state.container_reason,
                    }
                ],
                "overrides": {
                    "containerOverrides": [
                        {
                            "name": self.CONTAINER_NAME,
                            "environment": [
                                {"name": name, "value": value}
                                for name, value in worker_environment(
                                    process.job_id, process.attempt, process.chunk
                                ).items()
                            ],
                        }
                    ]
                },
            },
        }


def _signal(popen: subprocess.Popen, signum: int) -> None:
    """SIGTERM goes to the worker alone (it stops its own browsers and encoders, as ECS's
    init process forwards it); SIGKILL to its whole process group, as when ECS kills a task."""
    try:
        if signum == signal.SIGKILL:
            os.killpg(popen.pid, signum)
        else:
            popen.send_signal(signum)
    except ProcessLookupError:
        pass


def project_root() -> Path:
    """The folder holding the renderlib and handlers packages (a checkout, or site-packages)."""
    return Path(__file__).resolve().parents[2]
