"""The registry's default levels, pack config parsing, and the analyzer's rules the
offline evaluator follows (disabled, remediate, unknown values)."""

import json

import pytest
from policy_testkit import UNKNOWN_STRING, resource
from pulumi_policy import EnforcementLevel

from policies.evaluate import evaluate
from policies.pack_config import PackConfig, load, parse
from policies.registry import DEFAULT_LEVELS, POLICIES
from renderlib.errors import PolicyConfigError

MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY


def test_default_levels_follow_the_issue():
    assert DEFAULT_LEVELS == {
        "s3-public-access-block": MANDATORY,
        "s3-encryption": MANDATORY,
        "s3-tls-only": MANDATORY,
        "no-plaintext-secrets": MANDATORY,
        "no-secret-stack-outputs": MANDATORY,
        "iam-least-privilege": MANDATORY,
        "vpc-flow-logs": MANDATORY,
        "security-group-no-ingress": MANDATORY,
        "log-group-retention": MANDATORY,
        "ecr-scan-on-push": MANDATORY,
        "fargate-cpu-memory-pair": MANDATORY,
        "ecs-container-logging": MANDATORY,
        "ecs-container-insights": ADVISORY,
        "required-tags": ADVISORY,
        "alarm-has-action": ADVISORY,
        "alarm-topic-key": MANDATORY,
        "lambda-timeout": ADVISORY,
        "nat-gateway-count": ADVISORY,
    }
    assert len({p.name for p in POLICIES}) == len(POLICIES)
    assert all(p.description and p.remediation_steps for p in POLICIES)


def test_config_levels_all_and_settings():
    config = parse(
        {
            "all": "advisory",
            "s3-encryption": "mandatory",
            "required-tags": {"enforcementLevel": "disabled", "requiredKeys": ["team"]},
            "nat-gateway-count": {"expectedCount": 2},
        }
    )
    levels = {p.name: config.level(p) for p in POLICIES}
    assert levels["s3-encryption"] == MANDATORY
    assert levels["required-tags"] == EnforcementLevel.DISABLED
    assert levels["vpc-flow-logs"] == ADVISORY
    assert levels["nat-gateway-count"] == ADVISORY
    by_name = {p.name: p for p in POLICIES}
    assert config.settings_for(by_name["nat-gateway-count"]) == {"expectedCount": 2}
    assert config.settings_for(by_name["required-tags"]) == {"requiredKeys": ["team"]}


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"no-such-policy": "mandatory"}, "policy 'no-such-policy' is not in the pack"),
        ({"s3-encryption": "strict"}, "policy 's3-encryption': enforcement level 'strict' is not"),
        (
            {"nat-gateway-count": {"expectedCount": "one"}},
            "config of policy 'nat-gateway-count': 'one' is not of type 'integer'",
        ),
        (
            {"required-tags": {"requiredTags": ["x"]}},
            "config of policy 'required-tags': Additional properties are not allowed",
        ),
        ({"s3-encryption": 3}, "policy 's3-encryption': expected a level or an object"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(raw, error):
    with pytest.raises(PolicyConfigError, match="^" + error.replace("(", r"\(")):
        parse(raw)


def test_load_reads_the_cli_config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"lambda-timeout": "mandatory"}))
    assert load(path).levels["lambda-timeout"] == MANDATORY
    path.write_text("{not json")
    with pytest.raises(PolicyConfigError, match="is not valid JSON"):
        load(path)
    with pytest.raises(PolicyConfigError, match="cannot read policy config"):
        load(tmp_path / "missing.json")


LOG_GROUP = resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/ecs/w"})


def test_disabled_policies_do_not_run_and_remediate_reports_as_mandatory():
    only = [p for p in POLICIES if p.name == "log-group-retention"]
    assert evaluate([LOG_GROUP], parse({"log-group-retention": "disabled"}), only) == []
    [violation] = evaluate([LOG_GROUP], parse({"log-group-retention": "remediate"}), only)
    assert violation.level == MANDATORY
    assert violation.resource == LOG_GROUP.urn


def test_a_policy_that_meets_an_unknown_value_reports_an_advisory_note():
    unknown = resource(
        "aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": UNKNOWN_STRING}
    )
    only = [p for p in POLICIES if p.name == "log-group-retention"]
    [violation] = evaluate([unknown], PackConfig(), only)
    assert violation.level == ADVISORY
    assert violation.message == (
        "can't run policy 'log-group-retention' during preview: "
        "string value at .retentionInDays can't be known during preview"
    )
