"""Relating resources to each other inside stack policies.

A side resource (a bucket's public access block, a VPC's flow log) names its
owner through one input (``bucket``, ``vpcId``). Two facts can tie them:

1. The engine's property dependencies: ``side.property_dependencies["bucket"]``
   lists the resources that input was computed from. A real preview has them
   even while the bucket's id is still unknown, so this is the first test.
2. The value: the side's input equals one of the owner's identities (its
   ``id``, its ``bucket`` name, its ``arn``, or for an awsx VPC its ``vpcId``
   output). That covers state after an update and any resource list that
   carries outputs but no dependencies.

An unknown side value is never compared (it matches nothing by value).
"""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import PolicyResource

from .props import UNKNOWN, known

IDENTITY_KEYS = ("id", "bucket", "arn", "vpcId")


def identities(resource: PolicyResource) -> set[str]:
    """The known string values other resources may use to refer to ``resource``."""
    values = set()
    for key in IDENTITY_KEYS:
        value = known(resource.props, key)
        if isinstance(value, str) and value:
            values.add(value)
    return values


def refers_to(side: PolicyResource, prop: str, owner: PolicyResource) -> bool:
    """True when ``side``'s input ``prop`` points at ``owner``."""
    if any(dep.urn == owner.urn for dep in side.property_dependencies.get(prop, [])):
        return True
    value = known(side.props, prop)
    if value is UNKNOWN or not isinstance(value, str):
        return False
    return value in identities(owner)


def lists(side: PolicyResource, prop: str, owner: PolicyResource) -> bool:
    """True when the list input ``prop`` of ``side`` (alarm actions, say) names ``owner``."""
    if any(dep.urn == owner.urn for dep in side.property_dependencies.get(prop, [])):
        return True
    values = known(side.props, prop)
    if values is UNKNOWN or values is None or isinstance(values, str):
        return False
    named = set()
    for index in range(len(values)):
        value = known(values, index)
        if isinstance(value, str):
            named.add(value)
    return bool(identities(owner) & named)


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def sides_of(
    owner: PolicyResource, sides: Iterable[PolicyResource], prop: str
) -> list[PolicyResource]:
    """The side resources whose ``prop`` points at ``owner``."""
    return [side for side in sides if refers_to(side, prop, owner)]
