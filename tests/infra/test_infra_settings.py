"""Stack settings: the committed configs load; each invalid value fails naming key and choices."""

from pathlib import Path

import pytest

from infra.offline import load_stack_config, run_stack
from infra.settings import KEYS, SECRET_KEYS, SettingsError, settings_from_mapping


def raw_config(stack: str) -> tuple[str | None, dict[str, str]]:
    _, config = load_stack_config(stack)
    prefix = "babulus-render:"
    raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    return config.get("aws:region"), raw


def settings_with(stack: str = "dev", **changes: str | None):
    region, raw = raw_config(stack)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return settings_from_mapping(stack, region, raw)


ATTACH = {
    "jobsApiMode": "attach",
    "jobsApiEndpoint": "https://studio.appsync-api.us-east-1.amazonaws.com/graphql",
    "jobsApiAuth": "iam",
    "jobsApiStreamArn": "arn:aws:dynamodb:us-east-1:111122223333:table/Job-abc/stream/2026-01-01",
    "jobsApiArn": "arn:aws:appsync:us-east-1:111122223333:apis/abc123",
    "jobsApiKeyExpires": None,
}


def test_committed_stack_configs_load():
    dev, prod = settings_with("dev"), settings_with("prod")
    assert (prod.cluster_name, prod.repository_name) == (
        "babulus-render-cluster",
        "babulus-render-worker",
    )
    assert (prod.task_cpu, prod.task_memory, prod.max_concurrent_tasks) == (4096, 16384, 10)
    assert dev.cluster_name == "babulus-render-dev-cluster"
    assert dev.repository_name == "babulus-render-dev-worker"
    assert dev.max_concurrent_tasks < prod.max_concurrent_tasks
    assert dev.jobs_api.mode == prod.jobs_api.mode == "create"


def test_defaults_apply_when_keys_are_absent():
    s = settings_from_mapping("qa", "eu-west-1", {})
    assert s.name_prefix == "babulus-render-qa"
    assert s.cluster_name == "babulus-render-qa-cluster"
    assert s.max_concurrent_tasks == 10
    assert s.schedule_expression == "rate(1 minute)"
    assert s.log_retention_days == 7
    assert s.jobs_api.mode == "create"
    # No deploy depends on the account's Lambda concurrency quota unless asked to.
    assert s.dispatcher_reserved_concurrency is None
    assert settings_with(dispatcherReservedConcurrency="1").dispatcher_reserved_concurrency == 1


@pytest.mark.parametrize(
    "changes, key, allowed",
    [
        ({"taskCpu": "4096", "taskMemory": "4096"}, "taskMemory", "8192 to 30720 in steps of 1024"),
        ({"taskCpu": "256", "taskMemory": "4096"}, "taskMemory", "512, 1024, 2048"),
        ({"taskCpu": "3000"}, "taskCpu", "256, 512, 1024, 2048, 4096, 8192, 16384"),
        ({"maxConcurrentTasks": "0"}, "maxConcurrentTasks", "a whole number >= 1"),
        ({"maxConcurrentTasks": "ten"}, "maxConcurrentTasks", "a whole number >= 1"),
        (
            {"dispatcherReservedConcurrency": "0"},
            "dispatcherReservedConcurrency",
            "or 'unreserved'",
        ),
        ({"logRetentionDays": "10"}, "logRetentionDays", "1, 3, 5, 7, 14, 30"),
        ({"jobsApiMode": "borrow"}, "jobsApiMode", "create, attach"),
        ({"taskArchitecture": "MIPS"}, "taskArchitecture", "X86_64, ARM64"),
        ({"scheduleRate": "every minute"}, "scheduleRate", "rate(1 minute)"),
        ({"scheduleRate": "rate(1 minutes)"}, "scheduleRate", "rate(1 minute)"),
        ({"taskEphemeralStorageGiB": "10"}, "taskEphemeralStorageGiB", ">= 21 and <= 200"),
        ({"alarmEmail": "not-an-email"}, "alarmEmail", "an email address"),
        ({"clusterName": "Bad_Name"}, "clusterName", "lowercase letters"),
        # One source for the inputs prefix: a stack setting would part the role from the code.
        ({"inputsPrefix": "inputs/"}, "inputsPrefix", "generation inputs are always under"),
        (
            {"jobsApiEndpoint": "https://x"},
            "jobsApiEndpoint",
            "only applies to jobsApiMode: attach",
        ),
        ({"jobsApiKeyExpires": "next year"}, "jobsApiKeyExpires", "an RFC 3339 time"),
        ({"jobsApiKeyOrg": "org/evil"}, "jobsApiKeyOrg", "an org id: 1 to 64 characters"),
        ({"fargateVcpuHourUsd": "cheap"}, "fargateVcpuHourUsd", "a price in USD"),
        ({"fargateGbHourUsd": "-0.1"}, "fargateGbHourUsd", "a price in USD"),
    ],
)
def test_invalid_values_name_the_key_and_the_allowed_values(changes, key, allowed):
    with pytest.raises(SettingsError) as error:
        settings_with(**changes)
    message = str(error.value)
    assert message.startswith(f"babulus-render:{key}: got ")
    assert allowed in message


