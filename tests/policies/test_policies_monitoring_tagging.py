"""Advisory rules: Container Insights, alarm actions, required tags."""

import inspect
import json

import pulumi_aws
import pytest
from policy_testkit import check_resource
from pulumi_policy import PolicyProviderResource

from policies.monitoring import alarm_has_action, ecs_container_insights
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
