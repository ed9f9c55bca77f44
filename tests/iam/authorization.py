"""From recorded calls to the IAM requests AWS authorizes, in the terms of one stack.

Each recorded call (tests/iam/recorder.py) becomes one or more ``Request``s: the IAM
action and resource ARN from the Service Authorization Reference (policy_sentry's
offline copy), with the condition keys AWS sets, and the test's resource names replaced
by the stack's (its bucket, cluster, task family, tables, API). The few calls the
Reference does not map one to one are in ``KNOWN_EXCEPTIONS``, each with its source.

The calls AWS services make on a role's behalf are not in any test, so ``service_requests``
lists them from what the stack declares: the ECS agent (image pull, log writes, secret
injection) as the execution role, the Lambda service (stream polling, log writes) as the
dispatcher and resolver, AppSync invoking the resolver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from policy_sentry.querying.actions import get_action_data

from infra.offline import MOCK_ACCOUNT, StackRun
from tests.iam.iam_policy import Request

# (service, operation) -> (IAM action, why), where the action is not "service:Operation".
KNOWN_EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("s3", "HeadObject"): (
        "s3:GetObject",
        "S3 API Reference, HeadObject: 'you must have the s3:GetObject permission'",
    ),
    **{
        ("s3", operation): (
            "s3:PutObject",
            "S3 User Guide, 'Multipart upload API and permissions': initiating, uploading "
            "parts and completing need s3:PutObject",
        )
        for operation in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
    },
    ("s3", "ListObjectsV2"): (
        "s3:ListBucket",
        "S3 API Reference, ListObjectsV2: 'you must have s3:ListBucket'; the request's Prefix "
        "is the s3:prefix condition key",
    ),
    ("s3", "DeleteObjects"): (
        "s3:DeleteObject",
        "S3 API Reference, DeleteObjects: 'you must have the s3:DeleteObject permission' for "
        "each object named",
    ),
}
# Calls whose resource is not the Reference's resource type.
RESOURCE_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("ecs", "ListTasks"): (
        "A ListTasks that names no containerInstance is authorized on '*', held to a cluster by "
        "the ecs:cluster condition; the Reference's container-instance resource applies only "
        "when one is named (ECS Developer Guide, 'Amazon ECS API actions and resource-level "
        "permissions'; AccessDenied reported in cdklabs/construct-hub#1207)"
    ),
}
# What one call also needs authorized (beyond its own action).
TAG_ON_CREATE = (
    "RunTask with tags also needs ecs:TagResource on the new task, with ecs:CreateAction = "
    "RunTask (ECS Developer Guide, 'Grant permission to tag resources on creation')"
)

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@cache
def reference(action: str) -> list[dict]:
    """The Service Authorization Reference's rows for ``action`` (one per resource type)."""
    service, name = action.split(":")
    rows = (get_action_data(service, name) or {}).get(service, [])
    if not rows:
        raise LookupError(f"{action} is not in the Service Authorization Reference")
    return rows


def iam_action(service: str, operation: str) -> str:
    action = KNOWN_EXCEPTIONS.get((service, operation), (f"{service}:{operation}", ""))[0]
    reference(action)  # it must be a real action
    return action


def fill_resource(action: str, values: dict[str, str], region: str) -> str:
    """The ARN of the most specific resource type whose every part ``values`` names (an
    index over its table), else "*" where the Reference allows it (no resource named)."""
    known = {"Partition": "aws", "Region": region, "Account": MOCK_ACCOUNT, **values}
    formats = [r["resource_arn_format"] for r in reference(action)]
    for arn_format in sorted(formats, key=lambda f: -len(_PLACEHOLDER.findall(f))):
        if arn_format == "*":
            continue
        parts = _PLACEHOLDER.findall(arn_format)
        if all(p in known for p in parts):
            return _PLACEHOLDER.sub(lambda m: known[m.group(1)], arn_format)
    if "*" in formats:
        return "*"
    raise LookupError(f"cannot name the resource of {action} from {sorted(values)}")


