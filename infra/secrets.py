"""Secrets: the farm's sign-in for a studio jobs API that authenticates it by user pool.

Only in cognito attach mode (the studio's Amplify API, which knows workers by Cognito
user): the farm's user in the studio's pool, ``{"email", "password"}``, from stack config
(the password a Pulumi secret) into Secrets Manager. The worker task receives it through
the container's ``secrets`` (WORKER_CREDENTIALS), the dispatcher reads it at start
(WORKER_CREDENTIALS_SECRET_ID); both sign in with it and refresh their tokens
(renderlib.jobs.auth.CognitoAuth). Where the farm signs its calls with IAM (create mode,
iam attach mode) there is no password at all.

A resource policy lets no principal read the value but the two roles that sign in and
the deploying principal (the provider reads back the version it wrote, on create,
refresh and destroy).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.policy_docs import document


@dataclass
class WorkerSecretsArgs:
    name_prefix: str
    reader_role_arns: list[pulumi.Input[str]]
    # Who runs `pulumi up` (an IAM role or user ARN, never an STS session ARN).
    deployer_arn: pulumi.Input[str]
    email: str
    password: pulumi.Input[str]


class WorkerSecrets(pulumi.ComponentResource):
    secret_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkerSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("babulus:render:WorkerSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        secret = aws.secretsmanager.Secret(
            f"{name}-worker-credentials",
            name=f"{args.name_prefix}/worker-credentials",
            description="The farm's user in the studio's user pool (JSON: email, password)",
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-worker-credentials",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(
                pulumi.Output.json_dumps({"email": args.email, "password": args.password})
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
                        "Sid": "OnlyTheFarmRolesAndTheDeployerReadTheValue",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                        "Condition": {
                            "StringNotEquals": {
                                "aws:PrincipalArn": [*args.reader_role_arns, args.deployer_arn]
                            }
                        },
                    }
                ]
            ),
            opts=child,
        )

        self.secret_arn = secret.arn
        self.register_outputs({"secretArn": self.secret_arn})
