"""Run the real Pulumi program offline, under ``pulumi.runtime.set_mocks``.

No Pulumi CLI, plugin or cloud account is involved: the program runs in this
process, every resource registration is answered by :class:`FarmMocks` and
recorded with the inputs exactly as a mock (or a policy analyzer) receives
them: camelCase keys, numbers as floats, secrets still wrapped.

The stack's config is loaded from the committed ``Pulumi.<stack>.yaml`` (plus
project defaults in ``Pulumi.yaml``), because the mock runtime does not read
those files itself. Runs use ``preview=False`` so outputs are known.

    run = run_stack("dev")
    run.one("aws:ecs/cluster:Cluster").inputs["name"]
    run.outputs["clusterName"]

``run_stack`` may be called any number of times in one process (the Pulumi
runtime keeps global settings; each run starts from fresh ones).
"""

from __future__ import annotations

import json
import runpy
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

REPO_ROOT = Path(__file__).resolve().parents[1]
MOCK_ACCOUNT = "123456789012"
MOCK_DEPLOYER_ROLE = f"arn:aws:iam::{MOCK_ACCOUNT}:role/deployer"
MOCK_DEPLOYER_SESSION = f"arn:aws:sts::{MOCK_ACCOUNT}:assumed-role/deployer/pulumi-session"

# The marker Pulumi's wire format uses for a secret value ({SECRET_SIG: SECRET_VALUE, "value": v}).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"


class OfflineConfigError(Exception):
    """The stack's config files cannot be turned into mock config."""


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration as the mock engine saw it."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str
    parent: str | None
    custom: bool = True
    # Resource options the engine receives: protect, retainOnDelete, ignoreChanges,
    # deleteBeforeReplace, additionalSecretOutputs, dependencies (URNs).
    options: dict[str, Any] = field(default_factory=dict)
    # What the mocks answered: the resource's id and output properties.
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackRun:
    """Everything one offline run of the program declared."""

    stack: str
    config: dict[str, str]
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> RecordedResource:
        """The single resource of this type (and name, when given); fails otherwise."""
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {names}")
        return found[0]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def _mock_arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{MOCK_ACCOUNT}:{resource}"


