"""Runs the pack's policies over a list of resources, as the Pulumi analyzer does.

The analyzer (pulumi_policy's server) deserializes each resource's properties
(unwrapping secrets), wraps them in a proxy that raises on unknown values,
calls every resource policy per resource and every stack policy once with all
resources, skips disabled policies, reports remediate-level violations as
mandatory, and turns a policy that touched an unknown value into an advisory
"can't run during preview" note. This module does the same without the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from .pack_config import PackConfig
from .registry import POLICIES


@dataclass(frozen=True)
class Resource:
    """One resource as the engine describes it to the analyzer.

    ``props`` (the inputs, which resource policies judge) and ``outputs`` (which
    stack policies judge; the inputs when None) are in the engine's wire form:
    camelCase keys, numbers as floats, secrets wrapped in Pulumi's secret
    signature, unknowns as sentinel strings.
    """

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    outputs: Mapping[str, Any] | None = None
    parent: str | None = None
    property_dependencies: Mapping[str, list[str]] = field(default_factory=dict)
    provider: PolicyProviderResource | None = None


@dataclass(frozen=True)
class Violation:
    policy: str
    level: EnforcementLevel
    resource: str  # the resource's URN, or "" for the stack as a whole
    message: str


def _analyzer_props(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return unknown_checking_proxy(deserialize_properties(dict(props)))


def _options(resource: Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def resource_args(
    resource: Resource, config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    """The arguments the analyzer gives a resource policy for ``resource``."""
    return ResourceValidationArgs(
        resource.type,
        _analyzer_props(resource.props),
        resource.urn,
        resource.name,
        _options(resource),
        resource.provider,
        dict(config or {}),
    )


def stack_args(
    resources: Iterable[Resource], config: Mapping[str, Any] | None = None
) -> StackValidationArgs:
    """The arguments the analyzer gives a stack policy: every resource, parents and
    property dependencies resolved to the resource objects."""
    resources = list(resources)
    built = {
        r.urn: PolicyResource(
            r.type,
            _analyzer_props(r.props if r.outputs is None else r.outputs),
            r.urn,
            r.name,
            _options(r),
            r.provider,
            None,
            [],
            {},
        )
        for r in resources
    }
    for r in resources:
        policy_resource = built[r.urn]
        if r.parent in built:
            policy_resource.parent = built[r.parent]
        for prop, urns in r.property_dependencies.items():
            deps = [built[urn] for urn in urns if urn in built]
            policy_resource.property_dependencies[prop] = deps
            policy_resource.dependencies.extend(
                d for d in deps if d not in policy_resource.dependencies
            )
    return StackValidationArgs(list(built.values()), dict(config or {}))


def _run(policy: Policy, args: Any, level: EnforcementLevel, subject: str) -> list[Violation]:
    found: list[Violation] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(Violation(policy.name, level, urn or subject, message))

    try:
        result = policy.validate(args, report)
        if isawaitable(result):
            asyncio.run(result)
    except UnknownValueError as error:
        found.append(
            Violation(
                policy.name,
                EnforcementLevel.ADVISORY,
                subject,
                f"can't run policy '{policy.name}' during preview: {error.message}",
            )
        )
    return found


def evaluate(
    resources: Iterable[Resource],
    config: PackConfig | None = None,
    policies: list[Policy] = POLICIES,
) -> list[Violation]:
    """Every violation the pack reports for the stack made of ``resources``."""
    config = config or PackConfig()
    resources = list(resources)
    violations: list[Violation] = []
    for policy in policies:
        level = config.level(policy)
        if level == EnforcementLevel.DISABLED:
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY
        settings = config.settings_for(policy)
        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = resource_args(resource, settings)
                violations += _run(policy, args, level, resource.urn)
        elif isinstance(policy, StackValidationPolicy):
            violations += _run(policy, stack_args(resources, settings), level, "")
    return violations
