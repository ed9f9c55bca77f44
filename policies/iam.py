"""Least privilege for every IAM policy the stack writes.

The render task role is the one this rule was made for (read inputs, write
``renders/*``, never delete), but nothing in the farm needs broader rights, so
every role policy, managed policy and inline role policy is judged the same. The one
delete the farm makes is its cleanup of chunk segments (``renders/*/chunks/*``, by the
dispatcher once a chunked job succeeded): a delete on anything else is reported.
Only ``Allow`` statements are judged; ``Deny`` statements only take rights away.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .props import as_list, lookup, parse_json

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"

DEFAULT_WRITE_PREFIXES = ["renders/"]
DEFAULT_DELETE_PATTERNS = ["renders/*/chunks/*"]
S3_DELETES = ("s3:deleteobject", "s3:deleteobjectversion")


def _covers(patterns: list[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in patterns)


def _object_key(resource: str) -> str | None:
    """The key part of an S3 object ARN (``arn:aws:s3:::bucket/KEY``), else None."""
    if not resource.startswith("arn:") or ":s3:::" not in resource:
        return None
    _, _, path = resource.partition(":s3:::")
    bucket, slash, key = path.partition("/")
    return key if slash and bucket else None


def _under(resource: str, prefixes: list[str]) -> bool:
    key = _object_key(resource)
    return key is not None and any(key.startswith(prefix) for prefix in prefixes)


def _deletable(resource: str, patterns: list[str]) -> bool:
    key = _object_key(resource)
    return key is not None and any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def _statement_problems(
    statement: Any, write_prefixes: list[str], delete_patterns: list[str] = DEFAULT_DELETE_PATTERNS
) -> list[str]:
    if lookup(statement, "Effect") != "Allow":
        return []
    if lookup(statement, "NotAction") is not None:
        return ["allows every action except those in NotAction; list the actions it needs"]
    actions = [str(a).lower() for a in as_list(lookup(statement, "Action"))]
    resources = [str(r) for r in as_list(lookup(statement, "Resource"))]
    if "*" in actions:
        return ["grants every action ('*'); list the actions it needs"]
    problems = []
    if "iam:*" in actions:
        problems.append("grants iam:*; the farm's roles manage no IAM")
    if "s3:*" in actions:
        problems.append(
            "grants s3:* (deletes included); grant s3:GetObject on the inputs and "
            f"s3:PutObject on {' / '.join(p + '*' for p in write_prefixes)} only"
        )
    else:
        if any(_covers(actions, delete) for delete in S3_DELETES):
            outside = [r for r in resources if not _deletable(r, delete_patterns)]
            if outside:
                problems.append(
                    f"grants s3:DeleteObject on {', '.join(outside)}; the farm deletes only "
                    f"chunk segments (arn:aws:s3:::<bucket>/{' or '.join(delete_patterns)})"
                )
        writes = [a for a in actions if a.startswith("s3:put") or _covers([a], "s3:putobject")]
        outside = [r for r in resources if not _under(r, write_prefixes)]
        if writes and outside:
            problems.append(
                f"lets {', '.join(writes)} write to {', '.join(outside)}; limit S3 writes to "
                f"arn:aws:s3:::<bucket>/{' or '.join(p + '*' for p in write_prefixes)}"
            )
    if "iam:*" not in actions and _covers(actions, "iam:passrole"):
        wildcards = [r for r in resources if "*" in r]
        if wildcards or lookup(statement, "NotResource") is not None:
            problems.append(
                f"lets iam:PassRole pass any role ({', '.join(wildcards) or 'NotResource'}); "
                "name each role ARN it may pass"
            )
    return problems


def _documents(args: ResourceValidationArgs) -> list[tuple[str, Any]]:
    """(label, policy document) pairs the resource declares."""
    if args.resource_type in (ROLE_POLICY, MANAGED_POLICY):
        return [(f"policy '{args.name}'", lookup(args.props, "policy"))]
    if args.resource_type == ROLE:
        return [
            (
                f"inline policy '{lookup(inline, 'name', default='?')}' of role '{args.name}'",
                lookup(inline, "policy"),
            )
            for inline in as_list(lookup(args.props, "inlinePolicies"))
        ]
    return []


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    write_prefixes = list(args.get_config().get("s3WritePrefixes", DEFAULT_WRITE_PREFIXES))
    for label, document in _documents(args):
        if document is None:
            continue
        statements = as_list(lookup(parse_json(document), "Statement"))
        for index, statement in enumerate(statements):
            sid = lookup(statement, "Sid") or f"#{index}"
            for problem in _statement_problems(statement, write_prefixes):
                report(f"Statement {sid} of {label} {problem}.")


iam_least_privilege = ResourceValidationPolicy(
    name="iam-least-privilege",
    description="IAM policies grant no s3:*, iam:*, or s3:DeleteObject but on chunk "
    "segments, write to S3 only under the allowed prefixes, and pass only named roles.",
    validate=_check,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "s3WritePrefixes": {
                "type": "array",
                "items": {"type": "string"},
                "default": DEFAULT_WRITE_PREFIXES,
                "description": "Object key prefixes S3 writes may target.",
            },
        },
    ),
    remediation_steps="Grant s3:GetObject on the inputs, s3:PutObject on "
    "arn:aws:s3:::<bucket>/renders/*, and iam:PassRole on the named task and execution roles.",
)

POLICIES = [iam_least_privilege]
