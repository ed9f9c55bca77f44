"""Monitoring rules: Container Insights on clusters, alarms that notify someone, and
alarm topics CloudWatch can actually publish to."""

from __future__ import annotations

import fnmatch
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .props import UNKNOWN, as_list, known, lookup, parse_json
from .relations import lists, of_type, refers_to

ECS_CLUSTER = "aws:ecs/cluster:Cluster"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INSIGHTS_ON = ("enabled", "enhanced")
SNS_TOPIC = "aws:sns/topic:Topic"
KMS_KEY = "aws:kms/key:Key"
ALARM_ACTION_PROPS = ("alarmActions", "okActions", "insufficientDataActions")
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
CLOUDWATCH = "cloudwatch.amazonaws.com"
CLOUDWATCH_KEY_ACTIONS = ("kms:decrypt", "kms:generatedatakey")


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


def _lets_cloudwatch_use(key_policy: Any) -> bool:
    """True when some Allow statement lets cloudwatch.amazonaws.com Decrypt and GenerateDataKey."""
    granted: set[str] = set()
    for statement in as_list(lookup(key_policy, "Statement")):
        services = as_list(lookup(statement, "Principal", "Service"))
        if lookup(statement, "Effect") != "Allow" or CLOUDWATCH not in services:
            continue
        for pattern in as_list(lookup(statement, "Action")):
            pattern = str(pattern).lower()
            granted |= {a for a in CLOUDWATCH_KEY_ACTIONS if fnmatch.fnmatchcase(a, pattern)}
    return granted == set(CLOUDWATCH_KEY_ACTIONS)


def _topic_key_problem(topic: PolicyResource, keys: list[PolicyResource]) -> str | None:
    key_id = known(topic.props, "kmsMasterKeyId")
    if key_id is UNKNOWN or key_id is None:
        return None  # unencrypted (or not known yet): CloudWatch can publish
    if str(key_id) == AWS_MANAGED_SNS_KEY or str(key_id).endswith(f":{AWS_MANAGED_SNS_KEY}"):
        return (
            f"is encrypted with the AWS-managed key {AWS_MANAGED_SNS_KEY}, whose policy does not "
            f"let {CLOUDWATCH} use it, so the alarm can never publish. Encrypt the topic with "
            f"a customer-managed aws.kms.Key whose policy allows {CLOUDWATCH} kms:Decrypt and "
            "kms:GenerateDataKey*"
        )
    for key in keys:
        if not refers_to(topic, "kmsMasterKeyId", key):
            continue
        key_policy = known(key.props, "policy")
        if key_policy is UNKNOWN:
            return None
        if key_policy is None or not _lets_cloudwatch_use(parse_json(key_policy)):
            return (
                f"is encrypted with key '{key.name}', whose policy does not let {CLOUDWATCH} "
                "kms:Decrypt and kms:GenerateDataKey*, so the alarm can never publish. Add that "
                "statement to the key policy"
            )
    return None


def _check_alarm_topic_keys(args: StackValidationArgs, report: ReportViolation) -> None:
    topics = of_type(args.resources, SNS_TOPIC)
    keys = of_type(args.resources, KMS_KEY)
    for alarm in of_type(args.resources, METRIC_ALARM):
        for topic in topics:
            if not any(lists(alarm, prop, topic) for prop in ALARM_ACTION_PROPS):
                continue
            problem = _topic_key_problem(topic, keys)
            if problem:
                report(
                    f"Alarm '{alarm.name}' notifies topic '{topic.name}', which {problem}.",
                    alarm.urn,
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

alarm_topic_key = StackValidationPolicy(
    name="alarm-topic-key",
    description="Alarm actions go to SNS topics CloudWatch can publish to: not encrypted with "
    "alias/aws/sns, and any customer-managed key lets cloudwatch.amazonaws.com use it.",
    validate=_check_alarm_topic_keys,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Encrypt the alarm topic with a customer-managed KMS key whose policy "
    "allows cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*.",
)

POLICIES = [ecs_container_insights, alarm_has_action, alarm_topic_key]
