"""Compute and log rules: Fargate sizes, container logging, ECR scanning, Lambda
timeouts, log retention."""

import json

import pytest
from policy_testkit import check_resource

from policies.compute import (
    ecr_scan_on_push,
    ecs_container_logging,
    fargate_cpu_memory_pair,
    lambda_timeout,
)
from policies.logs import log_group_retention

TASK = "aws:ecs/taskDefinition:TaskDefinition"
LOGGING = {
    "logDriver": "awslogs",
    "options": {
        "awslogs-group": "/ecs/worker",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "worker",
    },
}


def task(cpu="4096", memory="16384", log=True):
    container = {"name": "worker", "image": "worker:latest"}
    if log:
        container["logConfiguration"] = LOGGING
    return {
        "family": "worker",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": cpu,
        "memory": memory,
        "containerDefinitions": json.dumps([container]),
    }


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        ("256", "512"),
        ("1024", "2048"),
        ("2048", "8192"),
        ("4096", "16384"),
        ("4 vCPU", "16 GB"),
        ("8192", "61440"),
        ("16384", "122880"),
    ],
)
def test_fargate_sizes_that_exist_pass(cpu, memory):
    assert check_resource(fargate_cpu_memory_pair, TASK, task(cpu, memory)) == []


def test_a_pair_fargate_does_not_offer_is_reported():
    assert check_resource(fargate_cpu_memory_pair, TASK, task("4096", "4096"), name="worker") == [
        "Task definition 'worker' asks for cpu 4096 and memory 4096, which Fargate does not "
        "offer; with cpu 4096 choose memory from 8192 to 30720 MiB (steps as in the Fargate "
        "task size table).",
    ]


@pytest.mark.parametrize(("cpu", "memory"), [("3000", "8192"), ("8192", "18432"), (None, None)])
def test_other_impossible_sizes_are_reported(cpu, memory):
    assert len(check_resource(fargate_cpu_memory_pair, TASK, task(cpu, memory))) == 1


def test_ec2_task_definitions_are_not_held_to_fargate_sizes():
    props = {**task("3000", "1000"), "requiresCompatibilities": ["EC2"]}
    assert check_resource(fargate_cpu_memory_pair, TASK, props) == []


def test_container_logging_passes_and_missing_logging_is_reported():
    assert check_resource(ecs_container_logging, TASK, task()) == []
    assert check_resource(ecs_container_logging, TASK, task(log=False), name="worker") == [
        "Container 'worker' of task definition 'worker' has no log configuration. Set "
        "logConfiguration {logDriver: 'awslogs', options: {awslogs-group, awslogs-region, "
        "awslogs-stream-prefix}}.",
    ]


@pytest.mark.parametrize("type_", ["aws:ecr/repository:Repository", "awsx:ecr:Repository"])
def test_ecr_scan_on_push(type_):
    on = {"imageScanningConfiguration": {"scanOnPush": True}}
    assert check_resource(ecr_scan_on_push, type_, on) == []
    assert check_resource(ecr_scan_on_push, type_, {"name": "worker"}, name="worker") == [
        "Repository 'worker' does not scan images on push. Set "
        "image_scanning_configuration={'scan_on_push': True}.",
    ]


def test_lambda_timeout():
    fn = "aws:lambda/function:Function"
    assert check_resource(lambda_timeout, fn, {"timeout": 30.0}) == []
    assert check_resource(lambda_timeout, fn, {}) == []  # Lambda's default is 3 s
    assert check_resource(lambda_timeout, fn, {"timeout": 300.0}, name="dispatcher") == [
        "Lambda 'dispatcher' may run 300 s; keep it at 60 s or less (the dispatcher only "
        "claims jobs and starts tasks, so a long run means it is stuck).",
    ]
    assert (
        check_resource(lambda_timeout, fn, {"timeout": 300.0}, config={"maxTimeoutSeconds": 300})
        == []
    )


def test_log_group_retention():
    group = "aws:cloudwatch/logGroup:LogGroup"
    assert check_resource(log_group_retention, group, {"retentionInDays": 7.0}) == []
    expected = [
        "Log group 'worker' keeps its logs forever. Set retention_in_days (the farm uses 7)."
    ]
    assert check_resource(log_group_retention, group, {"name": "/ecs/w"}, name="worker") == expected
    assert (
        check_resource(log_group_retention, group, {"retentionInDays": 0.0}, name="worker")
        == expected
    )


def test_the_pack_and_the_program_allow_the_same_fargate_sizes():
    # Two copies on purpose (the pack may not import the program); they must agree.
    from infra.settings import FARGATE_SIZES as program_sizes
    from policies.compute import FARGATE_SIZES as pack_sizes

    assert {cpu: list(sizes) for cpu, sizes in program_sizes.items()} == pack_sizes