def test_fargate_prices_default_to_us_east_1_for_the_architecture():
    x86, arm = settings_with(), settings_with(taskArchitecture="ARM64")
    assert (x86.fargate_vcpu_hour_usd, x86.fargate_gb_hour_usd) == (0.04048, 0.004445)
    assert (arm.fargate_vcpu_hour_usd, arm.fargate_gb_hour_usd) == (0.03238, 0.00356)
    other = settings_with(fargateVcpuHourUsd="0.05", fargateStorageGbHourUsd="0")
    assert (other.fargate_vcpu_hour_usd, other.fargate_storage_gb_hour_usd) == (0.05, 0.0)


def test_every_valid_fargate_pair_is_accepted():
    for cpu, memory in [(256, 512), (1024, 8192), (4096, 16384), (8192, 61440), (16384, 122880)]:
        s = settings_with(taskCpu=str(cpu), taskMemory=str(memory))
        assert (s.task_cpu, s.task_memory) == (cpu, memory)


def test_attach_mode_needs_endpoint_auth_and_stream():
    s = settings_with(**ATTACH)
    assert (s.jobs_api.mode, s.jobs_api.auth) == ("attach", "iam")
    assert s.jobs_api.job_stream_arn == ATTACH["jobsApiStreamArn"]
    for missing, allowed in [
        ("jobsApiEndpoint", "https:// GraphQL URL (required when jobsApiMode is attach)"),
        ("jobsApiAuth", "iam, api_key, cognito (required when jobsApiMode is attach)"),
        ("jobsApiStreamArn", "stream ARN"),
        ("jobsApiArn", "required when jobsApiAuth is iam"),
    ]:
        with pytest.raises(SettingsError, match=f"babulus-render:{missing}: got None") as error:
            settings_with(**{**ATTACH, missing: None})
        assert allowed in str(error.value)
    with pytest.raises(SettingsError, match="jobsApiKeyExpires: .*unset when jobsApiMode is at"):
        settings_with(**{**ATTACH, "jobsApiKeyExpires": "2027-01-01T00:00:00Z"})
    with pytest.raises(SettingsError, match="jobsApiKeyOrg: .*unset when jobsApiMode is at"):
        settings_with(**{**ATTACH, "jobsApiKeyOrg": "org-1"})


def test_attach_with_api_key_auth_needs_the_key_as_a_secret():
    changes = {**ATTACH, "jobsApiAuth": "api_key", "jobsApiArn": None}
    with pytest.raises(SettingsError, match="babulus-render:jobsApiKey: got None"):
        settings_with(**changes)
    assert settings_with(**changes, jobsApiKey="k").jobs_api.auth == "api_key"


def test_missing_region_is_reported():
    with pytest.raises(SettingsError, match="aws:region"):
        settings_from_mapping("dev", None, {})


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"taskCpu": "4096", "taskMemory": "2048"}, "taskMemory"),
        ({"maxConcurrentTasks": "0"}, "maxConcurrentTasks"),
        ({"logRetentionDays": "2"}, "logRetentionDays"),
        ({"jobsApiMode": "borrow"}, "jobsApiMode"),
    ],
)
def test_the_real_program_fails_at_start_on_invalid_config(overrides, key):
    with pytest.raises(SettingsError, match=f"babulus-render:{key}: got .*; allowed: "):
        run_stack("prod", config_overrides=overrides)


def test_every_config_key_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "infrastructure.md").read_text()
    for key in (*KEYS, *SECRET_KEYS):
        assert f"`{key}`" in doc, key
