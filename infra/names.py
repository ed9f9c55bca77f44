"""Physical names and ARNs derived from stack settings.

Several resources must name each other before they exist (the execution
role's policy names the worker log group, the secret's policy names the
execution role), so the names are fixed here and the ARNs derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.settings import Settings


@dataclass(frozen=True)
class FarmNames:
    settings: Settings
    account_id: pulumi.Output[str]

    @property
    def prefix(self) -> str:
        return self.settings.name_prefix

    @property
    def container_name(self) -> str:
        return "worker"

    @property
    def execution_role(self) -> str:
        return f"{self.prefix}-task-execution"

    @property
    def task_role(self) -> str:
        return f"{self.prefix}-task"

    @property
    def dispatcher_role(self) -> str:
        return f"{self.prefix}-dispatcher"

    @property
    def dispatcher_function(self) -> str:
        return f"{self.prefix}-dispatcher"

    @property
    def worker_log_group(self) -> str:
        return f"/ecs/{self.settings.task_family}"

    @property
    def dispatcher_log_group(self) -> str:
        return f"/aws/lambda/{self.dispatcher_function}"

    def arn(self, service: str, resource: str, region: bool = True) -> pulumi.Output[str]:
        where = self.settings.region if region else ""
        return pulumi.Output.concat("arn:aws:", service, ":", where, ":", self.account_id, ":",
                                    resource)

    def role_arn(self, role_name: str) -> pulumi.Output[str]:
        return self.arn("iam", f"role/{role_name}", region=False)

    def log_group_arn(self, name: str) -> pulumi.Output[str]:
        return self.arn("logs", f"log-group:{name}")

    @property
    def cluster_arn(self) -> pulumi.Output[str]:
        return self.arn("ecs", f"cluster/{self.settings.cluster_name}")
