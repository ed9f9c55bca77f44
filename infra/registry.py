"""Registry: the ECR repository for the worker image.

A plain ``aws.ecr.Repository`` rather than awsx's component: retain-on-delete
set on a component does not reach its children, and the repository must
outlive ``pulumi destroy`` (images are the release history).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class RegistryArgs:
    repository_name: str
    untagged_images_kept: int = 10


class Registry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    repository_name: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:Registry", name, None, opts)

        repository = aws.ecr.Repository(
            f"{name}-worker",
            name=args.repository_name,
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True,
            ),
            image_tag_mutability="MUTABLE",
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(
                encryption_type="AES256",
            )],
            force_delete=False,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-untagged",
            repository=repository.name,
            policy=json.dumps({"rules": [{
                "rulePriority": 1,
                "description": f"Keep at most {args.untagged_images_kept} untagged images",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "imageCountMoreThan",
                    "countNumber": args.untagged_images_kept,
                },
                "action": {"type": "expire"},
            }]}),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.repository_name = repository.name
        self.register_outputs({
            "repositoryUrl": self.repository_url,
            "repositoryArn": self.repository_arn,
        })
