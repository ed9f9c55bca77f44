"""Roles: least-privilege IAM roles for the worker task and the dispatcher.

- task execution role: pull the worker image, write the worker's logs, read the
  secret the worker signs in to the jobs API with (the API key in api_key attach mode,
  the user pool user in cognito attach mode; none with IAM);
- task role: what the worker itself does: read generation inputs, write
  ``renders/*`` (no delete), call the jobs API;
- dispatcher role: run, list, describe and tag tasks of this cluster and task
  family, pass exactly the two task roles, read the Job table stream, call the
  jobs API (reading its sign-in secret, as the worker's), write its own logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.names import FarmNames
from infra.policy_docs import allow, document, service_trust
from renderlib.farm.storage import GENERATIONS_PREFIX, RENDERS_PREFIX

_LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents"]


@dataclass
class FarmRolesArgs:
    names: FarmNames
    repository_arn: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    # The farm's user pool sign-in (cognito attach mode), else None.
    worker_secret_arn: pulumi.Input[str] | None
    job_stream_arn: pulumi.Input[str]
    # appsync:GraphQL target when the farm signs its calls with IAM; None otherwise.
    jobs_api_arn: pulumi.Input[str] | None
    # Secrets Manager secret holding the jobs API key (api_key attach mode), else None.
    jobs_api_key_secret_arn: pulumi.Input[str] | None


class FarmRoles(pulumi.ComponentResource):
    execution_role_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    dispatcher_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: FarmRolesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:FarmRoles", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        names = args.names
        account = names.account_id

        # The task role is assumed on behalf of a task: ECS documents the confused-deputy
        # conditions for it. The execution role keeps ECS's documented plain trust.
        task_trust = document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": names.arn("ecs", "*")},
                    },
                }
            ]
        )
        jobs_api_calls = []
        if args.jobs_api_arn is not None:
            jobs_api_calls = [
                allow(
                    ["appsync:GraphQL"],
                    [pulumi.Output.concat(args.jobs_api_arn, "/types/*/fields/*")],
                    sid="CallTheJobsApi",
                )
            ]
        sign_in_reads = [
            allow(["secretsmanager:GetSecretValue"], [arn], sid=sid)
            for arn, sid in (
                (args.jobs_api_key_secret_arn, "ReadTheJobsApiKey"),
                (args.worker_secret_arn, "ReadTheWorkerCredentials"),
            )
            if arn is not None
        ]

        execution_trust = service_trust("ecs-tasks.amazonaws.com", None)
        execution = self._role(
            "execution",
            names.execution_role,
            execution_trust,
            [
                allow(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLoginIsAccountWide"),
                allow(
                    [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchGetImage",
                    ],
                    [args.repository_arn],
                    sid="PullTheWorkerImage",
                ),
                allow(
                    _LOG_WRITE,
                    [pulumi.Output.concat(names.log_group_arn(names.worker_log_group), ":*")],
                    sid="WriteWorkerLogs",
                ),
                *sign_in_reads,
            ],
        )
        task = self._role(
            "task",
            names.task_role,
            task_trust,
            [
                allow(
                    ["s3:GetObject"],
                    [pulumi.Output.concat(args.bucket_arn, f"/{GENERATIONS_PREFIX}/*")],
                    sid="ReadGenerationInputs",
                ),
                # A failed upload in parts is aborted (its parts are billed until then):
                # S3 authorizes that separately from s3:PutObject.
                allow(
                    ["s3:PutObject", "s3:AbortMultipartUpload"],
                    [pulumi.Output.concat(args.bucket_arn, f"/{RENDERS_PREFIX}/*")],
                    sid="WriteRenders",
                ),
                *jobs_api_calls,
            ],
        )

        cluster_arn = names.cluster_arn
        family = names.settings.task_family
        cluster = names.settings.cluster_name
        dispatcher = self._role(
            "dispatcher",
            names.dispatcher_role,
            service_trust("lambda.amazonaws.com", None),
            [
                allow(
                    ["ecs:RunTask"],
                    [names.arn("ecs", f"task-definition/{family}:*")],
                    {"ArnEquals": {"ecs:cluster": cluster_arn}},
                    sid="RunWorkerTasks",
                ),
                allow(
                    ["ecs:DescribeTasks"],
                    [names.arn("ecs", f"task/{cluster}/*")],
                    {"ArnEquals": {"ecs:cluster": cluster_arn}},
                    sid="DescribeClusterTasks",
                ),
                # A cluster-wide ListTasks (no containerInstance) is authorized on "*": a
                # container-instance resource only matches calls that name an instance.
                allow(
                    ["ecs:ListTasks"],
                    ["*"],
                    {"ArnEquals": {"ecs:cluster": cluster_arn}},
                    sid="ListClusterTasks",
                ),
                allow(
                    ["ecs:TagResource"],
                    [names.arn("ecs", f"task/{cluster}/*")],
                    {"StringEquals": {"ecs:CreateAction": "RunTask"}},
                    sid="TagTasksAtLaunch",
                ),
                allow(
                    ["iam:PassRole"],
                    [execution.arn, task.arn],
                    {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                    sid="PassOnlyTheTaskRoles",
                ),
                allow(
                    [
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                    ],
                    [args.job_stream_arn],
                    sid="ReadTheJobStream",
                ),
                # Lambda's stream poller also lists streams, which AWS authorizes only on "*".
                allow(["dynamodb:ListStreams"], ["*"], sid="ListStreamsIsAccountWide"),
                allow(
                    _LOG_WRITE,
                    [pulumi.Output.concat(names.log_group_arn(names.dispatcher_log_group), ":*")],
                    sid="WriteDispatcherLogs",
                ),
                # The farm's cleanup of chunked renders (issue 13): only the chunk segments
                # of succeeded jobs; the task role keeps no delete at all.
                allow(
                    ["s3:ListBucket"],
                    [args.bucket_arn],
                    {"StringLike": {"s3:prefix": "renders/*"}},
                    sid="ListChunkSegments",
                ),
                allow(
                    ["s3:DeleteObject"],
                    [pulumi.Output.concat(args.bucket_arn, "/renders/*/chunks/*")],
                    sid="DeleteChunkSegments",
                ),
                *jobs_api_calls,
                *sign_in_reads,
            ],
        )

        self.execution_role_arn = execution.arn
        self.task_role_arn = task.arn
        self.dispatcher_role_arn = dispatcher.arn
        self.register_outputs(
            {
                "executionRoleArn": self.execution_role_arn,
                "taskRoleArn": self.task_role_arn,
                "dispatcherRoleArn": self.dispatcher_role_arn,
            }
        )

    def _role(
        self, key: str, role_name: str, trust: pulumi.Input[str], statements: list[dict]
    ) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-{key}", name=role_name, assume_role_policy=trust, opts=self._child
        )
        aws.iam.RolePolicy(
            f"{self._name}-{key}", role=role.id, policy=document(statements), opts=self._child
        )
        return role
