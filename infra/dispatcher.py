"""Dispatcher: the Python Lambda that claims queued render jobs and launches tasks.

Invoked three ways: the Job table stream (INSERT/MODIFY of queued render jobs),
an EventBridge schedule (the sweep: launches what the stream missed, reaps stale
jobs) and ECS Task State Change events for STOPPED worker tasks of this cluster.
Its environment is the contract with ``handlers/trigger.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.lambda_package import ARCHITECTURE, RUNTIME
from infra.names import FarmNames

HANDLER = "handlers.trigger.handler"
TIMEOUT_SECONDS = 30

# What wakes the dispatcher from the Job stream (renderlib/farm/dispatcher.py:
# stream_job_ids, stream_split_job_ids, stream_succeeded_split_job_ids): queued render
# jobs, jobs just split into chunks (chunkCount appears on a running job) and split jobs
# just succeeded (their segments are deleted); every other change to the Job table (the
# heartbeats above all) is noise.
QUEUED_RENDER_JOBS = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {"NewImage": {"status": {"S": ["queued"]}, "kind": {"S": ["render"]}}},
}
JUST_SPLIT_JOBS = {
    "eventName": ["MODIFY"],
    "dynamodb": {
        "NewImage": {"status": {"S": ["running"]}, "chunkCount": {"N": [{"exists": True}]}},
        "OldImage": {"chunkCount": {"N": [{"exists": False}]}},
    },
}
SPLIT_JOBS_JUST_SUCCEEDED = {
    "eventName": ["MODIFY"],
    "dynamodb": {
        "NewImage": {"status": {"S": ["succeeded"]}, "chunkCount": {"N": [{"exists": True}]}},
        "OldImage": {"status": {"S": [{"anything-but": ["succeeded"]}]}},
    },
}
STREAM_FILTERS = (QUEUED_RENDER_JOBS, JUST_SPLIT_JOBS, SPLIT_JOBS_JUST_SUCCEEDED)


@dataclass
class DispatcherArgs:
    names: FarmNames
    code: pulumi.Archive
    layer_arn: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    jobs_api_url: pulumi.Input[str]
    jobs_api_auth: str
    job_stream_arn: pulumi.Input[str]
    jobs_api_key_secret_arn: pulumi.Input[str] | None = None
    # cognito attach mode: the farm's user pool sign-in and the pool's app client.
    worker_secret_arn: pulumi.Input[str] | None = None
    cognito_client_id: str | None = None


def stopped_tasks_pattern(cluster_arn: str, family: str) -> str:
    return json.dumps(
        {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {
                "clusterArn": [cluster_arn],
                "group": [f"family:{family}"],
                "lastStatus": ["STOPPED"],
            },
        }
    )


class Dispatcher(pulumi.ComponentResource):
    function_name: pulumi.Output[str]

    def __init__(self, name: str, args: DispatcherArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:Dispatcher", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        names = args.names
        settings = names.settings

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=names.dispatcher_log_group,
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        environment: dict[str, pulumi.Input[str]] = {
            "ECS_CLUSTER": args.cluster_name,
            "TASK_DEFINITION": settings.task_family,
            "TASK_FAMILY": settings.task_family,
            "SUBNETS": pulumi.Output.from_input(args.subnet_ids).apply(",".join),
            "SECURITY_GROUPS": args.security_group_id,
            "CONTAINER_NAME": names.container_name,
            "MAX_CONCURRENT_TASKS": str(settings.max_concurrent_tasks),
            "JOBS_API_URL": args.jobs_api_url,
            "JOBS_API_AUTH": args.jobs_api_auth,
            "RENDER_BUCKET": args.bucket_name,
            "HEARTBEAT_LEASE_SECONDS": str(settings.heartbeat_lease_seconds),
            # It splits the jobs that state their length, by the workers' policy.
            "CHUNK_AFTER_SECONDS": str(settings.chunk_after_seconds),
            "CHUNK_SECONDS": str(settings.chunk_seconds),
        }
        if args.jobs_api_key_secret_arn is not None:
            environment["JOBS_API_KEY_SECRET_ARN"] = args.jobs_api_key_secret_arn
        if args.worker_secret_arn is not None:
            environment["WORKER_CREDENTIALS_SECRET_ID"] = args.worker_secret_arn
            environment["COGNITO_CLIENT_ID"] = args.cognito_client_id
        function = aws.lambda_.Function(
            f"{name}-function",
            name=names.dispatcher_function,
            description="Claims queued render jobs and runs one Fargate task per job",
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=HANDLER,
            role=args.role_arn,
            code=args.code,
            layers=[args.layer_arn],
            timeout=TIMEOUT_SECONDS,
            memory_size=256,
            reserved_concurrent_executions=settings.dispatcher_reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text",
                log_group=log_group.name,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )

        aws.lambda_.EventSourceMapping(
            f"{name}-job-stream",
            event_source_arn=args.job_stream_arn,
            function_name=function.arn,
            starting_position="LATEST",
            batch_size=10,
            maximum_batching_window_in_seconds=1,
            # A job the stream fails to deliver is still picked up by the sweep.
            maximum_retry_attempts=3,
            maximum_record_age_in_seconds=3600,
            bisect_batch_on_function_error=True,
            filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                filters=[
                    aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(
                        pattern=json.dumps(pattern)
                    )
                    for pattern in STREAM_FILTERS
                ],
            ),
            opts=child,
        )

        sweep = aws.cloudwatch.EventRule(
            f"{name}-sweep",
            name=f"{names.prefix}-dispatcher-sweep",
            description="Launch queued jobs the stream missed and reap stale ones",
            schedule_expression=settings.schedule_expression,
            opts=child,
        )
        stopped = aws.cloudwatch.EventRule(
            f"{name}-task-stopped",
            name=f"{names.prefix}-worker-stopped",
            description="Worker tasks of this cluster that stopped: requeue or fail their jobs",
            event_pattern=pulumi.Output.from_input(args.cluster_arn).apply(
                lambda arn: stopped_tasks_pattern(arn, settings.task_family)
            ),
            opts=child,
        )
        for key, rule in (("sweep", sweep), ("task-stopped", stopped)):
            aws.cloudwatch.EventTarget(
                f"{name}-{key}",
                rule=rule.name,
                arn=function.arn,
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-{key}",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=child,
            )

        self.function_name = function.name
        self.register_outputs({"functionName": self.function_name})
