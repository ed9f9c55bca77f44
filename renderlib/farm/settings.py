"""Dispatcher settings, read from the environment infra gives the dispatcher Lambda.

Two groups: how the dispatcher behaves (``DispatchSettings``, used by the cloud and the
local farm alike) and where ECS tasks run (``EcsSettings``, cloud only). Every value is
checked here, so a bad deployment fails with a message naming the variable to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from renderlib.errors import ConfigError
from renderlib.farm.chunking import ChunkPolicy

# Who starts worker tasks, as ECS records it (startedBy, at most 36 characters).
STARTED_BY = "babulus-dispatcher"


@dataclass(frozen=True)
class DispatchSettings:
    """How many tasks may run, when a job counts as lost, how much work one call may do."""

    max_concurrent_tasks: int
    # A running job whose heartbeat is older than this is presumed dead.
    heartbeat_lease_seconds: float = 180.0
    # A claimed job whose worker has not marked it running after this long is presumed
    # lost (its task hangs, or the dispatcher died between claim and launch).
    claim_timeout_seconds: float = 900.0
    # Bounded work per invocation: at most this many launches and this many jobs read.
    max_launches_per_call: int = 50
    max_jobs_examined: int = 500
    # Stop starting new work when less than this much of the invocation's time is left.
    time_margin_seconds: float = 5.0
    # The Cluster dimension of the metrics (the ECS cluster name; "local" for the local farm).
    metrics_cluster: str = "local"
    # Which jobs are split into chunks (the same policy the workers apply).
    chunk_policy: ChunkPolicy = field(default_factory=ChunkPolicy)

    def __post_init__(self) -> None:
        if self.max_concurrent_tasks < 1:
            raise ConfigError(
                f"max concurrent tasks must be at least 1, got {self.max_concurrent_tasks}"
            )
        if self.max_launches_per_call < 1 or self.max_jobs_examined < 1:
            raise ConfigError("max launches per call and max jobs examined must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DispatchSettings:
        env = os.environ if env is None else env
        return cls(
            max_concurrent_tasks=_int(env, "MAX_CONCURRENT_TASKS", None, minimum=1),
            heartbeat_lease_seconds=_int(env, "HEARTBEAT_LEASE_SECONDS", 180, minimum=10),
            claim_timeout_seconds=_int(env, "CLAIM_TIMEOUT_SECONDS", 900, minimum=60),
            max_launches_per_call=_int(env, "MAX_LAUNCHES_PER_CALL", 50, minimum=1),
            max_jobs_examined=_int(env, "MAX_JOBS_EXAMINED", 500, minimum=1),
            metrics_cluster=_required(env, "ECS_CLUSTER"),
            chunk_policy=ChunkPolicy.from_env(env),
        )


@dataclass(frozen=True)
class EcsSettings:
    """Where and how worker tasks are launched on Fargate."""

    cluster: str
    task_definition: str
    task_family: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    container_name: str
    started_by: str = STARTED_BY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EcsSettings:
        env = os.environ if env is None else env
        task_definition = _required(env, "TASK_DEFINITION")
        return cls(
            cluster=_required(env, "ECS_CLUSTER"),
            task_definition=task_definition,
            task_family=env.get("TASK_FAMILY") or _family(task_definition),
            subnets=_list(env, "SUBNETS"),
            security_groups=_list(env, "SECURITY_GROUPS"),
            container_name=_required(env, "CONTAINER_NAME"),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: the dispatcher needs it (see docs/farm.md)")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in _required(env, name).split(",") if part.strip())
    if not items:
        raise ConfigError(f"{name} must be a comma-separated list of ids, got {env[name]!r}")
    return items


def _int(env: Mapping[str, str], name: str, default: int | None, *, minimum: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"{name} is not set: the dispatcher needs it (see docs/farm.md)")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _family(task_definition: str) -> str:
    """The family of ``family``, ``family:3`` or a task definition ARN."""
    return task_definition.rsplit("/", 1)[-1].split(":", 1)[0]
