"""Monitoring: an SNS topic, alarms on the dispatcher, the workers and the queue,
and one dashboard.

Besides AWS's own metrics (AWS/Lambda, ECS/ContainerInsights, AWS/Events) the
alarms read metrics the farm publishes as CloudWatch embedded-metric-format log
lines (no PutMetricData permission needed), namespace ``BabulusRender``,
dimension ``Cluster`` = the ECS cluster name:

- dispatcher, every sweep: ``QueuedJobs`` (count) and ``OldestQueuedJobAgeSeconds``;
- worker, per job: ``RendersSucceeded`` / ``RendersFailed`` (1 each time).

Failed worker tasks are counted by an EventBridge rule (stopped tasks that never
started or whose container exited non-zero), which also keeps each such event
in a log group for diagnosis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.names import FarmNames
from infra.policy_docs import document

NAMESPACE = "BabulusRender"
# Alarm when the dispatcher gets close to its 30 s timeout.
LONG_EXECUTION_MS = 24_000
ERROR_RATE_PERCENT = 5


@dataclass
class MonitoringArgs:
    names: FarmNames
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    dispatcher_function_name: pulumi.Input[str]


def failed_tasks_pattern(cluster_arn: str, family: str) -> str:
    return json.dumps(
        {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {
                "clusterArn": [cluster_arn],
                "group": [f"family:{family}"],
                "lastStatus": ["STOPPED"],
                "$or": [
                    {"stopCode": ["TaskFailedToStart"]},
                    {"containers": {"exitCode": [{"anything-but": 0}]}},
                ],
            },
        }
    )


def dashboard_body(region: str, function: str, cluster: str, failed_rule: str) -> str:
    def widget(title: str, metrics: list, stat: str = "Sum", x: int = 0, y: int = 0) -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "stat": stat,
                "period": 60,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }

    lam = ["AWS/Lambda"]
    return json.dumps(
        {
            "widgets": [
                widget(
                    "Dispatcher invocations, errors, throttles",
                    [
                        [*lam, "Invocations", "FunctionName", function],
                        [*lam, "Errors", "FunctionName", function],
                        [*lam, "Throttles", "FunctionName", function],
                    ],
                    x=0,
                    y=0,
                ),
                widget(
                    "Dispatcher duration (ms)",
                    [
                        [*lam, "Duration", "FunctionName", function, {"stat": "Average"}],
                        [*lam, "Duration", "FunctionName", function, {"stat": "Maximum"}],
                    ],
                    stat="Maximum",
                    x=12,
                    y=0,
                ),
                widget(
                    "Running worker tasks",
                    [
                        ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", cluster],
                    ],
                    stat="Maximum",
                    x=0,
                    y=6,
                ),
                widget(
                    "Worker task failures",
                    [
                        ["AWS/Events", "TriggeredRules", "RuleName", failed_rule],
                    ],
                    x=12,
                    y=6,
                ),
                widget(
                    "Queue: jobs waiting and oldest age (s)",
                    [
                        [NAMESPACE, "QueuedJobs", "Cluster", cluster],
                        [
                            NAMESPACE,
                            "OldestQueuedJobAgeSeconds",
                            "Cluster",
                            cluster,
                            {"yAxis": "right"},
                        ],
                    ],
                    stat="Maximum",
                    x=0,
                    y=12,
                ),
                widget(
                    "Renders succeeded and failed",
                    [
                        [NAMESPACE, "RendersSucceeded", "Cluster", cluster],
                        [NAMESPACE, "RendersFailed", "Cluster", cluster],
                    ],
                    x=12,
                    y=12,
                ),
            ]
        }
    )


def alarm_key_policy(names: FarmNames) -> pulumi.Output[str]:
    """The account administers the key (as KMS's default policy); CloudWatch may encrypt
    the messages it publishes to the topic."""
    return document(
        [
            {
                "Sid": "TheAccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": names.arn("iam", "root", region=False)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchAlarmsPublishToTheTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ]
    )


def alarm_topic_policy(names: FarmNames, topic_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Only this account's alarms publish to the topic; the account manages it."""
    return document(
        [
            {
                "Sid": "TheAccountManagesTheTopic",
                "Effect": "Allow",
                "Principal": {"AWS": names.arn("iam", "root", region=False)},
                "Action": [
                    "sns:GetTopicAttributes",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic",
                    "sns:DeleteTopic",
                ],
                "Resource": topic_arn,
            },
            {
                "Sid": "ThisAccountsAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": names.arn("cloudwatch", "alarm:*")},
                    "StringEquals": {"aws:SourceAccount": names.account_id},
                },
            },
        ]
    )


class Monitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        names = args.names
        settings = names.settings
        prefix = names.prefix

        # CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key (its
        # policy cannot be changed to admit cloudwatch.amazonaws.com): the topic gets its own key.
        key = aws.kms.Key(
            f"{name}-alarms",
            description=f"Encrypts the {prefix} alarm topic; CloudWatch alarms may use it",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=alarm_key_policy(names),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alarms", name=f"alias/{prefix}-alarms", target_key_id=key.key_id, opts=child
        )
        topic = aws.sns.Topic(
            f"{name}-alarms",
            name=f"{prefix}-alarms",
            kms_master_key_id=key.arn,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alarms", arn=topic.arn, policy=alarm_topic_policy(names, topic.arn), opts=child
        )
        if settings.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarm-email",
                topic=topic.arn,
                protocol="email",
                endpoint=settings.alarm_email,
                opts=child,
            )

        failures_log = aws.cloudwatch.LogGroup(
            f"{name}-task-failures",
            name=f"/aws/events/{prefix}-task-failures",
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        aws.cloudwatch.LogResourcePolicy(
            f"{name}-task-failures",
            policy_name=f"{prefix}-task-failures",
            policy_document=failures_log.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {
                                    "Service": [
                                        "events.amazonaws.com",
                                        "delivery.logs.amazonaws.com",
                                    ]
                                },
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": f"{arn}:*",
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        failed_rule = aws.cloudwatch.EventRule(
            f"{name}-task-failed",
            name=f"{prefix}-worker-failed",
            description="Worker tasks that failed to start or exited non-zero",
            event_pattern=pulumi.Output.from_input(args.cluster_arn).apply(
                lambda arn: failed_tasks_pattern(arn, settings.task_family)
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-task-failed",
            rule=failed_rule.name,
            arn=failures_log.arn,
            opts=child,
        )

        actions = [topic.arn]

        def alarm(key: str, description: str, **kwargs) -> None:
            aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                name=f"{prefix}-{key}",
                alarm_description=description,
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
                **kwargs,
            )

        function = {"FunctionName": args.dispatcher_function_name}
        cluster = {"Cluster": args.cluster_name}
        query = aws.cloudwatch.MetricAlarmMetricQueryArgs
        metric = aws.cloudwatch.MetricAlarmMetricQueryMetricArgs

        alarm(
            "dispatcher-error-rate",
            f"More than {ERROR_RATE_PERCENT}% of dispatcher invocations failed",
            comparison_operator="GreaterThanThreshold",
            threshold=ERROR_RATE_PERCENT,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data="notBreaching",
            metric_queries=[
                query(
                    id="rate",
                    label="Error rate (%)",
                    return_data=True,
                    expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                ),
                query(
                    id="errors",
                    metric=metric(
                        namespace="AWS/Lambda",
                        metric_name="Errors",
                        dimensions=function,
                        period=300,
                        stat="Sum",
                    ),
                ),
                query(
                    id="invocations",
                    metric=metric(
                        namespace="AWS/Lambda",
                        metric_name="Invocations",
                        dimensions=function,
                        period=300,
                        stat="Sum",
                    ),
                ),
            ],
        )
        alarm(
            "dispatcher-long-execution",
            f"A dispatcher run took over {LONG_EXECUTION_MS} ms (timeout 30 s)",
            namespace="AWS/Lambda",
            metric_name="Duration",
            dimensions=function,
            statistic="Maximum",
            period=300,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator="GreaterThanThreshold",
            threshold=LONG_EXECUTION_MS,
            treat_missing_data="notBreaching",
        )
        window = settings.no_completions_window_minutes * 60
        alarm(
            "no-completed-renders",
            f"Jobs were queued but no render completed in {settings.no_completions_window_minutes}"
            " minutes",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric_queries=[
                query(
                    id="stalled",
                    label="Queued work, no completions",
                    return_data=True,
                    expression="IF(FILL(queued, 0) > 0 AND FILL(done, 0) == 0, 1, 0)",
                ),
                query(
                    id="queued",
                    metric=metric(
                        namespace=NAMESPACE,
                        metric_name="QueuedJobs",
                        dimensions=cluster,
                        period=window,
                        stat="Maximum",
                    ),
                ),
                query(
                    id="done",
                    metric=metric(
                        namespace=NAMESPACE,
                        metric_name="RendersSucceeded",
                        dimensions=cluster,
                        period=window,
                        stat="Sum",
                    ),
                ),
            ],
        )
        alarm(
            "worker-tasks-failed",
            "A worker task failed to start or exited non-zero (see the task-failures log group)",
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions={"RuleName": failed_rule.name},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="notBreaching",
        )
        alarm(
            "jobs-waiting-too-long",
            f"A job has waited in the queue over {settings.queue_age_alarm_seconds} s",
            namespace=NAMESPACE,
            metric_name="OldestQueuedJobAgeSeconds",
            dimensions=cluster,
            statistic="Maximum",
            period=300,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=settings.queue_age_alarm_seconds,
            treat_missing_data="notBreaching",
        )

        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{prefix}-farm",
            dashboard_body=pulumi.Output.all(
                args.dispatcher_function_name,
                args.cluster_name,
                failed_rule.name,
            ).apply(lambda v: dashboard_body(settings.region, *v)),
            opts=child,
        )

        self.topic_arn = topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"topicArn": self.topic_arn, "dashboardName": self.dashboard_name})
