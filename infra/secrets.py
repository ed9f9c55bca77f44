"""Secrets: the worker's credentials, generated and kept in Secrets Manager.

The password only ever travels as a Pulumi secret: into the secret version
(and, when this program creates the jobs API, the Cognito worker user). The
task receives it through the container's ``secrets``, and a resource policy
lets no principal but the task execution role and the deploying principal read the
value (the provider reads back the version it wrote, on create, refresh and destroy).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.policy_docs import document


@dataclass
class WorkerSecretsArgs:
    name_prefix: str
    reader_role_arn: pulumi.Input[str]
    # Who runs `pulumi up` (an IAM role or user ARN, never an STS session ARN).
    deployer_arn: pulumi.Input[str]
    username: str = "render-worker"


class WorkerSecrets(pulumi.ComponentResource):
    secret_arn: pulumi.Output[str]
    username: str
    password: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkerSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("babulus:render:WorkerSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Cognito's default password policy wants every character class.
        password = random.RandomPassword(
            f"{name}-password",
            length=32,
            min_lower=1,
            min_upper=1,
            min_numeric=1,
            min_special=1,
            override_special="!#$%&*()-_=+[]{}<>:?",
            opts=child,
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-worker-credentials",
            name=f"{args.name_prefix}/worker-credentials",
            description="Render worker credentials for the jobs API (JSON: username, password)",
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-worker-credentials",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(
                {"username": args.username, "password": password.result}
            ),
            opts=child,
        )
        aws.secretsmanager.SecretPolicy(
            f"{name}-worker-credentials",
            secret_arn=secret.arn,
            block_public_policy=True,
            policy=document(
                [
                    {
                        "Sid": "OnlyTheTaskExecutionRoleAndTheDeployerReadTheValue",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                        "Condition": {
                            "StringNotEquals": {
                                "aws:PrincipalArn": [args.reader_role_arn, args.deployer_arn]
                            }
                        },
                    }
                ]
            ),
            opts=child,
        )

        self.secret_arn = secret.arn
        self.username = args.username
        self.password = pulumi.Output.secret(password.result)
        self.register_outputs({"secretArn": self.secret_arn})
