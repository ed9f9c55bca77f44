"""IAM policy documents as JSON strings, built from resolved Outputs.

Documents are plain JSON (not ``aws.iam.get_policy_document`` invokes) so the
exact statements are visible in the recorded inputs of offline runs.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi


def document(statements: list[dict[str, Any]]) -> pulumi.Output[str]:
    """A policy document; statements may contain Outputs anywhere."""
    return pulumi.Output.from_input(statements).apply(
        lambda resolved: json.dumps({"Version": "2012-10-17", "Statement": resolved})
    )


def allow(actions: list[str], resources: list[Any], condition: dict | None = None,
          sid: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    if sid:
        statement["Sid"] = sid
    return statement


def service_trust(service: str, account_id: pulumi.Input[str] | None) -> pulumi.Output[str]:
    """Only ``service`` may assume the role; with ``account_id``, only on this account's behalf
    (for services that send aws:SourceAccount when they assume a role)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return document([statement])
