"""No secret in plain text: task definitions, Lambdas, stack outputs."""

import json

import pytest
from policy_testkit import UNKNOWN_STRING, check_resource, check_stack, resource, secret

from policies.plaintext_secrets import (
    name_looks_secret,
    no_plaintext_secrets,
    no_secret_stack_outputs,
    value_looks_secret,
)

TASK = "aws:ecs/taskDefinition:TaskDefinition"
LAMBDA = "aws:lambda/function:Function"
STACK = "pulumi:pulumi:Stack"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:worker-AbCdEf"


def task(environment, secrets=()):
    return {
        "family": "worker",
        "containerDefinitions": json.dumps(
            [
                {
                    "name": "worker",
                    "image": "worker:latest",
                    "environment": environment,
                    "secrets": list(secrets),
                }
            ]
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "PASSWORD",
        "DB_PASSWORD",
        "apiToken",
        "GITHUB_TOKEN",
        "APPSYNC_API_KEY",
        "jobsApiKey",
        "AWS_SECRET_ACCESS_KEY",
        "signingKey",
        "client_secret",
        "PRIVATE_KEY",
        "credentials",
    ],
)
def test_secret_names(name):
    assert name_looks_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "WORKER_SECRET_ARN",
        "workerCredentialsSecretArn",
        "PASSWORD_FILE",
        "TOKEN_URL",
        "RENDER_BUCKET",
        "CACHE_KEY",
        "keyPrefix",
        "JOBS_API_AUTH",
        "ECS_CLUSTER",
        "secretName",
    ],
)
def test_reference_and_ordinary_names(name):
    assert not name_looks_secret(name)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMII", "a private key"),
        ("da2-abcdefghijklmnopqrstuvwxyz", "an AppSync API key"),
        ("postgres://render:hunter2@db.internal/jobs", "a URL with a password"),
    ],
)
def test_secret_values(value, kind):
    assert value_looks_secret(value) == kind


def test_task_definition_with_secrets_from_secrets_manager_passes():
    props = task(
        [{"name": "LOG_LEVEL", "value": "INFO"}],
        secrets=[{"name": "PASSWORD", "valueFrom": SECRET_ARN}],
    )
    assert check_resource(no_plaintext_secrets, TASK, props, name="worker") == []


def test_plaintext_password_in_a_container_is_reported():
    props = task([{"name": "LOG_LEVEL", "value": "INFO"}, {"name": "PASSWORD", "value": "hunter2"}])
    assert check_resource(no_plaintext_secrets, TASK, props, name="worker") == [
        "Container 'worker' sets environment variable 'PASSWORD' in plain text; its name looks "
        "like a password, token or secret key. Store it in Secrets Manager and list it under "
        "the container's 'secrets' ({name, valueFrom: <secret ARN>}) instead.",
    ]


def test_credential_shaped_value_is_reported_without_repeating_it():
    props = task([{"name": "DATABASE", "value": "postgres://render:hunter2@db/jobs"}])
    [message] = check_resource(no_plaintext_secrets, TASK, props)
    assert "its value looks like a URL with a password" in message
    assert "hunter2" not in message


def test_lambda_environment_passes_with_an_arn_and_fails_with_a_token():
    ok = {"timeout": 30.0, "environment": {"variables": {"CREDENTIALS_SECRET_ARN": SECRET_ARN}}}
    assert check_resource(no_plaintext_secrets, LAMBDA, ok, name="dispatcher") == []
    # Marking the variable secret in Pulumi does not help: Lambda shows it in plain text.
    bad = {"environment": secret({"variables": {"API_TOKEN": "t0k3n"}})}
    assert check_resource(no_plaintext_secrets, LAMBDA, bad, name="dispatcher") == [
        "Lambda 'dispatcher' sets environment variable 'API_TOKEN' in plain text; its name "
        "looks like a password, token or secret key. Store it in Secrets Manager, pass the "
        "secret's ARN (e.g. a *_SECRET_ARN variable) and read it at run time.",
    ]


def test_stack_outputs_with_references_pass():
    stack = resource(
        STACK,
        "babulus-render-dev",
        {
            "bucketName": "renders",
            "workerCredentialsSecretArn": SECRET_ARN,
            "jobsApiEndpoint": "https://x.appsync-api.us-east-1.amazonaws.com/graphql",
        },
    )
    assert check_stack(no_secret_stack_outputs, [stack]) == []


def test_secret_stack_output_is_reported_even_when_marked_secret():
    stack = resource(
        STACK,
        "babulus-render-dev",
        {"bucketName": "renders", "jobsApiKey": secret("da2-abcdefghijklmnopqrstuvwxyz")},
    )
    assert check_stack(no_secret_stack_outputs, [stack]) == [
        (
            "babulus-render-dev",
            "Stack output 'jobsApiKey': its name looks like a password, token or secret key. "
            "Do not export credentials (Pulumi secret outputs are still readable with "
            "--show-secrets); export the Secrets Manager secret's ARN instead.",
        )
    ]


def test_nested_stack_output_value_is_reported():
    stack = resource(STACK, "s", {"db": {"url": "postgres://u:pw@h/db"}})
    assert [m.split(":")[0] for _, m in check_stack(no_secret_stack_outputs, [stack])] == [
        "Stack output 'db.url'"
    ]


def test_outputs_unknown_during_preview_are_judged_by_name():
    stack = resource(
        STACK,
        "s",
        {
            "bucketArn": UNKNOWN_STRING,
            "adminPassword": UNKNOWN_STRING,
            "nested": {"arns": [UNKNOWN_STRING]},
        },
    )
    assert [m.split(":")[0] for _, m in check_stack(no_secret_stack_outputs, [stack])] == [
        "Stack output 'adminPassword'"
    ]


def test_lambda_variables_unknown_during_preview_are_judged_by_name():
    props = {
        "environment": {"variables": {"BUCKET_ARN": UNKNOWN_STRING, "DB_PASSWORD": UNKNOWN_STRING}}
    }
    [message] = check_resource(no_plaintext_secrets, LAMBDA, props)
    assert message.startswith("Lambda 'r' sets environment variable 'DB_PASSWORD' in plain text")
