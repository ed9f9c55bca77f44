"""The code both Python Lambdas (dispatcher, jobs resolver) ship.

The function code is the repository's ``handlers/`` and ``renderlib/`` folders
as they are; their PyPI dependencies that the Lambda runtime lacks (gql,
requests, ...) are one layer built by ``scripts/build-lambda.sh`` into
``build/lambda-deps/python``. Paths are relative to the project root, where
the Pulumi CLI runs the program.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

RUNTIME = "python3.12"
ARCHITECTURE = "x86_64"
DEPS_FOLDER = "build/lambda-deps"


def function_code() -> pulumi.AssetArchive:
    return pulumi.AssetArchive({
        "handlers": pulumi.FileArchive("handlers"),
        "renderlib": pulumi.FileArchive("renderlib"),
    })


@dataclass
class LambdaPackageArgs:
    name_prefix: str


class LambdaPackage(pulumi.ComponentResource):
    code: pulumi.AssetArchive
    layer_arn: pulumi.Output[str]

    def __init__(self, name: str, args: LambdaPackageArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:LambdaPackage", name, None, opts)
        layer = aws.lambda_.LayerVersion(
            f"{name}-deps",
            layer_name=f"{args.name_prefix}-python-deps",
            description="PyPI dependencies of handlers/ (scripts/build-lambda.sh)",
            code=pulumi.FileArchive(DEPS_FOLDER),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.code = function_code()
        self.layer_arn = layer.arn
        self.register_outputs({"layerArn": self.layer_arn})
