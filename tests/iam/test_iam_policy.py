"""The IAM evaluator the authorization test relies on: wildcards (property-tested against
fnmatch, which has the same ``*``/``?`` semantics without ``[``), ARN fields, conditions,
and the documented order of Deny, Allow and implicit deny."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.iam.iam_policy import (
    ALLOW,
    DENY,
    IMPLICIT_DENY,
    Request,
    UnsupportedPolicyError,
    action_matches,
    arn_matches,
    evaluate,
    wildcard_match,
)

TEXT = st.text(alphabet="ab:/-", max_size=12)
PATTERN = st.text(alphabet="ab:/-*?", max_size=12)
ROLE = "arn:aws:iam::123456789012:role/r"


@given(PATTERN, TEXT)
def test_wildcards_match_as_fnmatch_does(pattern, value):
    assert wildcard_match(pattern, value) == fnmatch.fnmatchcase(value, pattern)


@given(TEXT, st.data())
def test_a_value_with_any_part_starred_out_still_matches(value, data):
    start = data.draw(st.integers(0, len(value)))
    end = data.draw(st.integers(start, len(value)))
    assert wildcard_match(value[:start] + "*" + value[end:], value)
    assert not wildcard_match(value + "a", value)


@given(st.text(alphabet="abAB:", max_size=8))
def test_actions_match_whatever_their_case(action):
    assert action_matches(action.upper(), action.lower())


def test_arn_wildcards_stay_inside_their_field_until_the_resource():
    arn = "arn:aws:s3:::bucket/renders/a/b.mp4"
    assert arn_matches("arn:aws:s3:::bucket/renders/*", arn)
    assert not arn_matches("arn:aws:s3:::bucket/generations/*", arn)
    assert arn_matches(
        "arn:aws:ecs:*:123456789012:task/c/*", "arn:aws:ecs:us-east-1:123456789012:task/c/1"
    )
    # "*" in the region field cannot swallow the account's colon.
    assert not arn_matches("arn:aws:ecs:*:task/c/1", "arn:aws:ecs:us-east-1:123456789012:task/c/1")
    assert arn_matches("*", arn)


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, condition=None):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def test_allow_deny_and_implicit_deny():
    request = Request(ROLE, "ecs:ListTasks", "*", {"ecs:cluster": "arn:aws:ecs:r:1:cluster/c"})
    cluster = {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:r:1:cluster/c"}}
    assert evaluate(request, [policy(allow("ecs:ListTasks", "*", cluster))]) == ALLOW
    other = {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:r:1:cluster/other"}}
    assert evaluate(request, [policy(allow("ecs:ListTasks", "*", other))]) == IMPLICIT_DENY
    # The resource a cluster-wide ListTasks is authorized on is "*": an instance ARN misses.
    instance = "arn:aws:ecs:r:1:container-instance/c/*"
    assert evaluate(request, [policy(allow("ecs:ListTasks", instance, cluster))]) == IMPLICIT_DENY
    deny = {"Effect": "Deny", "Action": "ecs:*", "Resource": "*"}
    assert evaluate(request, [policy(allow("ecs:*", "*"), deny)]) == DENY


def test_condition_operators_missing_keys_and_if_exists():
    base = Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/k")
    s3 = ("s3:GetObject", "arn:aws:s3:::b/*")
    tls = {"Bool": {"aws:SecureTransport": "true"}}
    assert evaluate(base, [policy(allow(*s3, tls))]) == IMPLICIT_DENY  # key missing
    if_exists = {"BoolIfExists": {"aws:SecureTransport": "true"}}
    assert evaluate(base, [policy(allow(*s3, if_exists))]) == ALLOW
    not_equals = {"StringNotEquals": {"aws:PrincipalArn": ["x", "y"]}}
    assert evaluate(base, [policy(allow(*s3, not_equals))]) == ALLOW  # negated: missing matches
    named = Request(ROLE, base.action, base.resource, {"aws:PrincipalArn": "y"})
    assert evaluate(named, [policy(allow(*s3, not_equals))]) == IMPLICIT_DENY
    like = {"StringLike": {"s3:prefix": "renders/*"}}
    with_prefix = Request(ROLE, base.action, base.resource, {"S3:Prefix": "renders/a"})
    assert evaluate(with_prefix, [policy(allow(*s3, like))]) == ALLOW  # keys ignore case
    with pytest.raises(UnsupportedPolicyError, match="NumericLessThan"):
        evaluate(base, [policy(allow(*s3, {"NumericLessThan": {"s3:max-keys": "3"}}))])


def test_resource_policies_grant_deny_and_delegate():
    secret = "arn:aws:secretsmanager:r:123456789012:secret:s"
    read = Request(ROLE, "secretsmanager:GetSecretValue", secret, {"aws:PrincipalArn": ROLE})
    identity = [policy(allow("secretsmanager:GetSecretValue", secret))]
    only_others = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/other"]}},
        }
    )
    assert evaluate(read, identity, only_others) == DENY
    assert evaluate(read, identity, policy()) == ALLOW
    service = Request("service:cloudwatch.amazonaws.com", "sns:Publish", "arn:aws:sns:r:1:t")
    topic = policy(
        {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": "sns:Publish", "Resource": "arn:aws:sns:r:1:t"}
    )  # fmt: skip
    assert evaluate(service, [], topic) == ALLOW
    assert evaluate(service, [], policy()) == IMPLICIT_DENY
    # A key policy must allow the principal or delegate to the account's IAM policies.
    key = "arn:aws:kms:r:123456789012:key/k"
    use = Request(ROLE, "kms:Decrypt", key)
    assert evaluate(use, [policy(allow("kms:Decrypt", "*"))], policy(), key_policy=True) == (
        IMPLICIT_DENY
    )
    root = policy(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "kms:*", "Resource": "*"}
    )  # fmt: skip
    assert evaluate(use, [policy(allow("kms:Decrypt", "*"))], root, key_policy=True) == ALLOW
    assert evaluate(use, [], root, key_policy=True) == IMPLICIT_DENY
