"""The offline runner: the real program on every committed stack, and a broken variant
of a program built here, judged under mocks as `pulumi preview --policy-pack` would."""

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
import pytest
from pulumi_policy import EnforcementLevel

import policies.check
from infra.offline import run_stack
from policies.check import check_stack, main

REPO = Path(__file__).resolve().parents[2]
STACKS = sorted(path.name.split(".")[1] for path in REPO.glob("Pulumi.*.yaml"))


def names(violations):
    return sorted((v.policy, v.resource.rsplit("::", 1)[-1]) for v in violations)


def test_every_committed_stack_is_checked():
    assert STACKS == ["dev", "prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stacks_have_no_violation_at_all(stack):
    assert [(v.policy, v.resource) for v in check_stack(stack)] == []


def test_runner_passes_on_every_committed_stack(capsys):
    assert main(STACKS) == 0
    out = capsys.readouterr().out
    assert "stack dev: 0 violation(s), 0 mandatory" in out
    assert "stack prod: 0 violation(s), 0 mandatory" in out


def test_runner_prints_violations_and_honours_the_config_file(tmp_path, capsys, monkeypatch):
    # dev's real program plus a stack output that looks like a secret key.
    def leaky_program():
        runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
        pulumi.export("jobsApiKey", pulumi.Output.secret("da2-abcdefghijklmnop"))

    monkeypatch.setattr(
        policies.check, "run_stack", lambda stack, **kw: run_stack(stack, program=leaky_program)
    )
    assert main(["dev"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("stack dev: ")
    assert (
        "  [mandatory] no-secret-stack-outputs: pulumi:pulumi:Stack babulus-render-dev\n"
        "      Stack output 'jobsApiKey': its name looks like"
    ) in out
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"no-secret-stack-outputs": "advisory"}))
    assert main(["--config", str(config), "dev"]) == 0
    assert "stack dev: 1 violation(s), 0 mandatory" in capsys.readouterr().out


def test_runner_rejects_a_bad_config_and_a_missing_stack(tmp_path, capsys):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"s3-encryption": "sometimes"}))
    assert main(["--config", str(config), "dev"]) == 2
    assert "enforcement level 'sometimes' is not one of" in capsys.readouterr().err
    assert main(["staging"]) == 2
    assert "stack staging: cannot run the program offline" in capsys.readouterr().err


def test_the_module_runs_from_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "policies.check", "prod"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("stack prod: 0 violation(s)")


# --- a broken variant of a farm-like program --------------------------------------------

DEFECTS = {
    "public bucket": ("s3-public-access-block", "renders"),
    "task role with s3:*": ("iam-least-privilege", "task"),
    "plaintext PASSWORD": ("no-plaintext-secrets", "worker"),
    "log group without retention": ("log-group-retention", "worker-logs"),
    "VPC without flow logs": ("vpc-flow-logs", "vpc"),
}
TAGS = json.dumps({"tags": {"project": "babulus-render", "environment": "test"}})


def farm_program(defects):
    def program():
        bucket = aws.s3.Bucket("renders", bucket="babulus-render-test-renders")
        if "public bucket" not in defects:
            aws.s3.BucketPublicAccessBlock(
                "renders-pab",
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            "renders-sse",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        )
        aws.s3.BucketPolicy(
            "renders-tls",
            bucket=bucket.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [arn, f"{arn}/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    }
                )
            ),
        )

        role = aws.iam.Role(
            "task",
            assume_role_policy=json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        }
                    ]
                }
            ),
        )
        writes = ["s3:*"] if "task role with s3:*" in defects else ["s3:PutObject"]
        aws.iam.RolePolicy(
            "task",
            role=role.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": writes, "Resource": f"{arn}/renders/*"}
                        ],
                    }
                )
            ),
        )

        retention = None if "log group without retention" in defects else 7
        logs = aws.cloudwatch.LogGroup(
            "worker-logs", name="/ecs/test-worker", retention_in_days=retention
        )
        secret = aws.secretsmanager.Secret("worker-credentials")
        password = {"name": "PASSWORD"}
        container = {
            "name": "worker",
            "image": "worker:latest",
            "environment": [],
            "secrets": [],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/test-worker",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "worker",
                },
            },
        }
        aws.ecs.TaskDefinition(
            "worker",
            family="test-worker",
            cpu="1024",
            memory="2048",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            task_role_arn=role.arn,
            container_definitions=secret.arn.apply(
                lambda arn: json.dumps(
                    [
                        {
                            **container,
                            "environment": [{**password, "value": "hunter2"}]
                            if "plaintext PASSWORD" in defects
                            else [],
                            "secrets": []
                            if "plaintext PASSWORD" in defects
                            else [{**password, "valueFrom": arn}],
                        }
                    ]
                )
            ),
        )

        vpc = awsx.ec2.Vpc(
            "vpc",
            number_of_availability_zones=2,
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                strategy=awsx.ec2.NatGatewayStrategy.SINGLE
            ),
        )
        if "VPC without flow logs" not in defects:
            aws.ec2.FlowLog(
                "vpc-flow-log",
                vpc_id=vpc.vpc_id,
                traffic_type="ALL",
                log_destination=logs.arn,
                iam_role_arn=role.arn,
            )
        pulumi.export("bucketName", bucket.bucket)

    return program


def check_variant(defects):
    return check_stack(
        "dev", program=farm_program(defects), config_overrides={"aws:defaultTags": TAGS}
    )


def test_the_sound_variant_passes_every_policy():
    assert check_variant(set()) == []


def test_the_broken_variant_fails_with_exactly_its_defects():
    violations = check_variant(set(DEFECTS))
    assert names(violations) == sorted(DEFECTS.values())
    assert {v.level for v in violations} == {EnforcementLevel.MANDATORY}
    assert sorted(v.message.split(". ")[0] for v in violations) == [
        "Bucket 'renders' has no public access block",
        "Container 'worker' sets environment variable 'PASSWORD' in plain text; its name looks "
        "like a password, token or secret key",
        "Log group 'worker-logs' keeps its logs forever",
        "Statement #0 of policy 'task' grants s3:* (deletes included); grant s3:GetObject on "
        "the inputs and s3:PutObject on renders/* only.",
        "VPC 'vpc' has no flow log",
    ]


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_alone_is_the_only_violation(defect):
    assert names(check_variant({defect})) == [DEFECTS[defect]]
