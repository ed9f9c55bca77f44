"""A small IAM policy evaluator, for judging the stack's policies against recorded calls.

No maintained Python library evaluates IAM requests offline (principalmapper's local
simulator, the one candidate, no longer imports on Python 3.10+), so this follows AWS's
documented evaluation logic for one account ("Policy evaluation logic", IAM User Guide):

- an explicit Deny in any applicable policy (identity or resource) wins;
- else an Allow in the principal's identity policies, or in the resource's policy naming
  the principal, allows (same account: either suffices) -- except a KMS key policy, which
  must allow the principal itself or delegate to the account (``...:root``), and a
  resource policy naming the account root, which only delegates to identity policies;
- else the request is implicitly denied.

Statements match on Action/NotAction (case-insensitive wildcards), Resource/NotResource
(ARN wildcards: ``*`` and ``?`` stay inside the partition, service, region and account
fields, and span anything in the resource part), Principal (for resource policies), and
every Condition operator block (ANDed; values within a key ORed; ``...IfExists``; a
negated operator matches a missing key, a positive one does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ALLOW, DENY, IMPLICIT_DENY = "Allow", "Deny", "ImplicitDeny"


class UnsupportedPolicyError(Exception):
    """The policy uses a condition operator this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes: who, what, on which resource, with which context."""

    principal: str  # a role ARN, an account root ARN, or "service:<name>.amazonaws.com"
    action: str
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict, hash=False)


def as_list(value: Any) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str | dict) else list(value)


@lru_cache(maxsize=4096)
def _pattern(wildcard: str, case_insensitive: bool, stop: str) -> re.Pattern:
    """``*`` and ``?`` as in IAM; neither matches a character in ``stop``."""
    any_char = f"[^{re.escape(stop)}]" if stop else "."
    body = "".join(
        f"{any_char}*" if c == "*" else any_char if c == "?" else re.escape(c) for c in wildcard
    )
    return re.compile(f"^{body}$", (re.IGNORECASE if case_insensitive else 0) | re.DOTALL)


def wildcard_match(wildcard: str, value: str, *, case_insensitive: bool = False) -> bool:
    return bool(_pattern(wildcard, case_insensitive, "").match(value))


def action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, case_insensitive=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """IAM's ARN matching: field by field for the first five fields, then the resource."""
    if pattern == "*":
        return True
    want, got = pattern.split(":", 5), arn.split(":", 5)
    if len(want) != 6 or len(got) != 6:
        return len(want) == len(got) and wildcard_match(pattern, arn)  # not both ARNs
    return all(
        bool(_pattern(w, False, ":").match(g)) for w, g in zip(want[:5], got[:5], strict=True)
    ) and wildcard_match(want[5], got[5])


OPERATORS = (
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool",
)  # fmt: skip


def _compare(base: str, wanted: str, got: str) -> bool:
    if base in ("StringEquals", "StringNotEquals"):
        return wanted == got
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return wanted.lower() == got.lower()
    if base in ("StringLike", "StringNotLike"):
        return wildcard_match(wanted, got)
    if base in ("ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"):
        return arn_matches(wanted, got)
    return wanted.lower() == got.lower()  # Bool


def _condition_holds(operator: str, key: str, wanted: list, context: Mapping) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in OPERATORS:
        raise UnsupportedPolicyError(f"condition operator {base!r} is not implemented")
    negated = "Not" in base
    present = {k.lower(): v for k, v in context.items()}
    if key.lower() not in present:
        return if_exists or negated
    got = [str(v) for v in as_list(present[key.lower()])]
    matched = any(_compare(base, str(w), g) for w in wanted for g in got)
    return not matched if negated else matched


def conditions_hold(condition: Mapping | None, context: Mapping) -> bool:
    for operator, keys in (condition or {}).items():
        for key, wanted in keys.items():
            if not _condition_holds(operator, key, as_list(wanted), context):
                return False
    return True


def principal_named(statement: Mapping, principal: str) -> str | None:
    """How a resource policy statement names ``principal``: "self", "account" (the
    account root: delegation to IAM), or None."""
    named = statement.get("Principal")
    if named is None:
        return None
    if named == "*":
        return "self"
    for kind, values in named.items():
        for value in as_list(values):
            if kind == "Service" and f"service:{value}" == principal:
                return "self"
            if kind != "AWS":
                continue
            if value in ("*", principal):
                return "self"
            if value in (_account(principal), f"arn:aws:iam::{_account(principal)}:root"):
                return "account"
    return None


def _account(principal: str) -> str | None:
    parts = principal.split(":")
    return parts[4] if principal.startswith("arn:") and len(parts) > 4 else None


def statement_applies(statement: Mapping, request: Request) -> bool:
    """Action, Resource and Condition match (Principal is judged by the caller)."""
    if "Action" in statement:
        if not any(action_matches(a, request.action) for a in as_list(statement["Action"])):
            return False
    elif any(action_matches(a, request.action) for a in as_list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(arn_matches(r, request.resource) for r in as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(
        arn_matches(r, request.resource) for r in as_list(statement["NotResource"])
    ):
        return False
    return conditions_hold(statement.get("Condition"), request.context)


def statements_of(document: Mapping | None) -> list[Mapping]:
    return as_list((document or {}).get("Statement"))


def evaluate(
    request: Request,
    identity_policies: Iterable[Mapping] = (),
    resource_policy: Mapping | None = None,
    *,
    key_policy: bool = False,
) -> str:
    """ALLOW, DENY or IMPLICIT_DENY for ``request``."""
    identity = [s for doc in identity_policies for s in statements_of(doc)]
    resource = []
    for statement in statements_of(resource_policy):
        named = principal_named(statement, request.principal)
        if named is not None and statement_applies(statement, request):
            resource.append((statement["Effect"], named))
    applicable = [s["Effect"] for s in identity if statement_applies(s, request)]
    if DENY in applicable or any(effect == DENY for effect, _ in resource):
        return DENY
    grants_self = any(effect == ALLOW and named == "self" for effect, named in resource)
    delegates = any(effect == ALLOW and named == "account" for effect, named in resource)
    if grants_self:
        return ALLOW
    if ALLOW in applicable and (not key_policy or delegates):
        return ALLOW
    return IMPLICIT_DENY
