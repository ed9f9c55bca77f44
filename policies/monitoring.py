"""Monitoring rules: Container Insights on clusters, alarms that notify someone."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .props import as_list, lookup

ECS_CLUSTER = "aws:ecs/cluster:Cluster"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INSIGHTS_ON = ("enabled", "enhanced")


def _check_container_insights(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECS_CLUSTER:
        return
    settings = {
        lookup(setting, "name"): lookup(setting, "value")
        for setting in as_list(lookup(args.props, "settings"))
    }
    if settings.get("containerInsights") not in INSIGHTS_ON:
        report(
            f"ECS cluster '{args.name}' has Container Insights off, so task CPU, memory and "
            "failures are not charted. Add settings=[{'name': 'containerInsights', "
            "'value': 'enabled'}].",
        )


def _check_alarm_action(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != METRIC_ALARM:
        return
    if lookup(args.props, "actionsEnabled") is False:
        report(f"Alarm '{args.name}' has its actions disabled. Remove actions_enabled=False.")
    elif not as_list(lookup(args.props, "alarmActions")):
        report(
            f"Alarm '{args.name}' notifies no one. Set alarm_actions=[<SNS topic arn>].",
        )


ecs_container_insights = ResourceValidationPolicy(
    name="ecs-container-insights",
    description="ECS clusters have Container Insights on.",
    validate=_check_container_insights,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Set the cluster setting containerInsights to enabled.",
)

alarm_has_action = ResourceValidationPolicy(
    name="alarm-has-action",
    description="CloudWatch alarms notify someone when they fire.",
    validate=_check_alarm_action,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Point alarm_actions at the farm's SNS topic.",
)

POLICIES = [ecs_container_insights, alarm_has_action]