@dataclass
class Stack:
    """What one offline stack run declares, as the authorization test needs it."""

    run: StackRun

    @property
    def region(self) -> str:
        return self.run.config["aws:region"]

    @property
    def prefix(self) -> str:
        return self.run.config["babulus-render:namePrefix"]

    def role_arn(self, role: str) -> str:
        return f"arn:aws:iam::{MOCK_ACCOUNT}:role/{self.role_name(role)}"

    def role_name(self, role: str) -> str:
        if role == "appsync":
            (invoker,) = [
                r.inputs["name"]
                for r in self.run.of_type("aws:iam/role:Role")
                if "appsync.amazonaws.com" in r.inputs["assumeRolePolicy"]
            ]
            return invoker
        suffix = {
            "task": "task",
            "execution": "task-execution",
            "dispatcher": "dispatcher",
            "resolver": "jobs-resolver",
        }[role]
        return f"{self.prefix}-{suffix}"

    def roles(self) -> list[str]:
        names = {r.inputs["name"] for r in self.run.of_type("aws:iam/role:Role")}
        keys = ["task", "execution", "dispatcher", "resolver", "appsync"]
        present = []
        for key in keys:
            try:
                if self.role_name(key) in names:
                    present.append(key)
            except ValueError:
                continue  # no AppSync invoke role (attach mode)
        return present

    def identity_policies(self, role: str) -> list[dict]:
        name = self.role_name(role)
        return [
            json.loads(p.inputs["policy"])
            for p in self.run.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.inputs["role"] == f"{name}-id"
        ]

    @property
    def farm_auth(self) -> str:
        return self.dispatcher_env["JOBS_API_AUTH"]

    @property
    def dispatcher_env(self) -> dict:
        function = self.run.one("aws:lambda/function:Function", "dispatcher-function")
        return function.inputs["environment"]["variables"]

    @property
    def container(self) -> dict:
        task = self.run.one("aws:ecs/taskDefinition:TaskDefinition")
        (definition,) = json.loads(task.inputs["containerDefinitions"])
        return definition

    @property
    def cluster(self) -> str:
        return self.run.outputs["clusterName"]

    @property
    def cluster_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{MOCK_ACCOUNT}:cluster/{self.cluster}"

    def table(self, test_name: str) -> str:
        """The stack's table for a test table named ``<anything>-<Entity>``."""
        entity = test_name.rsplit("-", 1)[-1]
        return f"{self.prefix}-{entity}"

    def api_id(self) -> str:
        # create mode: the API's ARN is apis/<name>; attach mode: the configured ARN.
        arn = self.run.config.get("babulus-render:jobsApiArn") or next(
            r.outputs["arn"] for r in self.run.of_type("aws:appsync/graphQLApi:GraphQLApi")
        )
        return arn.rsplit("/", 1)[-1]


def _context(stack: Stack, role: str, **extra: str) -> dict[str, str]:
    return {"aws:PrincipalArn": stack.role_arn(role), "aws:SecureTransport": "true", **extra}


def call_requests(stack: Stack, call: dict[str, Any]) -> Iterator[Request]:
    """The IAM requests one recorded call needs, as the stack's role for its caller."""
    role, service, operation = call["caller"], call["service"], call["operation"]
    params = call["params"]
    principal = stack.role_arn(role)
    region = stack.region
    if service == "appsync":
        if stack.farm_auth != "iam":
            return  # the API authenticates the caller by key or token, not by IAM
        for field_name in params["fields"]:
            values = {"GraphQLAPIId": stack.api_id(), "TypeName": params["type"]}
            values["FieldName"] = field_name
            resource = fill_resource("appsync:GraphQL", values, region)
            yield Request(principal, "appsync:GraphQL", resource, _context(stack, role))
        return
    action = iam_action(service, operation)
    values: dict[str, str] = {}
    context = _context(stack, role)
    if (service, operation) == ("s3", "DeleteObjects"):
        for item in params["Delete"]["Objects"]:
            values = {"BucketName": stack.run.outputs["bucketName"], "ObjectName": item["Key"]}
            yield Request(principal, action, fill_resource(action, values, region), context)
        return
    if (service, operation) == ("s3", "ListObjectsV2"):
        values = {"BucketName": stack.run.outputs["bucketName"]}
        context["s3:prefix"] = params.get("Prefix", "")
    elif service == "s3":
        values = {"BucketName": stack.run.outputs["bucketName"], "ObjectName": params["Key"]}
    elif service == "dynamodb":
        values = {"TableName": stack.table(params["TableName"])}
        if "IndexName" in params:
            values["IndexName"] = params["IndexName"]
    elif service == "ecs":
        values = {"ClusterName": stack.cluster}
        context["ecs:cluster"] = stack.cluster_arn
        if "containerInstance" in params:
            values["ContainerInstanceId"] = params["containerInstance"].rsplit("/", 1)[-1]
    if (service, operation) == ("ecs", "DescribeTasks"):
        for task in params["tasks"]:
            arn = fill_resource(action, {**values, "TaskId": task.rsplit("/", 1)[-1]}, region)
            yield Request(principal, action, arn, context)
        return
    if (service, operation) == ("ecs", "RunTask"):
        family = stack.run.outputs["taskFamily"]
        values.update(TaskDefinitionFamilyName=family, TaskDefinitionRevisionNumber="1")
        yield Request(principal, action, fill_resource(action, values, region), context)
        new_task = fill_resource("ecs:DescribeTasks", {**values, "TaskId": "new-task"}, region)
        if params.get("tags"):
            tag_context = {**context, "ecs:CreateAction": "RunTask"}
            yield Request(principal, "ecs:TagResource", new_task, tag_context)
        for dependent in reference(action)[0]["dependent_actions"]:  # iam:PassRole
            assert dependent == "iam:PassRole", dependent
            task = stack.run.one("aws:ecs/taskDefinition:TaskDefinition").inputs
            for passed in (task["executionRoleArn"], task["taskRoleArn"]):
                pass_context = {**context, "iam:PassedToService": "ecs-tasks.amazonaws.com"}
                yield Request(principal, dependent, passed, pass_context)
        return
    resource = fill_resource(action, values, region)
    if (service, operation) in RESOURCE_EXCEPTIONS:
        assert resource == "*", (service, operation, resource)
    yield Request(principal, action, resource, context)


