"""Least privilege for IAM policy documents (role policies, managed and inline policies)."""

import json

import pytest
from policy_testkit import check_resource

from policies.iam import iam_least_privilege

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "arn:aws:s3:::babulus-render-renders"
TASK_ROLE = "arn:aws:iam::123456789012:role/babulus-render-task"


def document(*statements):
    return {
        "role": "task-role-id",
        "policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    }


def allow(action, resource, sid=None):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return {**statement, "Sid": sid} if sid else statement


def check(*statements, **kwargs):
    return check_resource(
        iam_least_privilege, ROLE_POLICY, document(*statements), name="task", **kwargs
    )


def test_the_task_roles_intended_policy_passes():
    assert (
        check(
            allow(["s3:GetObject"], [f"{BUCKET}/generations/*"], "ReadInputs"),
            allow(["s3:PutObject"], [f"{BUCKET}/renders/*"], "WriteRenders"),
            allow("iam:PassRole", [TASK_ROLE], "PassTheTaskRole"),
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        )
        == []
    )


def test_s3_star_is_reported_once():
    assert check(allow("s3:*", [BUCKET, f"{BUCKET}/*"], "Everything")) == [
        "Statement Everything of policy 'task' grants s3:* (deletes included); grant "
        "s3:GetObject on the inputs and s3:PutObject on renders/* only.",
    ]


DELETE_REPORT = (
    "Statement #0 of policy 'task' grants s3:DeleteObject on {}; the farm deletes only chunk "
    "segments (arn:aws:s3:::<bucket>/renders/*/chunks/*)."
)


def test_delete_object_is_reported():
    assert check(allow(["s3:PutObject", "s3:DeleteObject"], [f"{BUCKET}/renders/*"])) == [
        DELETE_REPORT.format(f"{BUCKET}/renders/*"),
    ]


def test_delete_through_a_wildcard_is_reported():
    assert check(allow("s3:Delete*", [f"{BUCKET}/renders/*"])) == [
        DELETE_REPORT.format(f"{BUCKET}/renders/*"),
    ]


def test_deleting_chunk_segments_alone_is_allowed():
    assert check(allow("s3:DeleteObject", [f"{BUCKET}/renders/*/chunks/*"])) == []
    assert check(allow("s3:DeleteObject", [f"{BUCKET}/renders/*/chunks/*", "*"])) == [
        DELETE_REPORT.format("*"),
    ]


@pytest.mark.parametrize("resource", ["*", f"{BUCKET}/*", f"{BUCKET}/generations/*", BUCKET])
def test_writes_outside_renders_are_reported(resource):
    assert check(allow("s3:PutObject", resource)) == [
        f"Statement #0 of policy 'task' lets s3:putobject write to {resource}; limit S3 writes "
        "to arn:aws:s3:::<bucket>/renders/*.",
    ]


def test_write_prefixes_are_configurable():
    statement = allow("s3:PutObject", f"{BUCKET}/outputs/*")
    assert check(statement, config={"s3WritePrefixes": ["outputs/"]}) == []
    assert len(check(statement)) == 1


def test_iam_star_and_every_action_are_reported():
    assert check(allow("iam:*", "*")) == [
        "Statement #0 of policy 'task' grants iam:*; the farm's roles manage no IAM."
    ]
    assert check(allow("*", "*")) == [
        "Statement #0 of policy 'task' grants every action ('*'); list the actions it needs."
    ]


def test_pass_role_on_any_role_is_reported():
    assert check(allow("iam:PassRole", "arn:aws:iam::123456789012:role/*")) == [
        "Statement #0 of policy 'task' lets iam:PassRole pass any role "
        "(arn:aws:iam::123456789012:role/*); name each role ARN it may pass.",
    ]


def test_not_action_in_an_allow_is_reported():
    assert check({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}) == [
        "Statement #0 of policy 'task' allows every action except those in NotAction; "
        "list the actions it needs.",
    ]


def test_role_inline_policies_and_managed_policies_are_judged():
    inline = {
        "inlinePolicies": [{"name": "all-s3", "policy": document(allow("s3:*", "*"))["policy"]}]
    }
    [message] = check_resource(iam_least_privilege, "aws:iam/role:Role", inline, name="task")
    assert message.startswith("Statement #0 of inline policy 'all-s3' of role 'task' grants s3:*")
    managed = check_resource(
        iam_least_privilege, "aws:iam/policy:Policy", document(allow("s3:*", "*")), name="m"
    )
    assert managed[0].startswith("Statement #0 of policy 'm' grants s3:*")
