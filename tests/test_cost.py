"""renderlib.cost: the Fargate pricing arithmetic the worker and the estimator share."""

from __future__ import annotations

import pytest

from renderlib.cost import FargatePrices, TaskSize, machine_size, run_cost, task_cost
from renderlib.errors import ConfigError

PROD = TaskSize.from_ecs(4096, 16384, 50)
NO_STARTUP = FargatePrices(billed_startup_seconds=0)


def test_prod_task_size_from_the_task_definition():
    assert (PROD.vcpu, PROD.memory_gb, PROD.storage_gb) == (4, 16, 50)
    assert PROD.describe() == "4 vCPU / 16 GB"


def test_an_hour_of_the_prod_task_at_us_east_1_prices():
    # 4 x 0.04048 + 16 x 0.004445 + (50 - 20) x 0.000111
    assert task_cost(PROD, NO_STARTUP, 3600) == pytest.approx(0.16192 + 0.07112 + 0.00333)


def test_startup_is_billed_and_a_minute_is_the_minimum():
    size = TaskSize(1, 2)
    hourly = 0.04048 + 2 * 0.004445
    assert task_cost(size, NO_STARTUP, 5) == pytest.approx(hourly * 60 / 3600)
    assert task_cost(size, FargatePrices(), 100) == pytest.approx(hourly * 145 / 3600)


def test_a_chunked_run_sums_its_tasks_each_with_its_own_minimum():
    size = TaskSize(1, 2)
    one = run_cost(size, NO_STARTUP, [600])
    chunks = run_cost(size, NO_STARTUP, [300, 270, 30])
    assert (chunks.tasks, chunks.task_seconds) == (3, 600)
    # The 30 s chunk is billed as 60 s.
    assert chunks.cost_usd == pytest.approx(one.cost_usd * 630 / 600)
    with pytest.raises(ValueError, match="one or more"):
        run_cost(size, NO_STARTUP, [])


def test_prices_and_size_from_the_environment():
    env = {
        "TASK_CPU": "2048",
        "TASK_MEMORY": "8192",
        "TASK_EPHEMERAL_STORAGE_GIB": "30",
        "FARGATE_VCPU_HOUR_USD": "0.05",
        "FARGATE_GB_HOUR_USD": "0.006",
        "FARGATE_STORAGE_GB_HOUR_USD": "0",
        "FARGATE_BILLED_STARTUP_SECONDS": "10",
    }
    assert TaskSize.from_env(env) == TaskSize(2, 8, 30)
    assert FargatePrices.from_env(env) == FargatePrices(0.05, 0.006, 0, 10)
    assert FargatePrices.from_env({}) == FargatePrices()
    # Unset size: a task the size of this machine (the local farm).
    assert TaskSize.from_env({}) == TaskSize(machine_size().vcpu, machine_size().memory_gb)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"FARGATE_VCPU_HOUR_USD": "cheap"}, "FARGATE_VCPU_HOUR_USD must be a number"),
        ({"FARGATE_GB_HOUR_USD": "-1"}, "FARGATE_GB_HOUR_USD must not be negative"),
        ({"TASK_CPU": "0"}, "needs vCPUs and memory above 0"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        TaskSize.from_env(env)
        FargatePrices.from_env(env)
