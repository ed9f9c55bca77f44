"""Compute rules: Fargate task sizes and logging, image scanning, Lambda timeouts."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .props import as_list, lookup, parse_json

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
AWSX_ECR_REPOSITORY = "awsx:ecr:Repository"
LAMBDA_FUNCTION = "aws:lambda/function:Function"

# Fargate's allowed task sizes: CPU units -> memory MiB
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html).
FARGATE_SIZES: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}
DEFAULT_MAX_LAMBDA_TIMEOUT = 60

_AMOUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def _units(value: Any, unit_word: str, per_unit: int) -> int | None:
    """'1024' or 1024.0 -> 1024; '1 vCPU' / '2 GB' -> the number times ``per_unit``."""
    if isinstance(value, (int, float)):
        return int(value)
    match = _AMOUNT.match(str(value)) if value is not None else None
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2).lower()
    if not unit:
        return int(number)
    return int(number * per_unit) if unit == unit_word else None


def _sizes_hint(cpu: int | None) -> str:
    if cpu in FARGATE_SIZES:
        sizes = FARGATE_SIZES[cpu]
        return f"with cpu {cpu} choose memory from {sizes[0]} to {sizes[-1]} MiB"
    return f"choose cpu from {', '.join(str(c) for c in FARGATE_SIZES)}"


def _check_fargate_size(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    if "FARGATE" not in as_list(lookup(args.props, "requiresCompatibilities")):
        return
    raw_cpu, raw_memory = lookup(args.props, "cpu"), lookup(args.props, "memory")
    cpu = _units(raw_cpu, "vcpu", 1024)
    memory = _units(raw_memory, "gb", 1024)
    if memory not in FARGATE_SIZES.get(cpu, []):
        report(
            f"Task definition '{args.name}' asks for cpu {raw_cpu} and memory {raw_memory}, "
            f"which Fargate does not offer; {_sizes_hint(cpu)} (steps as in the Fargate "
            "task size table).",
        )


def _check_container_logging(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    for container in as_list(parse_json(lookup(args.props, "containerDefinitions"))):
        if not lookup(container, "logConfiguration", "logDriver"):
            report(
                f"Container '{lookup(container, 'name', default='?')}' of task definition "
                f"'{args.name}' has no log configuration. Set logConfiguration "
                "{logDriver: 'awslogs', options: {awslogs-group, awslogs-region, "
                "awslogs-stream-prefix}}.",
            )


def _check_scan_on_push(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (ECR_REPOSITORY, AWSX_ECR_REPOSITORY):
        return
    if lookup(args.props, "imageScanningConfiguration", "scanOnPush") is not True:
        report(
            f"Repository '{args.name}' does not scan images on push. Set "
            "image_scanning_configuration={'scan_on_push': True}.",
        )


def _check_lambda_timeout(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != LAMBDA_FUNCTION:
        return
    limit = args.get_config().get("maxTimeoutSeconds", DEFAULT_MAX_LAMBDA_TIMEOUT)
    timeout = lookup(args.props, "timeout")
    if timeout is not None and timeout > limit:
        report(
            f"Lambda '{args.name}' may run {int(timeout)} s; keep it at {int(limit)} s or less "
            "(the dispatcher only claims jobs and starts tasks, so a long run means it is stuck).",
        )


fargate_cpu_memory_pair = ResourceValidationPolicy(
    name="fargate-cpu-memory-pair",
    description="Fargate task definitions ask for a cpu/memory pair Fargate offers.",
    validate=_check_fargate_size,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Pick cpu and memory from the Fargate task size table.",
)

ecs_container_logging = ResourceValidationPolicy(
    name="ecs-container-logging",
    description="Every container of an ECS task definition sends its logs somewhere.",
    validate=_check_container_logging,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Give each container a logConfiguration (awslogs to a log group).",
)

ecr_scan_on_push = ResourceValidationPolicy(
    name="ecr-scan-on-push",
    description="ECR repositories scan every image pushed to them.",
    validate=_check_scan_on_push,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Set image_scanning_configuration.scan_on_push to True.",
)

lambda_timeout = ResourceValidationPolicy(
    name="lambda-timeout",
    description="Lambda functions time out within the configured limit (60 s by default).",
    validate=_check_lambda_timeout,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxTimeoutSeconds": {
                "type": "number",
                "minimum": 1,
                "maximum": 900,
                "default": DEFAULT_MAX_LAMBDA_TIMEOUT,
                "description": "The longest timeout a Lambda function may have.",
            },
        },
    ),
    remediation_steps="Lower the function's timeout.",
)

POLICIES = [fargate_cpu_memory_pair, ecs_container_logging, ecr_scan_on_push, lambda_timeout]
