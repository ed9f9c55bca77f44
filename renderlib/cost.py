"""What Fargate charges for render tasks: one pricing model for the worker and the estimator.

Fargate bills each task per second, with a one-minute minimum, for the vCPU and memory
its task definition reserves (not what it uses), plus ephemeral storage beyond the
20 GB every task gets, from the start of its image pull until it stops. The worker can
measure only its own process; the image pull and container start before it are added
as ``billed_startup_seconds`` (docs/worker.md says what is and is not counted).

Defaults are AWS's published on-demand prices for us-east-1, Linux (docs/worker.md cites
them and their date); other regions, or a discount, are set through stack config, which
infra hands the worker as the environment variables ``from_env`` reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from renderlib.errors import ConfigError

# us-east-1 Fargate on-demand, Linux, USD (aws.amazon.com/fargate/pricing).
X86_64_PRICES = {"vcpu_hour": 0.04048, "gb_hour": 0.004445}
ARM64_PRICES = {"vcpu_hour": 0.03238, "gb_hour": 0.00356}
STORAGE_GB_HOUR = 0.000111
INCLUDED_STORAGE_GB = 20.0
MINIMUM_BILLED_SECONDS = 60.0
# Image pull (30-60 s for the ~470 MB image) and container start: billed, unseen by the worker.
BILLED_STARTUP_SECONDS = 45.0


@dataclass(frozen=True)
class FargatePrices:
    """USD per vCPU-hour, per GB-hour of memory, per GB-hour of storage beyond 20 GB."""

    vcpu_hour: float = X86_64_PRICES["vcpu_hour"]
    gb_hour: float = X86_64_PRICES["gb_hour"]
    storage_gb_hour: float = STORAGE_GB_HOUR
    billed_startup_seconds: float = BILLED_STARTUP_SECONDS

    def __post_init__(self) -> None:
        for name in ("vcpu_hour", "gb_hour", "storage_gb_hour", "billed_startup_seconds"):
            if getattr(self, name) < 0:
                raise ConfigError(f"Fargate price {name} must not be negative")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FargatePrices:
        env = os.environ if env is None else env
        return cls(
            vcpu_hour=_number(env, "FARGATE_VCPU_HOUR_USD", X86_64_PRICES["vcpu_hour"]),
            gb_hour=_number(env, "FARGATE_GB_HOUR_USD", X86_64_PRICES["gb_hour"]),
            storage_gb_hour=_number(env, "FARGATE_STORAGE_GB_HOUR_USD", STORAGE_GB_HOUR),
            billed_startup_seconds=_number(
                env, "FARGATE_BILLED_STARTUP_SECONDS", BILLED_STARTUP_SECONDS
            ),
        )


@dataclass(frozen=True)
class TaskSize:
    """What one task reserves: vCPUs, memory (GB, as Fargate bills it: 1 GB = 1024 MiB)
    and ephemeral storage (GB)."""

    vcpu: float
    memory_gb: float
    storage_gb: float = INCLUDED_STORAGE_GB

    def __post_init__(self) -> None:
        if self.vcpu <= 0 or self.memory_gb <= 0 or self.storage_gb < 0:
            raise ConfigError(f"a task size needs vCPUs and memory above 0, got {self}")

    @classmethod
    def from_ecs(cls, cpu_units: int, memory_mib: int, storage_gib: float = 20) -> TaskSize:
        """From a task definition's ``cpu`` (1024 units a vCPU) and ``memory`` (MiB)."""
        return cls(cpu_units / 1024, memory_mib / 1024, storage_gib)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TaskSize:
        """TASK_CPU (units), TASK_MEMORY (MiB), TASK_EPHEMERAL_STORAGE_GIB as infra sets
        them; where they are unset (the local farm) a task the size of this machine."""
        env = os.environ if env is None else env
        machine = machine_size()
        return cls.from_ecs(
            _number(env, "TASK_CPU", machine.vcpu * 1024),
            _number(env, "TASK_MEMORY", machine.memory_gb * 1024),
            _number(env, "TASK_EPHEMERAL_STORAGE_GIB", INCLUDED_STORAGE_GB),
        )

    def describe(self) -> str:
        return f"{self.vcpu:g} vCPU / {self.memory_gb:g} GB"


@dataclass(frozen=True)
class RunCost:
    """A run's tasks: how many, their measured seconds summed, and what Fargate bills."""

    tasks: int
    task_seconds: float
    cost_usd: float


def task_cost(size: TaskSize, prices: FargatePrices, seconds: float) -> float:
    """USD for one task whose process ran ``seconds``: the unseen startup added, the
    one-minute minimum applied."""
    billed_hours = max(MINIMUM_BILLED_SECONDS, seconds + prices.billed_startup_seconds) / 3600
    extra_storage = max(0.0, size.storage_gb - INCLUDED_STORAGE_GB)
    hourly = (
        size.vcpu * prices.vcpu_hour
        + size.memory_gb * prices.gb_hour
        + extra_storage * prices.storage_gb_hour
    )
    return hourly * billed_hours


def run_cost(size: TaskSize, prices: FargatePrices, task_seconds: Iterable[float]) -> RunCost:
    """The cost of a run made of tasks of ``size`` that ran these seconds each (one for a
    single-task render, one a chunk task for a chunked one)."""
    durations = [float(s) for s in task_seconds]
    if not durations or any(s < 0 for s in durations):
        raise ValueError(f"task durations must be one or more seconds >= 0, got {durations}")
    return RunCost(
        tasks=len(durations),
        task_seconds=sum(durations),
        cost_usd=sum(task_cost(size, prices, s) for s in durations),
    )


def machine_size() -> TaskSize:
    """This machine as a task: its CPUs and physical memory."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return TaskSize(float(os.cpu_count() or 1), memory / 2**30)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value
