"""Build resources the way the Pulumi analyzer presents them, and run one policy.

Properties are written in the engine's wire form (camelCase keys, numbers as
floats, secrets wrapped with ``secret()``, unknowns as ``UNKNOWN_STRING``);
``policies.evaluate`` turns them into the analyzer's arguments.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Policy, PolicyProviderResource
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.evaluate import Resource, resource_args, stack_args

UNKNOWN_STRING = UNKNOWN_STRING_VALUE


def secret(value: Any) -> dict[str, Any]:
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::babulus-render::{type_}::{name}"


def resource(
    type_: str,
    name: str,
    props: dict[str, Any],
    *,
    outputs: dict[str, Any] | None = None,
    parent: Resource | None = None,
    deps: dict[str, list[Resource]] | None = None,
    provider: PolicyProviderResource | None = None,
) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=urn(type_, name),
        props=props,
        outputs=outputs,
        parent=parent.urn if parent else None,
        property_dependencies={k: [d.urn for d in v] for k, v in (deps or {}).items()},
        provider=provider,
    )


def check_resource(
    policy: Policy,
    type_: str,
    props: dict[str, Any],
    *,
    name: str = "r",
    config: dict[str, Any] | None = None,
    provider: PolicyProviderResource | None = None,
) -> list[str]:
    """The messages ``policy`` reports for one resource."""
    messages: list[str] = []
    args = resource_args(resource(type_, name, props, provider=provider), config)
    policy.validate(args, lambda message, urn=None: messages.append(message))
    return messages


def check_stack(
    policy: Policy, resources: list[Resource], *, config: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(resource name or "", message) of each violation ``policy`` reports for the stack."""
    names = {r.urn: r.name for r in resources}
    found: list[tuple[str, str]] = []
    policy.validate(
        stack_args(resources, config),
        lambda message, urn=None: found.append((names.get(urn, ""), message)),
    )
    return found
