"""S3 rules: public access block, encryption, TLS-only policy, related to their bucket."""

import json

import pytest
from policy_testkit import UNKNOWN_STRING, check_stack, resource
from pulumi_policy.proxy import UnknownValueError

from policies.storage import s3_encryption, s3_public_access_block, s3_tls_only

BUCKET = "aws:s3/bucket:Bucket"
BPA = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"

ALL_BLOCKED = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
TLS_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::renders", "arn:aws:s3:::renders/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)


def bucket(name="renders", **props):
    # Stack policies see outputs: the mocks' answer plus the resource's id.
    return resource(BUCKET, name, props, outputs={**props, "id": f"{name}-id", "bucket": name})


def test_public_access_block_with_all_flags_passes():
    b = bucket()
    assert (
        check_stack(
            s3_public_access_block,
            [b, resource(BPA, "b-pab", {"bucket": "renders-id", **ALL_BLOCKED})],
        )
        == []
    )


def test_bucket_without_public_access_block_is_reported():
    assert check_stack(s3_public_access_block, [bucket()]) == [
        (
            "renders",
            "Bucket 'renders' has no public access block. Add "
            "aws.s3.BucketPublicAccessBlock(bucket=<bucket>.id, block_public_acls=True, "
            "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True).",
        )
    ]


def test_public_access_block_with_a_flag_off_is_reported():
    flags = {**ALL_BLOCKED, "blockPublicPolicy": False}
    del flags["restrictPublicBuckets"]
    found = check_stack(
        s3_public_access_block,
        [bucket(), resource(BPA, "b-pab", {"bucket": "renders-id", **flags})],
    )
    assert found == [
        (
            "b-pab",
            "Public access block 'b-pab' leaves blockPublicPolicy, restrictPublicBuckets off. "
            "Set all four of block_public_acls, block_public_policy, ignore_public_acls and "
            "restrict_public_buckets to True.",
        )
    ]


def test_public_acl_is_reported_even_with_a_block():
    found = check_stack(
        s3_public_access_block,
        [bucket(acl="public-read"), resource(BPA, "b-pab", {"bucket": "renders", **ALL_BLOCKED})],
    )
    assert found == [
        (
            "renders",
            "Bucket 'renders' has the public ACL 'public-read'. Remove the acl argument; share "
            "objects with presigned URLs instead.",
        )
    ]


def test_a_block_on_another_bucket_does_not_count():
    found = check_stack(
        s3_public_access_block,
        [bucket(), bucket("other"), resource(BPA, "pab", {"bucket": "other-id", **ALL_BLOCKED})],
    )
    assert [name for name, _ in found] == ["renders"]


def test_side_resource_with_unknown_bucket_matches_through_property_dependencies():
    # A real preview: the bucket's id is unknown, but the engine says `bucket` came from it.
    b = resource(BUCKET, "renders", {})
    pab = resource(BPA, "pab", {"bucket": UNKNOWN_STRING, **ALL_BLOCKED}, deps={"bucket": [b]})
    assert check_stack(s3_public_access_block, [b, pab]) == []
    unrelated = resource(BPA, "pab", {"bucket": UNKNOWN_STRING, **ALL_BLOCKED})
    assert [n for n, _ in check_stack(s3_public_access_block, [b, unrelated])] == ["renders"]


def test_encryption_configuration_passes_and_its_absence_is_reported():
    sse = resource(
        SSE,
        "sse",
        {
            "bucket": "renders-id",
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"},
                    "bucketKeyEnabled": True,
                }
            ],
        },
    )
    assert check_stack(s3_encryption, [bucket(), sse]) == []
    assert check_stack(s3_encryption, [bucket()]) == [
        (
            "renders",
            "Bucket 'renders' has no default server-side encryption. Add "
            "aws.s3.BucketServerSideEncryptionConfiguration(bucket=<bucket>.id, rules=[{"
            "'apply_server_side_encryption_by_default': {'sse_algorithm': 'AES256'}}]) "
            "(or 'aws:kms' with a key).",
        )
    ]


def test_encryption_configuration_without_a_default_rule_is_reported():
    sse = resource(SSE, "sse", {"bucket": "renders-id", "rules": [{"bucketKeyEnabled": True}]})
    assert [n for n, _ in check_stack(s3_encryption, [bucket(), sse])] == ["renders"]


def test_tls_only_policy_passes():
    policy = resource(POLICY, "tls", {"bucket": "renders-id", "policy": TLS_ONLY})
    assert check_stack(s3_tls_only, [bucket(), policy]) == []


TLS_MESSAGE = (
    "Bucket 'renders' accepts plain HTTP requests. Add an aws.s3.BucketPolicy with a statement "
    "{Effect: Deny, Principal: '*', Action: 's3:*', Resource: [<bucket arn>, <bucket arn>/*], "
    "Condition: {Bool: {'aws:SecureTransport': 'false'}}}."
)


def test_bucket_without_a_policy_is_reported():
    assert check_stack(s3_tls_only, [bucket()]) == [("renders", TLS_MESSAGE)]


@pytest.mark.parametrize(
    "change",
    [
        {"Effect": "Allow"},
        {"Action": "s3:GetObject"},
        {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}},
        {"Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    ],
)
def test_policy_that_does_not_deny_plain_http_is_reported(change):
    statement = {**json.loads(TLS_ONLY)["Statement"][0], **change}
    policy = resource(
        POLICY, "tls", {"bucket": "renders-id", "policy": json.dumps({"Statement": [statement]})}
    )
    assert check_stack(s3_tls_only, [bucket(), policy]) == [("renders", TLS_MESSAGE)]


def test_unknown_policy_document_cannot_be_judged_during_preview():
    policy = resource(POLICY, "tls", {"bucket": "renders-id", "policy": UNKNOWN_STRING})
    with pytest.raises(UnknownValueError):
        check_stack(s3_tls_only, [bucket(), policy])