class FarmMocks(pulumi_mocks.Mocks):
    """Answers registrations with plausible AWS outputs.

    Custom resources echo their inputs plus the computed attributes the program
    reads (arn, url...). awsx components are remote components: under mocks the
    VPC is one resource with no children, so its outputs are returned here and
    its inputs are never echoed (``natGateways`` is both an input and an output
    of a different shape).
    """

    def __init__(self, region: str) -> None:
        self.region = region

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        typ, name, inputs, region = args.typ, args.name, dict(args.inputs), self.region
        if typ == "awsx:ec2:Vpc":
            return f"{name}-id", {
                "vpcId": "vpc-0mock",
                "privateSubnetIds": ["subnet-0private-a", "subnet-0private-b"],
                "publicSubnetIds": ["subnet-0public-a", "subnet-0public-b"],
                "isolatedSubnetIds": [],
            }
        outputs = dict(inputs)
        physical = inputs.get("name") or f"{name}-mock"
        outputs.setdefault("name", physical)
        service = typ.split(":")[1].split("/")[0]
        outputs.setdefault("arn", _mock_arn(service, region, physical))
        outputs.update(self._computed(typ, name, inputs, physical))
        return f"{physical}-id", outputs

    def _computed(self, typ: str, name: str, inputs: dict, physical: str) -> dict:
        region = self.region
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{name}-mock"
            return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
        if typ == "aws:dynamodb/table:Table":
            stream = {}
            if inputs.get("streamEnabled"):
                stream_id = f"table/{physical}/stream/mock"
                stream = {"streamArn": _mock_arn("dynamodb", region, stream_id)}
            return {"arn": _mock_arn("dynamodb", region, f"table/{physical}"), **stream}
        if typ == "aws:appsync/graphQLApi:GraphQLApi":
            return {
                "arn": _mock_arn("appsync", region, f"apis/{physical}"),
                "uris": {
                    "GRAPHQL": f"https://{physical}.appsync-api.{region}.amazonaws.com/graphql"
                },
            }
        if typ == "aws:appsync/apiKey:ApiKey":
            return {"key": f"mock-api-key-{name}"}
        if typ == "aws:ecs/taskDefinition:TaskDefinition":
            family = inputs.get("family", physical)
            return {"arn": _mock_arn("ecs", region, f"task-definition/{family}:1")}
        if typ == "aws:ecs/cluster:Cluster":
            return {"arn": _mock_arn("ecs", region, f"cluster/{physical}")}
        if typ == "aws:lambda/function:Function":
            return {"arn": _mock_arn("lambda", region, f"function:{physical}")}
        if typ == "aws:lambda/layerVersion:LayerVersion":
            return {"arn": _mock_arn("lambda", region, f"layer:{inputs.get('layerName')}:1")}
        if typ == "aws:iam/role:Role":
            return {"arn": f"arn:aws:iam::{MOCK_ACCOUNT}:role/{physical}"}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return {"arn": _mock_arn("logs", region, f"log-group:{physical}")}
        if typ == "aws:cloudwatch/eventRule:EventRule":
            return {"arn": _mock_arn("events", region, f"rule/{physical}")}
        if typ == "aws:kms/key:Key":
            key_id = f"mock-key-{name}"
            return {"keyId": key_id, "arn": _mock_arn("kms", region, f"key/{key_id}")}
        if typ == "aws:sns/topic:Topic":
            return {"arn": _mock_arn("sns", region, physical)}
        if typ == "aws:secretsmanager/secret:Secret":
            return {"arn": _mock_arn("secretsmanager", region, f"secret:{physical}-AbCdEf")}
        if typ == "aws:ecr/repository:Repository":
            return {
                "arn": _mock_arn("ecr", region, f"repository/{physical}"),
                "repositoryUrl": f"{MOCK_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{physical}",
            }
        return {}

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            # Deploys usually run as an assumed role (SSO, CI), as here.
            return {"accountId": MOCK_ACCOUNT, "arn": MOCK_DEPLOYER_SESSION}
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            arn = args.args["arn"]
            issuer = MOCK_DEPLOYER_ROLE if arn == MOCK_DEPLOYER_SESSION else arn
            return {"arn": arn, "issuerArn": issuer}
        if args.token == "aws:ec2/getRouteTables:getRouteTables":
            # One route table per subnet the filter names: shows which subnets were asked for.
            subnets = [
                v
                for f in args.args.get("filters", [])
                if f["name"] == "association.subnet-id"
                for v in f["values"]
            ]
            return {"ids": [f"rtb-of-{subnet}" for subnet in subnets], "id": "rtb-lookup"}
        raise NotImplementedError(f"offline mocks do not answer the invoke {args.token}")


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, plus a record of each registration with its options."""

    def __init__(self, mocks: FarmMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            answer = self.resources[response.urn]
            record = RecordedResource(
                type=request.type,
                name=request.name,
                inputs=self._local.inputs,
                urn=response.urn,
                parent=request.parent or None,
                custom=bool(request.custom),
                options={
                    "protect": bool(request.protect),
                    "retainOnDelete": request.HasField("retainOnDelete")
                    and bool(request.retainOnDelete),
                    "ignoreChanges": list(request.ignoreChanges),
                    "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                    "additionalSecretOutputs": list(request.additionalSecretOutputs),
                    "dependencies": list(request.dependencies),
                },
                id=answer.id,
                outputs=dict(answer.state),
            )
            with self._lock:
                self.recorded.append(record)
        return response


class _InputCapture(FarmMocks):
    """Hands the inputs the mock received to the monitor thread that asked."""

    monitor: _RecordingMonitor

    def new_resource(self, args):
        self.monitor._local.inputs = args.inputs
        return super().new_resource(args)


def _config_value(key: str, value: Any, source: Path) -> str:
    """A YAML config value as the Pulumi CLI hands it to a program: a string."""
    if isinstance(value, dict) and "secure" in value:
        raise OfflineConfigError(
            f"{source}: {key} is an encrypted secret; offline runs cannot decrypt it, "
            "pass it in config_overrides"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_stack_config(stack: str, root: Path = REPO_ROOT) -> tuple[str, dict[str, str]]:
    """(project name, config) for a stack, as the CLI would pass it to the program."""
    project_file = root / "Pulumi.yaml"
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise OfflineConfigError(f"no stack config file {stack_file}")
    project_doc = yaml.safe_load(project_file.read_text()) or {}
    project = project_doc["name"]
    config: dict[str, str] = {}
    for key, spec in (project_doc.get("config") or {}).items():
        value = spec.get("default", spec.get("value")) if isinstance(spec, dict) else spec
        if value is not None:
            config[_namespaced(project, key)] = _config_value(key, value, project_file)
    for key, value in ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}).items():
        config[_namespaced(project, key)] = _config_value(key, value, stack_file)
    return project, config


def _run_main_program() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")


def run_stack(
    stack: str,
    *,
    config_overrides: dict[str, str | None] | None = None,
    program: Callable[[], None] | None = None,
) -> StackRun:
    """Run the program for ``stack`` under mocks and return what it declared.

    ``config_overrides`` keys may be bare (``maxConcurrentTasks``, namespaced to
    the project) or full (``aws:region``); a value of None removes the key.
    ``program`` defaults to the repository's ``__main__.py``. Exceptions the
    program raises (e.g. invalid settings) propagate to the caller.
    """
    project, config = load_stack_config(stack)
    for key, value in (config_overrides or {}).items():
        if value is None:
            config.pop(_namespaced(project, key), None)
        else:
            config[_namespaced(project, key)] = value

    region = config.get("aws:region", "us-east-1")
    mocks = _InputCapture(region)
    monitor = _RecordingMonitor(mocks)
    mocks.monitor = monitor

    # Fresh global runtime state: no root stack, no pending RPCs, this run's config.
    pulumi_settings.reset_options(project=project, stack=stack, preview=False)
    set_all_config(config, secret_keys=[])
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root = pulumi_settings.get_root_resource()

    resolved: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    async def resolve_outputs() -> None:
        for key, value in root.outputs.items():
            out = pulumi.Output.from_input(value)
            resolved[key] = await out.future()
            if await out.is_secret():
                secret_outputs.add(key)

    def run() -> None:
        (program or _run_main_program)()

    try:
        _sync_await(run_pulumi_func(run))
        _sync_await(run_pulumi_func(resolve_outputs))
    finally:
        pulumi_settings.reset_options()
    return StackRun(
        stack=stack,
        config=config,
        resources=list(monitor.recorded),
        outputs=resolved,
        secret_outputs=secret_outputs,
    )
