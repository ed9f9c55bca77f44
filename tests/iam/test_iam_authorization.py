"""Would AWS authorize what the farm does, with the policies the Pulumi program declares?

moto and the Pulumi mocks enforce no IAM, so this test does: the existing end-to-end
tests run once more under tests/iam/recorder.py, every AWS call the dispatcher, the
worker and the resolver made is mapped to the IAM requests AWS authorizes
(tests/iam/authorization.py, from the Service Authorization Reference), the calls AWS
services make on the roles' behalf are added from the stack, and each request is judged
against the role policies (and resource policies) of each stack with tests/iam/iam_policy.py.

Both ways: every request is allowed, and every allowed action and resource of every role
statement is used by some request (least privilege).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from infra.offline import MOCK_ACCOUNT, MOCK_DEPLOYER_ROLE, REPO_ROOT, run_stack
from tests.iam.authorization import (
    Stack,
    call_requests,
    service_requests,
)
from tests.iam.iam_policy import (
    ALLOW,
    DENY,
    Request,
    action_matches,
    as_list,
    evaluate,
    statement_applies,
    statements_of,
)
from tests.iam.recorder import CALLERS, LIBRARIES

# The end-to-end runs whose calls are judged: the dispatcher on moto's ECS (and the exact
# RunTask requests), the resolver on moto's DynamoDB (the Lambda handler, and the same
# service behind the local API), the worker's S3 storage and one whole render job.
E2E_TESTS = [
    "tests/farm/test_farm_dispatch.py",
    "tests/farm/test_farm_ecs_launcher.py",
    "tests/jobs/test_jobs_lambda_resolver.py",
    "tests/jobs/test_jobs_client.py",
    "tests/jobs/test_jobs_chunks.py",
    "tests/jobs/test_jobs_media_links.py::test_the_resolver_presigns_s3_links_to_a_runs_files",
    "tests/worker/test_storage.py",
    "tests/worker/test_worker_run.py::test_happy_path_s3_in_s3_out",
]
# Long runs that make no kind of call the others do not.
SKIPPED = [
    "tests/farm/test_farm_dispatch.py::test_eight_racing_dispatchers_launch_each_job_exactly_once",
    "tests/farm/test_farm_dispatch.py::test_concurrency_cap_holds_with_100_queued_jobs",
]
EVENTS = "service:events.amazonaws.com"
ATTACH_COGNITO = {
    "jobsApiMode": "attach",
    "jobsApiEndpoint": "https://studio123.appsync-api.us-east-1.amazonaws.com/graphql",
    "jobsApiStreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Job-abc/stream/2026-01-01",
    "jobsApiKeyExpires": None,
    "jobsApiAuth": "cognito",
    "jobsApiCognitoClientId": "4studioappclient0123456789",
    "jobsApiWorkerEmail": "render-farm@studio.example",
    "jobsApiWorkerPassword": "Studio-Worker-Passw0rd!",
}
STACKS = {
    "dev": lambda: run_stack("dev"),
    "prod": lambda: run_stack("prod"),
    "attach-cognito": lambda: run_stack("prod", config_overrides=ATTACH_COGNITO),
}


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> list[dict]:
    target = tmp_path_factory.mktemp("iam") / "calls.jsonl"
    deselect = [arg for test in SKIPPED for arg in ("--deselect", test)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.iam.recorder",
         "-p", "no:cacheprovider", "-k", "dynamodb or not sqlite", *deselect, *E2E_TESTS],
        cwd=REPO_ROOT, env={**os.environ, "IAM_CALLS_FILE": str(target)},
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [json.loads(line) for line in target.read_text().splitlines()]


@pytest.fixture(scope="module", params=sorted(STACKS))
def stack(request) -> Stack:
    return Stack(STACKS[request.param]())


def farm_calls(calls: list[dict]) -> list[dict]:
    return [c for c in calls if c["caller"] not in (None, "studio")]


def requests_of(stack: Stack, calls: list[dict]) -> dict[str, list[Request]]:
    by_role: dict[str, list[Request]] = {role: [] for role in stack.roles()}
    for call in farm_calls(calls):
        if call["caller"] in by_role:  # attach mode: the studio's API has its own resolver
            by_role[call["caller"]] += call_requests(stack, call)
    for role, request, _who in service_requests(stack):
        by_role[role].append(request)
    return by_role


def test_every_call_comes_from_a_known_caller(calls):
    unplaced = {c["module"] for c in calls if c["caller"] is None} - set(LIBRARIES)
    assert not unplaced, f"AWS calls from code no role answers for: {unplaced}; add to CALLERS"
    roles = Counter(c["caller"] for c in farm_calls(calls))
    assert set(roles) == {"dispatcher", "task", "resolver"} <= set(CALLERS.values())
    kinds = {(c["service"], c["operation"]) for c in farm_calls(calls)}
    # The paths the issue names are all exercised (so no role is judged on nothing).
    assert {
        ("ecs", "RunTask"), ("ecs", "ListTasks"), ("ecs", "DescribeTasks"),
        ("s3", "GetObject"), ("s3", "PutObject"), ("s3", "CreateMultipartUpload"),
        ("dynamodb", "GetItem"), ("dynamodb", "PutItem"), ("dynamodb", "UpdateItem"),
        ("dynamodb", "Query"), ("appsync", "GraphQL"),
    } <= kinds  # fmt: skip


def test_every_call_is_allowed_by_its_role(stack, calls):
    denied = []
    for role, requests in requests_of(stack, calls).items():
        policies = stack.identity_policies(role)
        for request in set(requests):
            if evaluate(request, policies) != ALLOW:
                denied.append((role, request.action, request.resource))
    assert not denied, "AWS would refuse:\n" + "\n".join(map(str, sorted(denied)))


def test_every_allowed_action_and_resource_is_used(stack, calls):
    """Least privilege: each action and each resource of each Allow statement is needed
    by at least one request that statement allows."""
    unused = []
    for role, requests in requests_of(stack, calls).items():
        for document in stack.identity_policies(role):
            for statement in statements_of(document):
                sid = statement.get("Sid", "?")
                used = [r for r in set(requests) if statement_applies(statement, r)]
                for action in as_list(statement["Action"]):
                    if not any(action_matches(action, r.action) for r in used):
                        unused.append((role, sid, action))
                for resource in as_list(statement["Resource"]):
                    narrowed = {**statement, "Resource": [resource]}
                    if not any(statement_applies(narrowed, r) for r in used):
                        unused.append((role, sid, resource))
    assert not unused, "allowed but never used:\n" + "\n".join(map(str, sorted(unused)))


# --- resource policies ---------------------------------------------------------------------


def resource_policy(stack: Stack, type_: str, **match) -> dict | None:
    found = [
        r for r in stack.run.of_type(type_) if all(r.inputs.get(k) == v for k, v in match.items())
    ]
    return json.loads(found[0].inputs["policy"]) if found else None


def test_the_bucket_policy_allows_the_recorded_s3_calls_over_tls_only(stack, calls):
    bucket_policy = json.loads(stack.run.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    task = stack.identity_policies("task")
    s3 = [r for r in requests_of(stack, calls)["task"] if r.action.startswith("s3:")]
    assert s3
    for request in set(s3):
        assert evaluate(request, task, bucket_policy) == ALLOW, request
        plain_context = {**request.context, "aws:SecureTransport": "false"}
        plain = Request(request.principal, request.action, request.resource, plain_context)
        assert evaluate(plain, task, bucket_policy) == DENY, request


def test_eventbridge_may_invoke_the_dispatcher_from_exactly_its_rules(stack):
    function = stack.run.one("aws:lambda/function:Function", "dispatcher-function")
    # Each aws.lambda_.Permission is one statement of the function's resource policy.
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": p.inputs["principal"]},
                "Action": p.inputs["action"],
                "Resource": function.outputs["arn"],
                "Condition": {"ArnLike": {"AWS:SourceArn": p.inputs["sourceArn"]}},
            }
            for p in stack.run.of_type("aws:lambda/permission:Permission")
            if p.inputs["function"] == function.outputs["name"]
        ]
    }
    rules = {
        r.outputs["name"]: r.outputs["arn"]
        for r in stack.run.of_type("aws:cloudwatch/eventRule:EventRule")
    }
    targets = [
        t
        for t in stack.run.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.inputs["arn"] == function.outputs["arn"]
    ]
    assert len(targets) == 2
    for target in targets:
        source = {"aws:SourceArn": rules[target.inputs["rule"]]}
        invoke = Request(EVENTS, "lambda:InvokeFunction", function.outputs["arn"], source)
        assert evaluate(invoke, [], policy) == ALLOW, target.name
    other = {"aws:SourceArn": f"arn:aws:events:{stack.region}:{MOCK_ACCOUNT}:rule/other"}
    stranger = Request(EVENTS, "lambda:InvokeFunction", function.outputs["arn"], other)
    assert evaluate(stranger, [], policy) != ALLOW


# The key policy of alias/aws/sns, which AWS writes and no one can change: only principals
# of the account, through SNS (AWS KMS Developer Guide, "AWS managed keys").
AWS_MANAGED_SNS_KEY_POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:CreateGrant",
                "kms:DescribeKey",
            ],  # fmt: skip
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": MOCK_ACCOUNT,
                    "kms:ViaService": "sns.us-east-1.amazonaws.com",
                }
            },
        }
    ]
}


def test_alarms_can_publish_to_the_encrypted_topic(stack):
    topic = stack.run.one("aws:sns/topic:Topic")
    topic_arn = topic.outputs["arn"]
    topic_policy = resource_policy(stack, "aws:sns/topicPolicy:TopicPolicy")
    key_id = topic.inputs.get("kmsMasterKeyId")
    keys = {
        k.outputs["arn"]: json.loads(k.inputs["policy"])
        for k in stack.run.of_type("aws:kms/key:Key")
    }
    key_policy = keys.get(key_id, AWS_MANAGED_SNS_KEY_POLICY if key_id else None)
    alarms = [
        a
        for a in stack.run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if topic_arn in a.inputs["alarmActions"]
    ]
    assert len(alarms) == 5
    cloudwatch = "service:cloudwatch.amazonaws.com"
    for alarm in alarms:
        alarm_arn = f"arn:aws:cloudwatch:{stack.region}:{MOCK_ACCOUNT}:alarm:{alarm.inputs['name']}"
        context = {"aws:SourceArn": alarm_arn, "aws:SourceAccount": MOCK_ACCOUNT}
        assert (
            evaluate(Request(cloudwatch, "sns:Publish", topic_arn, context), [], topic_policy)
            == ALLOW
        )
        if key_policy is not None:
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                use = Request(cloudwatch, action, key_id, context)
                assert evaluate(use, [], key_policy, key_policy=True) == ALLOW, (alarm.name, action)


def test_only_the_farm_and_the_deployer_read_the_sign_in_secret(stack, calls):
    policy = resource_policy(stack, "aws:secretsmanager/secretPolicy:SecretPolicy")
    if stack.farm_auth != "cognito":
        assert policy is None  # IAM signs the farm's calls: there is no secret
        return
    secret = stack.run.outputs["workerCredentialsSecretArn"]
    reads = [
        (role, r)
        for role, r, _ in service_requests(stack)
        if r.action == "secretsmanager:GetSecretValue"
    ]
    assert {role for role, _ in reads} == {"execution", "dispatcher"}
    for role, read in reads:
        assert evaluate(read, stack.identity_policies(role), policy) == ALLOW, role
    admin = [{"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}]
    for principal, expected in ((MOCK_DEPLOYER_ROLE, ALLOW), (stack.role_arn("task"), DENY)):
        read = Request(
            principal, "secretsmanager:GetSecretValue", secret, {"aws:PrincipalArn": principal}
        )
        assert evaluate(read, admin, policy) == expected, principal


def test_coverage_figures(stack, calls, capsys):
    by_role = requests_of(stack, calls)
    with capsys.disabled():
        print(
            f"\n[{stack.run.stack}/{stack.farm_auth}] {len(farm_calls(calls))} recorded calls, "
            + ", ".join(f"{role}: {len(set(r))} requests" for role, r in by_role.items())
        )
    assert all(by_role.values())
