"""The shell commands a stack's outputs hand to its operator, exact for that stack."""

from __future__ import annotations

import pulumi

from infra.settings import Settings

PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}


def push_image_commands(
    settings: Settings, repository_url: pulumi.Input[str]
) -> pulumi.Output[str]:
    """Log in to ECR, build the worker image for the task's CPU architecture, tag, push."""
    region, tag = settings.region, settings.image_tag
    local = f"{settings.repository_name}:{tag}"

    def render(url: str) -> str:
        registry = url.split("/", 1)[0]
        return "\n".join([
            f"aws ecr get-login-password --region {region} | docker login --username AWS "
            f"--password-stdin {registry}",
            f"docker build --platform {PLATFORMS[settings.task_architecture]} -t {local} .",
            f"docker tag {local} {url}:{tag}",
            f"docker push {url}:{tag}",
        ])

    return pulumi.Output.from_input(repository_url).apply(render)


def list_tasks_command(settings: Settings, cluster_name: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "aws ecs list-tasks --region ", settings.region, " --cluster ", cluster_name,
        " --family ", settings.task_family,
    )
