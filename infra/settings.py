"""The stack's configuration, read once into one typed, validated object.

``settings_from_mapping`` is a pure function of the raw config (keys without
the ``babulus-render:`` namespace, values as the strings the CLI hands the
program), so validation is testable without Pulumi. ``load_settings`` reads
the same keys from ``pulumi.Config``. Every problem raises ``SettingsError``
naming the key, what it got and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import pulumi

from renderlib.cost import ARM64_PRICES, STORAGE_GB_HOUR, X86_64_PRICES
from renderlib.farm.storage import GENERATIONS_PREFIX
from renderlib.jobs.fields import TOKEN_RULE, is_token

PROJECT = "babulus-render"

# Fargate's allowed task sizes: cpu units -> memory MiB choices.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

# The retention values CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

ARCHITECTURES = ("X86_64", "ARM64")
JOBS_API_MODES = ("create", "attach")
# How the farm's own roles call an attached API; credentials never sit in env vars.
ATTACH_AUTH_MODES = ("iam", "api_key", "cognito")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_RATE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$")
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ARN = re.compile(r"^arn:aws[a-z-]*:")


class SettingsError(pulumi.RunError):
    """The stack config is invalid; the message names the key and the allowed values."""


@dataclass(frozen=True)
class JobsApiSettings:
    mode: str
    # attach mode only: the studio's existing API.
    endpoint: str | None = None
    auth: str | None = None
    job_stream_arn: str | None = None
    api_arn: str | None = None
    # create mode only: when the studio API key expires (RFC 3339); AppSync's default is 7 days.
    api_key_expires: str | None = None
    # create mode only: the org the studio API key acts for; None: the API refuses API keys.
    api_key_org: str | None = None
    # attach mode with api_key auth: the key, kept a Pulumi secret (set by load_settings).
    api_key: pulumi.Output[str] | None = None
    # attach mode with cognito auth: the studio user pool's app client and the farm's user
    # in it (its password kept a Pulumi secret, set by load_settings).
    cognito_client_id: str | None = None
    worker_email: str | None = None
    worker_password: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class Settings:
    stack: str
    region: str
    name_prefix: str
    cluster_name: str
    repository_name: str
    bucket_name: str | None
    max_concurrent_tasks: int
    # None = unreserved (the default); 1 keeps "capacity = max - running" exact on accounts
    # with the Lambda concurrency to spare.
    dispatcher_reserved_concurrency: int | None
    task_cpu: int
    task_memory: int
    task_ephemeral_storage_gib: int
    task_architecture: str
    task_stop_timeout_seconds: int
    job_time_limit_seconds: int
    # Chunked renders (renderlib/farm/chunking.py): videos longer than this are split (0:
    # only jobs that ask), into chunks of this much video each.
    chunk_after_seconds: int
    chunk_seconds: int
    heartbeat_lease_seconds: int
    max_retries: int
    schedule_expression: str
    log_retention_days: int
    alarm_email: str | None
    image_tag: str
    log_level: str
    queue_age_alarm_seconds: int
    no_completions_window_minutes: int
    jobs_api: JobsApiSettings
    # USD the RenderRun's estimated cost uses (default: us-east-1 on-demand, renderlib/cost.py).
    fargate_vcpu_hour_usd: float = X86_64_PRICES["vcpu_hour"]
    fargate_gb_hour_usd: float = X86_64_PRICES["gb_hour"]
    fargate_storage_gb_hour_usd: float = STORAGE_GB_HOUR

    @property
    def task_family(self) -> str:
        return f"{self.name_prefix}-worker"


def _fail(key: str, got: object, allowed: str) -> SettingsError:
    return SettingsError(f"{PROJECT}:{key}: got {got!r}; allowed: {allowed}")


def _int(raw: Mapping[str, str], key: str, default: int, low: int, high: int | None = None) -> int:
    text = raw.get(key)
    allowed = f"a whole number >= {low}" + (f" and <= {high}" if high is not None else "")
    if text is None:
        return default
    try:
        value = int(str(text).strip())
    except ValueError:
        raise _fail(key, text, allowed) from None
    if value < low or (high is not None and value > high):
        raise _fail(key, value, allowed)
    return value


def _price(raw: Mapping[str, str], key: str, default: float) -> float:
    text = raw.get(key)
    if text is None:
        return default
    try:
        value = float(str(text).strip())
    except ValueError:
        raise _fail(key, text, "a price in USD, a number >= 0") from None
    if not value >= 0:
        raise _fail(key, value, "a price in USD, a number >= 0")
    return value


def _choice(raw: Mapping[str, str], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise _fail(key, value, ", ".join(allowed))
    return value


def _name(raw: Mapping[str, str], key: str, default: str | None) -> str:
    value = raw.get(key, default)
    if value is None or not _NAME.match(value):
        raise _fail(
            key, value, "3-40 characters: lowercase letters, digits, '-', starting with a letter"
        )
    return value


def _reserved_concurrency(raw: Mapping[str, str]) -> int | None:
    key = "dispatcherReservedConcurrency"
    # Unreserved by default: reserving fails on accounts whose unreserved Lambda concurrency
    # would drop under its minimum of 100 (new accounts have a quota of 10).
    value = raw.get(key, "unreserved")
    if value == "unreserved":
        return None
    if not value.isdigit() or not 1 <= int(value) <= 10:
        raise _fail(key, value, "a whole number from 1 to 10, or 'unreserved'")
    return int(value)


def _jobs_api(raw: Mapping[str, str]) -> JobsApiSettings:
    mode = _choice(raw, "jobsApiMode", "create", JOBS_API_MODES)
    attach_keys = ("jobsApiEndpoint", "jobsApiAuth", "jobsApiStreamArn", "jobsApiArn", "jobsApiKey")
    if mode == "create":
        stray = [k for k in attach_keys if k in raw]
        if stray:
            key = stray[0]
            got = "<secret>" if key == "jobsApiKey" else raw[key]
            raise _fail(
                key,
                got,
                "unset when jobsApiMode is create (it only applies to jobsApiMode: attach)",
            )
        expires = raw.get("jobsApiKeyExpires")
        if expires is not None:
            try:
                datetime.fromisoformat(expires.replace("Z", "+00:00"))
            except ValueError:
                raise _fail(
                    "jobsApiKeyExpires", expires, "an RFC 3339 time such as 2027-01-01T00:00:00Z"
                ) from None
        key_org = raw.get("jobsApiKeyOrg")
        if key_org is not None and not is_token(key_org):
            raise _fail("jobsApiKeyOrg", key_org, f"an org id: {TOKEN_RULE}")
        return JobsApiSettings(mode="create", api_key_expires=expires, api_key_org=key_org)

    endpoint = raw.get("jobsApiEndpoint")
    if not endpoint or not endpoint.startswith("https://"):
        raise _fail(
            "jobsApiEndpoint",
            endpoint,
            "the studio API's https:// GraphQL URL (required when jobsApiMode is attach)",
        )
    auth = raw.get("jobsApiAuth")
    if auth not in ATTACH_AUTH_MODES:
        raise _fail(
            "jobsApiAuth",
            auth,
            ", ".join(ATTACH_AUTH_MODES) + " (required when jobsApiMode is attach)",
        )
    stream_arn = raw.get("jobsApiStreamArn")
    if not stream_arn or not stream_arn.startswith("arn:") or "/stream/" not in stream_arn:
        raise _fail(
            "jobsApiStreamArn",
            stream_arn,
            "the Job table's DynamoDB stream ARN "
            "(arn:aws:dynamodb:...:table/NAME/stream/...), required when jobsApiMode "
            "is attach",
        )
    api_arn = raw.get("jobsApiArn")
    if auth == "iam" and (not api_arn or not _ARN.match(api_arn) or ":apis/" not in api_arn):
        raise _fail(
            "jobsApiArn",
            api_arn,
            "the AppSync API ARN (arn:aws:appsync:...:apis/ID), required when jobsApiAuth is iam",
        )
    if auth == "api_key" and not raw.get("jobsApiKey"):
        raise _fail(
            "jobsApiKey",
            None,
            "the studio API's key, set as a secret "
            "(pulumi config set --secret jobsApiKey ...), required when jobsApiAuth "
            "is api_key",
        )
    for key in ("jobsApiKeyExpires", "jobsApiKeyOrg"):
        if key in raw:
            raise _fail(key, raw[key], "unset when jobsApiMode is attach")
    cognito = _cognito_user(raw) if auth == "cognito" else {}
    return JobsApiSettings(
        mode="attach",
        endpoint=endpoint,
        auth=auth,
        job_stream_arn=stream_arn,
        api_arn=api_arn,
        **cognito,
    )


def _cognito_user(raw: Mapping[str, str]) -> dict[str, str]:
    """The studio user pool's app client and the farm's user in it (cognito attach mode)."""
    client_id = raw.get("jobsApiCognitoClientId")
    if not client_id or not re.match(r"^[\w+]{1,128}$", client_id):
        raise _fail(
            "jobsApiCognitoClientId",
            client_id,
            "the studio user pool's app client id (USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH "
            "allowed), required when jobsApiAuth is cognito",
        )
    email = raw.get("jobsApiWorkerEmail")
    if not email or not _EMAIL.match(email):
        raise _fail(
            "jobsApiWorkerEmail",
            email,
            "the email of the farm's user in the studio user pool, required when jobsApiAuth "
            "is cognito",
        )
    if not raw.get("jobsApiWorkerPassword"):
        raise _fail(
            "jobsApiWorkerPassword",
            None,
            "that user's permanent password, set as a secret (pulumi config set --secret "
            "jobsApiWorkerPassword ...), required when jobsApiAuth is cognito",
        )
    return {"cognito_client_id": client_id, "worker_email": email}


def settings_from_mapping(stack: str, region: str | None, raw: Mapping[str, str]) -> Settings:
    """Validate raw config (un-namespaced keys, string values) into Settings."""
    if not region:
        raise SettingsError(f"aws:region: got {region!r}; allowed: an AWS region such as us-east-1")
    prefix = _name(raw, "namePrefix", f"{PROJECT}-{stack}")

    cpu = _int(raw, "taskCpu", 1024, 1)
    if cpu not in FARGATE_SIZES:
        raise _fail("taskCpu", cpu, ", ".join(str(c) for c in FARGATE_SIZES))
    memory = _int(raw, "taskMemory", 4096, 1)
    if memory not in FARGATE_SIZES[cpu]:
        sizes = FARGATE_SIZES[cpu]
        listed = (
            ", ".join(str(m) for m in sizes)
            if len(sizes) <= 4
            else f"{sizes[0]} to {sizes[-1]} in steps of {sizes[1] - sizes[0]}"
        )
        raise _fail("taskMemory", memory, f"with taskCpu {cpu} Fargate allows {listed} (MiB)")

    retention = _int(raw, "logRetentionDays", 7, 1)
    if retention not in LOG_RETENTION_DAYS:
        raise _fail("logRetentionDays", retention, ", ".join(map(str, LOG_RETENTION_DAYS)))

    schedule = raw.get("scheduleRate", "rate(1 minute)")
    if not (_RATE.match(schedule) or _CRON.match(schedule)):
        raise _fail(
            "scheduleRate",
            schedule,
            "an EventBridge schedule such as "
            "'rate(1 minute)', 'rate(5 minutes)' or 'cron(0/2 * * * ? *)'",
        )

    email = raw.get("alarmEmail") or None
    if email is not None and not _EMAIL.match(email):
        raise _fail("alarmEmail", email, "an email address, or unset for no subscription")

    if "inputsPrefix" in raw:
        # The submitter writes, the resolver admits and the worker reads this one prefix.
        raise _fail(
            "inputsPrefix",
            raw["inputsPrefix"],
            f"no value: remove it; generation inputs are always under '{GENERATIONS_PREFIX}/' "
            "(renderlib.farm.storage), which the submitter, the jobs API and the task role share",
        )

    bucket = raw.get("bucketName") or None
    if bucket is not None and not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
        raise _fail("bucketName", bucket, "a valid S3 bucket name, or unset to let Pulumi name it")

    image_tag = raw.get("imageTag", "latest")
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", image_tag):
        raise _fail("imageTag", image_tag, "a Docker tag (letters, digits, '_', '.', '-')")

    architecture = _choice(raw, "taskArchitecture", "X86_64", ARCHITECTURES)
    prices = ARM64_PRICES if architecture == "ARM64" else X86_64_PRICES
    return Settings(
        stack=stack,
        region=region,
        name_prefix=prefix,
        cluster_name=_name(raw, "clusterName", f"{prefix}-cluster"),
        repository_name=_name(raw, "repositoryName", f"{prefix}-worker"),
        bucket_name=bucket,
        max_concurrent_tasks=_int(raw, "maxConcurrentTasks", 10, 1, 100),
        dispatcher_reserved_concurrency=_reserved_concurrency(raw),
        task_cpu=cpu,
        task_memory=memory,
        task_ephemeral_storage_gib=_int(raw, "taskEphemeralStorageGiB", 21, 21, 200),
        task_architecture=architecture,
        task_stop_timeout_seconds=_int(raw, "taskStopTimeoutSeconds", 120, 2, 120),
        job_time_limit_seconds=_int(raw, "jobTimeLimitSeconds", 3600, 60),
        chunk_after_seconds=_int(raw, "chunkAfterSeconds", 600, 0),
        chunk_seconds=_int(raw, "chunkSeconds", 300, 10),
        heartbeat_lease_seconds=_int(raw, "heartbeatLeaseSeconds", 180, 30),
        max_retries=_int(raw, "maxRetries", 2, 0, 10),
        schedule_expression=schedule,
        log_retention_days=retention,
        alarm_email=email,
        image_tag=image_tag,
        log_level=_choice(raw, "logLevel", "INFO", LOG_LEVELS),
        queue_age_alarm_seconds=_int(raw, "queueAgeAlarmSeconds", 900, 60),
        no_completions_window_minutes=_int(raw, "noCompletionsWindowMinutes", 60, 5, 1440),
        jobs_api=_jobs_api(raw),
        fargate_vcpu_hour_usd=_price(raw, "fargateVcpuHourUsd", prices["vcpu_hour"]),
        fargate_gb_hour_usd=_price(raw, "fargateGbHourUsd", prices["gb_hour"]),
        fargate_storage_gb_hour_usd=_price(raw, "fargateStorageGbHourUsd", STORAGE_GB_HOUR),
    )


# Every key the program reads from the project namespace (documented in docs/infrastructure.md);
# inputsPrefix only to refuse it.
KEYS = (
    "namePrefix",
    "clusterName",
    "repositoryName",
    "bucketName",
    "inputsPrefix",
    "maxConcurrentTasks",
    "dispatcherReservedConcurrency",
    "taskCpu",
    "taskMemory",
    "taskEphemeralStorageGiB",
    "taskArchitecture",
    "taskStopTimeoutSeconds",
    "jobTimeLimitSeconds",
    "chunkAfterSeconds",
    "chunkSeconds",
    "heartbeatLeaseSeconds",
    "maxRetries",
    "scheduleRate",
    "logRetentionDays",
    "alarmEmail",
    "imageTag",
    "logLevel",
    "queueAgeAlarmSeconds",
    "noCompletionsWindowMinutes",
    "jobsApiMode",
    "jobsApiEndpoint",
    "jobsApiAuth",
    "jobsApiStreamArn",
    "jobsApiArn",
    "jobsApiKeyExpires",
    "jobsApiKeyOrg",
    "fargateVcpuHourUsd",
    "fargateGbHourUsd",
    "fargateStorageGbHourUsd",
    "jobsApiCognitoClientId",
    "jobsApiWorkerEmail",
)
# Read with config.get_secret: their values stay Pulumi secrets.
SECRET_KEYS = ("jobsApiKey", "jobsApiWorkerPassword")


def load_settings() -> Settings:
    """Settings for the running stack, from pulumi.Config."""
    config = pulumi.Config(PROJECT)
    raw = {key: value for key in KEYS if (value := config.get(key)) is not None}
    secrets = {key: value for key in SECRET_KEYS if (value := config.get_secret(key)) is not None}
    # Validation only needs to know a secret is set; its value stays a Pulumi secret.
    raw.update({key: "<secret>" for key in secrets})
    settings = settings_from_mapping(pulumi.get_stack(), pulumi.Config("aws").get("region"), raw)
    return replace(
        settings,
        jobs_api=replace(
            settings.jobs_api,
            api_key=secrets.get("jobsApiKey"),
            worker_password=secrets.get("jobsApiWorkerPassword"),
        ),
    )
