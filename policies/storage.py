"""S3 bucket rules: no public access, encryption at rest, TLS only.

In pulumi-aws v7 these settings live on side resources that name their bucket
(``bucket=bucket.id``), so each rule is a stack policy that relates the side
resources to their bucket (see ``relations``).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from .props import as_list, known, lookup, parse_json
from .relations import of_type, sides_of

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION_CONFIG = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


def _check_public_access(args: StackValidationArgs, report: ReportViolation) -> None:
    blocks = of_type(args.resources, PUBLIC_ACCESS_BLOCK)
    for block in blocks:
        off = [flag for flag in BLOCK_FLAGS if lookup(block.props, flag) is not True]
        if off:
            report(
                f"Public access block '{block.name}' leaves {', '.join(off)} off. "
                "Set all four of block_public_acls, block_public_policy, ignore_public_acls "
                "and restrict_public_buckets to True.",
                block.urn,
            )
    for bucket in of_type(args.resources, *BUCKET_TYPES):
        acl = known(bucket.props, "acl")  # a computed output, unknown during a first preview
        if acl in PUBLIC_ACLS:
            report(
                f"Bucket '{bucket.name}' has the public ACL '{acl}'. Remove the acl argument; "
                "share objects with presigned URLs instead.",
                bucket.urn,
            )
        if not sides_of(bucket, blocks, "bucket"):
            report(
                f"Bucket '{bucket.name}' has no public access block. Add "
                "aws.s3.BucketPublicAccessBlock(bucket=<bucket>.id, block_public_acls=True, "
                "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True).",
                bucket.urn,
            )


def _encrypts(config: PolicyResource) -> bool:
    return any(
        lookup(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") in SSE_ALGORITHMS
        for rule in as_list(lookup(config.props, "rules"))
    )


def _check_encryption(args: StackValidationArgs, report: ReportViolation) -> None:
    configs = of_type(args.resources, ENCRYPTION_CONFIG)
    for bucket in of_type(args.resources, *BUCKET_TYPES):
        if not any(_encrypts(config) for config in sides_of(bucket, configs, "bucket")):
            report(
                f"Bucket '{bucket.name}' has no default server-side encryption. Add "
                "aws.s3.BucketServerSideEncryptionConfiguration(bucket=<bucket>.id, rules=[{"
                "'apply_server_side_encryption_by_default': {'sse_algorithm': 'AES256'}}]) "
                "(or 'aws:kms' with a key).",
                bucket.urn,
            )


def _denies_plain_http(statement: Any) -> bool:
    if lookup(statement, "Effect") != "Deny":
        return False
    principal = lookup(statement, "Principal")
    if principal != "*" and as_list(lookup(principal, "AWS")) != ["*"]:
        return False
    actions = {action.lower() for action in as_list(lookup(statement, "Action"))}
    if not actions & {"s3:*", "*"}:
        return False
    secure = lookup(statement, "Condition", "Bool", "aws:SecureTransport")
    return [str(value).lower() for value in as_list(secure)] == ["false"]


def _tls_only(policy: PolicyResource) -> bool:
    document = parse_json(lookup(policy.props, "policy"))
    return any(_denies_plain_http(s) for s in as_list(lookup(document, "Statement")))


def _check_tls_only(args: StackValidationArgs, report: ReportViolation) -> None:
    policies = of_type(args.resources, BUCKET_POLICY)
    for bucket in of_type(args.resources, *BUCKET_TYPES):
        if not any(_tls_only(policy) for policy in sides_of(bucket, policies, "bucket")):
            report(
                f"Bucket '{bucket.name}' accepts plain HTTP requests. Add an "
                "aws.s3.BucketPolicy with a statement {Effect: Deny, Principal: '*', "
                "Action: 's3:*', Resource: [<bucket arn>, <bucket arn>/*], "
                "Condition: {Bool: {'aws:SecureTransport': 'false'}}}.",
                bucket.urn,
            )


s3_public_access_block = StackValidationPolicy(
    name="s3-public-access-block",
    description="S3 buckets block every form of public access.",
    validate=_check_public_access,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Give each bucket a BucketPublicAccessBlock with all four flags True "
    "and no public ACL.",
)

s3_encryption = StackValidationPolicy(
    name="s3-encryption",
    description="S3 buckets encrypt objects at rest by default.",
    validate=_check_encryption,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Give each bucket a BucketServerSideEncryptionConfiguration "
    "(AES256 or aws:kms).",
)

s3_tls_only = StackValidationPolicy(
    name="s3-tls-only",
    description="S3 buckets refuse requests that do not use TLS.",
    validate=_check_tls_only,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Give each bucket a BucketPolicy that denies s3:* when "
    "aws:SecureTransport is false.",
)

POLICIES = [s3_public_access_block, s3_encryption, s3_tls_only]
