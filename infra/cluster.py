"""Cluster: the ECS cluster, the worker's log group and its Fargate task definition.

The worker's container environment is the contract with ``handlers/worker.py``:
JOBS_API_URL, JOBS_API_AUTH, RENDER_BUCKET, JOB_TIME_LIMIT_SECONDS, CHUNK_AFTER_SECONDS,
CHUNK_SECONDS, LOG_LEVEL, the task's size and Fargate prices for the RenderRun's cost
(TASK_*, FARGATE_*_USD), and what the worker signs in with, from Secrets Manager, never a
plain variable: JOBS_API_KEY (api_key attach mode) or WORKER_CREDENTIALS (JSON
email/password) with COGNITO_CLIENT_ID (cognito attach mode); nothing with IAM. The
dispatcher adds JOB_ID and JOB_ATTEMPT (and CHUNK_INDEX for a chunk) per task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.settings import Settings


@dataclass
class ClusterArgs:
    settings: Settings
    container_name: str
    log_group_name: str
    image: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    task_role_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    jobs_api_url: pulumi.Input[str]
    jobs_api_auth: str
    worker_secret_arn: pulumi.Input[str] | None = None
    cognito_client_id: str | None = None
    jobs_api_key_secret_arn: pulumi.Input[str] | None = None


def container_definitions(
    args: ClusterArgs,
    image: str,
    bucket: str,
    api_url: str,
    secret_arn: str | None,
    api_key_secret_arn: str | None,
) -> str:
    settings = args.settings
    environment = {
        "JOBS_API_URL": api_url,
        "JOBS_API_AUTH": args.jobs_api_auth,
        "RENDER_BUCKET": bucket,
        "JOB_TIME_LIMIT_SECONDS": str(settings.job_time_limit_seconds),
        "CHUNK_AFTER_SECONDS": str(settings.chunk_after_seconds),
        "CHUNK_SECONDS": str(settings.chunk_seconds),
        "LOG_LEVEL": settings.log_level,
        # The worker prices its run with these (renderlib/cost.py).
        "TASK_CPU": str(settings.task_cpu),
        "TASK_MEMORY": str(settings.task_memory),
        "TASK_EPHEMERAL_STORAGE_GIB": str(settings.task_ephemeral_storage_gib),
        "FARGATE_VCPU_HOUR_USD": repr(settings.fargate_vcpu_hour_usd),
        "FARGATE_GB_HOUR_USD": repr(settings.fargate_gb_hour_usd),
        "FARGATE_STORAGE_GB_HOUR_USD": repr(settings.fargate_storage_gb_hour_usd),
    }
    secrets = []
    if secret_arn is not None:
        secrets.append({"name": "WORKER_CREDENTIALS", "valueFrom": secret_arn})
        environment["COGNITO_CLIENT_ID"] = args.cognito_client_id
    if api_key_secret_arn is not None:
        secrets.append({"name": "JOBS_API_KEY", "valueFrom": api_key_secret_arn})
    return json.dumps(
        [
            {
                "name": args.container_name,
                "image": image,
                "essential": True,
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                "secrets": secrets,
                # Fargate cannot size /dev/shm: the worker runs Chromium with
                # --disable-dev-shm-usage,
                # so its shared memory lives in /tmp on the task's ephemeral storage.
                # An init process forwards SIGTERM and reaps Chromium's children.
                "linuxParameters": {"initProcessEnabled": True},
                # ECS sends SIGTERM, then SIGKILL after stopTimeout: time for the worker to stop its
                # browsers and requeue its job.
                "stopTimeout": settings.task_stop_timeout_seconds,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": args.log_group_name,
                        "awslogs-region": settings.region,
                        "awslogs-stream-prefix": args.container_name,
                    },
                },
            }
        ]
    )


class Cluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    task_family: str
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=settings.cluster_name,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            opts=child,
        )
        aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider="FARGATE",
                    weight=1,
                ),
            ],
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-worker-logs",
            name=args.log_group_name,
            retention_in_days=settings.log_retention_days,
            opts=child,
        )

        definitions = pulumi.Output.all(
            args.image,
            args.bucket_name,
            args.jobs_api_url,
            args.worker_secret_arn,
            args.jobs_api_key_secret_arn,
        ).apply(lambda values: container_definitions(args, *values))
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-worker",
            family=settings.task_family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(settings.task_cpu),
            memory=str(settings.task_memory),
            ephemeral_storage=aws.ecs.TaskDefinitionEphemeralStorageArgs(
                size_in_gib=settings.task_ephemeral_storage_gib,
            ),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX",
                cpu_architecture=settings.task_architecture,
            ),
            execution_role_arn=args.execution_role_arn,
            task_role_arn=args.task_role_arn,
            container_definitions=definitions,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )

        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.task_definition_arn = task_definition.arn
        self.task_family = settings.task_family
        self.log_group_name = log_group.name
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "clusterArn": self.cluster_arn,
                "taskDefinitionArn": self.task_definition_arn,
                "logGroupName": self.log_group_name,
            }
        )
