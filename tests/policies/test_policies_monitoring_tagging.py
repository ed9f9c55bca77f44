"""Advisory rules: Container Insights, alarm actions, required tags."""

import inspect
import json

import pulumi_aws
import pytest
from policy_testkit import UNKNOWN_STRING, check_resource, check_stack, resource
from pulumi_policy import PolicyProviderResource

from policies.monitoring import alarm_has_action, alarm_topic_key, ecs_container_insights
from policies.tagging import TAGGABLE_TYPES, required_tags

CLUSTER = "aws:ecs/cluster:Cluster"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"


def test_container_insights():
    on = {"settings": [{"name": "containerInsights", "value": "enabled"}]}
    assert check_resource(ecs_container_insights, CLUSTER, on) == []
    off = {"settings": [{"name": "containerInsights", "value": "disabled"}]}
    expected = [
        "ECS cluster 'c' has Container Insights off, so task CPU, memory and failures are not "
        "charted. Add settings=[{'name': 'containerInsights', 'value': 'enabled'}].",
    ]
    assert check_resource(ecs_container_insights, CLUSTER, off, name="c") == expected
    assert check_resource(ecs_container_insights, CLUSTER, {}, name="c") == expected


def test_alarm_actions():
    assert check_resource(alarm_has_action, ALARM, {"alarmActions": [TOPIC]}) == []
    assert check_resource(alarm_has_action, ALARM, {"okActions": [TOPIC]}, name="a") == [
        "Alarm 'a' notifies no one. Set alarm_actions=[<SNS topic arn>]."
    ]
    disabled = {"alarmActions": [TOPIC], "actionsEnabled": False}
    assert check_resource(alarm_has_action, ALARM, disabled, name="a") == [
        "Alarm 'a' has its actions disabled. Remove actions_enabled=False."
    ]


def aws_provider(default_tags):
    # As the engine configures the default provider from `aws:defaultTags` (a JSON string).
    return PolicyProviderResource(
        "pulumi:providers:aws",
        {"defaultTags": json.dumps({"tags": default_tags})},
        "urn:pulumi:test::p::pulumi:providers:aws::default",
        "default",
    )


def test_required_tags_on_the_resource_or_from_default_tags():
    bucket = "aws:s3/bucket:Bucket"
    tags = {"tags": {"project": "babulus-render", "environment": "dev"}}
    assert check_resource(required_tags, bucket, tags) == []
    assert (
        check_resource(
            required_tags,
            bucket,
            {},
            provider=aws_provider({"Project": "babulus-render", "Environment": "dev"}),
        )
        == []
    )
    assert check_resource(
        required_tags,
        bucket,
        {"tags": {"Name": "x"}},
        name="renders",
        provider=aws_provider({"Project": "babulus-render"}),
    ) == [
        "'renders' lacks the tag(s) environment. Add them to its tags, or to the AWS "
        "provider's default_tags so every resource gets them.",
    ]


def test_required_tag_keys_are_configurable_and_untaggable_types_skipped():
    bucket = "aws:s3/bucket:Bucket"
    assert (
        check_resource(
            required_tags, bucket, {"tags": {"team": "render"}}, config={"requiredKeys": ["team"]}
        )
        == []
    )
    assert check_resource(required_tags, "aws:s3/bucketPolicy:BucketPolicy", {"policy": "{}"}) == []
    assert check_resource(required_tags, "awsx:ec2:Vpc", {}) == []


def _class_for(type_):
    _, module, name = type_.split(":")
    package = module.split("/")[0]
    package = {"lambda": "lambda_"}.get(package, package)
    return getattr(getattr(pulumi_aws, package), name)


@pytest.mark.parametrize("type_", sorted(TAGGABLE_TYPES))
def test_every_listed_taggable_type_takes_tags(type_):
    assert "tags" in inspect.signature(_class_for(type_)._internal_init).parameters


SNS_TOPIC = "aws:sns/topic:Topic"
KMS_KEY = "aws:kms/key:Key"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:alarms"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/k-1"


def key_policy(cloudwatch_actions):
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if cloudwatch_actions:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": cloudwatch_actions,
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def alarm_stack(kms_master_key_id, cloudwatch_actions=("kms:Decrypt", "kms:GenerateDataKey*")):
    key_props = {"policy": key_policy(list(cloudwatch_actions))}
    key = resource(KMS_KEY, "key", key_props, outputs={**key_props, "arn": KEY_ARN, "id": "k-1"})
    topic_props = {} if kms_master_key_id is None else {"kmsMasterKeyId": kms_master_key_id}
    topic = resource(SNS_TOPIC, "alarms", topic_props, outputs={**topic_props, "arn": TOPIC_ARN})
    alarm = resource(ALARM, "errors", {"alarmActions": [TOPIC_ARN]})
    return [key, topic, alarm]


def test_alarm_topic_with_a_key_cloudwatch_may_use_passes():
    assert check_stack(alarm_topic_key, alarm_stack(KEY_ARN)) == []
    assert check_stack(alarm_topic_key, alarm_stack(None)) == []  # unencrypted
    # A wildcard action in the key policy covers both.
    assert check_stack(alarm_topic_key, alarm_stack(KEY_ARN, ["kms:*"])) == []


def test_alarm_on_a_topic_under_the_aws_managed_key_is_a_violation():
    for managed in ("alias/aws/sns", "arn:aws:kms:us-east-1:123456789012:alias/aws/sns"):
        [(name, message)] = check_stack(alarm_topic_key, alarm_stack(managed))
        assert name == "errors"
        assert message.startswith(
            "Alarm 'errors' notifies topic 'alarms', which is encrypted with the AWS-managed "
            "key alias/aws/sns, whose policy does not let cloudwatch.amazonaws.com use it"
        )


def test_alarm_on_a_topic_whose_key_shuts_cloudwatch_out_is_a_violation():
    for actions in ([], ["kms:Decrypt"]):
        [(name, message)] = check_stack(alarm_topic_key, alarm_stack(KEY_ARN, actions))
        assert message == (
            "Alarm 'errors' notifies topic 'alarms', which is encrypted with key 'key', whose "
            "policy does not let cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, "
            "so the alarm can never publish. Add that statement to the key policy."
        )


def test_an_alarm_related_to_its_topic_by_dependency_only():
    key, topic, _ = alarm_stack("alias/aws/sns")
    alarm = resource(ALARM, "errors", {"okActions": [UNKNOWN_STRING]}, deps={"okActions": [topic]})
    assert len(check_stack(alarm_topic_key, [key, topic, alarm])) == 1
