"""Log retention: no CloudWatch log group keeps logs forever.

(Not named ``logging.py``: the CLI runs the pack with this folder first on
``sys.path``, where that name would shadow the standard library's module.)
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .props import lookup

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    days = lookup(args.props, "retentionInDays")
    if not days:
        report(
            f"Log group '{args.name}' keeps its logs forever. Set retention_in_days "
            "(the farm uses 7).",
        )


log_group_retention = ResourceValidationPolicy(
    name="log-group-retention",
    description="Every CloudWatch log group has a retention period.",
    validate=_check,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Set retention_in_days on the log group.",
)

POLICIES = [log_group_retention]