def _log_writes(stack: Stack, role: str, group: str, stream: str) -> list[Request]:
    arn = f"arn:aws:logs:{stack.region}:{MOCK_ACCOUNT}:log-group:{group}:log-stream:{stream}"
    return [
        Request(stack.role_arn(role), action, arn, _context(stack, role))
        for action in ("logs:CreateLogStream", "logs:PutLogEvents")
    ]


def _secret_reads(stack: Stack, role: str, arns: list[str]) -> list[Request]:
    return [
        Request(stack.role_arn(role), "secretsmanager:GetSecretValue", arn, _context(stack, role))
        for arn in arns
    ]


def service_requests(stack: Stack) -> list[tuple[str, Request, str]]:
    """(role, request, who makes it) for the calls AWS services make on the roles' behalf."""
    found: list[tuple[str, Request, str]] = []
    container = stack.container
    repository = container["image"].split("/", 1)[1].rsplit(":", 1)[0]
    repository_arn = f"arn:aws:ecr:{stack.region}:{MOCK_ACCOUNT}:repository/{repository}"
    agent = "ECS agent: image pull, log writes, secret injection"
    execution = [Request(stack.role_arn("execution"), "ecr:GetAuthorizationToken", "*")]
    execution += [
        Request(stack.role_arn("execution"), f"ecr:{a}", repository_arn)
        for a in ("BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "BatchGetImage")
    ]
    options = container["logConfiguration"]["options"]
    stream = f"{options['awslogs-stream-prefix']}/{container['name']}/0123456789abcdef"
    execution += _log_writes(stack, "execution", options["awslogs-group"], stream)
    execution += _secret_reads(
        stack, "execution", [s["valueFrom"] for s in container.get("secrets", [])]
    )
    found += [("execution", r, agent) for r in execution]

    lambda_service = "Lambda service: Job stream polling, log writes"
    stream_arn = stack.run.outputs["jobStreamArn"]
    dispatcher = [
        Request(stack.role_arn("dispatcher"), f"dynamodb:{a}", stream_arn)
        for a in ("DescribeStream", "GetRecords", "GetShardIterator")
    ]
    dispatcher.append(Request(stack.role_arn("dispatcher"), "dynamodb:ListStreams", "*"))
    lambda_stream = "2026/01/01/[$LATEST]0123456789abcdef"
    dispatcher += _log_writes(
        stack, "dispatcher", f"/aws/lambda/{stack.prefix}-dispatcher", lambda_stream
    )
    found += [("dispatcher", r, lambda_service) for r in dispatcher]
    env = stack.dispatcher_env
    startup = [
        env[k] for k in ("JOBS_API_KEY_SECRET_ARN", "WORKER_CREDENTIALS_SECRET_ID") if k in env
    ]
    found += [
        ("dispatcher", r, "dispatcher start: its jobs API sign-in")
        for r in _secret_reads(stack, "dispatcher", startup)
    ]

    if "resolver" in stack.roles():
        group = f"/aws/lambda/{stack.prefix}-jobs-resolver"
        found += [
            ("resolver", r, lambda_service)
            for r in _log_writes(stack, "resolver", group, lambda_stream)
        ]
        resolver = stack.run.one("aws:lambda/function:Function", "jobs-resolver")
        invoke = Request(
            stack.role_arn("appsync"), "lambda:InvokeFunction", resolver.outputs["arn"]
        )
        found.append(("appsync", invoke, "AppSync: the resolver data source"))
    return found
