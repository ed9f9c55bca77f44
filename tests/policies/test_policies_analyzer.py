"""The pack as the Pulumi CLI runs it: `python -m pulumi.policy ADDRESS policies` (what
pulumi-analyzer-policy-python does) serves the analyzer over gRPC. These tests talk
to that real server and check the offline evaluator reports exactly what it reports."""

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from policy_testkit import resource
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2
from pulumi_policy import EnforcementLevel

from policies.evaluate import evaluate
from policies.pack_config import parse
from policies.registry import DEFAULT_LEVELS, PACK_NAME, POLICIES

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
LEVEL_OF_PROTO = {
    analyzer_pb2.ADVISORY: EnforcementLevel.ADVISORY,
    analyzer_pb2.MANDATORY: EnforcementLevel.MANDATORY,
    analyzer_pb2.DISABLED: EnforcementLevel.DISABLED,
}
DESCRIPTIONS = {policy.name: policy.description for policy in POLICIES}


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    # Run from an unrelated folder, without the repository on PYTHONPATH, as the CLI would.
    cwd = tmp_path_factory.mktemp("cli")
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(PACK_DIR)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def struct(props):
    message = struct_pb2.Struct()
    message.update(props)
    return message


def wire(r):
    return analyzer_pb2.AnalyzerResource(
        type=r.type,
        properties=struct(dict(r.outputs or r.props)),
        urn=r.urn,
        name=r.name,
        parent=r.parent or "",
        propertyDependencies={
            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
            for k, v in r.property_dependencies.items()
        },
    )


def via_analyzer(stub, resources):
    found = set()
    for r in resources:
        response = stub.Analyze(
            analyzer_pb2.AnalyzeRequest(
                type=r.type, properties=struct(dict(r.props)), urn=r.urn, name=r.name
            )
        )
        found |= {
            (d.policyName, LEVEL_OF_PROTO[d.enforcementLevel], r.urn, d.message)
            for d in response.diagnostics
        }
    response = stub.AnalyzeStack(
        analyzer_pb2.AnalyzeStackRequest(resources=[wire(r) for r in resources])
    )
    found |= {
        (d.policyName, LEVEL_OF_PROTO[d.enforcementLevel], d.urn, d.message)
        for d in response.diagnostics
    }
    return found


def via_evaluate(resources, config=None):
    return {
        (v.policy, v.level, v.resource, f"{DESCRIPTIONS[v.policy]}\n{v.message}")
        for v in evaluate(resources, config)
    }


BROKEN = [
    resource(
        "aws:s3/bucket:Bucket",
        "renders",
        {"acl": "public-read"},
        outputs={"acl": "public-read", "id": "renders-id", "bucket": "renders"},
    ),
    resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/ecs/worker"}),
    resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        "worker",
        {
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "1024",
            "memory": "1024",
            "containerDefinitions": json.dumps(
                [{"name": "worker", "environment": [{"name": "PASSWORD", "value": "hunter2"}]}]
            ),
        },
    ),
    resource(
        "aws:iam/rolePolicy:RolePolicy",
        "task",
        {
            "role": "task",
            "policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
            ),
        },
    ),
    resource(
        "aws:ec2/vpc:Vpc",
        "vpc",
        {"cidrBlock": "10.0.0.0/16"},
        outputs={"cidrBlock": "10.0.0.0/16", "id": "vpc-1"},
    ),
    resource("aws:lambda/function:Function", "fn", {"timeout": 120.0}),
]


def test_the_server_lists_every_policy_with_its_default_level(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert {p.name: LEVEL_OF_PROTO[p.enforcementLevel] for p in info.policies} == DEFAULT_LEVELS
    schemas = {
        p.name: json_format.MessageToDict(p.configSchema.properties)
        for p in info.policies
        if p.configSchema.properties
    }
    assert set(schemas) == {
        "iam-least-privilege",
        "nat-gateway-count",
        "lambda-timeout",
        "required-tags",
    }
    assert schemas["nat-gateway-count"]["expectedCount"]["default"] == 1
    assert analyzer.GetPluginInfo(empty_pb2.Empty()) != plugin_pb2.PluginInfo()


def test_offline_evaluation_matches_the_real_analyzer(analyzer):
    expected = via_analyzer(analyzer, BROKEN)
    assert expected == via_evaluate(BROKEN)
    assert {name for name, *_ in expected} >= {
        "s3-public-access-block",
        "s3-encryption",
        "s3-tls-only",
        "log-group-retention",
        "no-plaintext-secrets",
        "iam-least-privilege",
        "vpc-flow-logs",
        "fargate-cpu-memory-pair",
        "ecs-container-logging",
        "lambda-timeout",
        "nat-gateway-count",
    }


def test_pack_config_acts_the_same_in_both(analyzer):
    raw = {
        "log-group-retention": "disabled",
        "lambda-timeout": {"enforcementLevel": "mandatory", "maxTimeoutSeconds": 100},
    }
    analyzer.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                "log-group-retention": analyzer_pb2.PolicyConfig(
                    enforcementLevel=analyzer_pb2.DISABLED
                ),
                "lambda-timeout": analyzer_pb2.PolicyConfig(
                    enforcementLevel=analyzer_pb2.MANDATORY,
                    properties=struct({"maxTimeoutSeconds": 100}),
                ),
            }
        )
    )
    try:
        found = via_analyzer(analyzer, BROKEN)
        assert found == via_evaluate(BROKEN, parse(raw))
        assert "log-group-retention" not in {name for name, *_ in found}
        assert ("lambda-timeout", EnforcementLevel.MANDATORY) in {(n, lv) for n, lv, *_ in found}
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest())


def test_the_pack_imports_nothing_its_own_requirements_lack():
    # Under the CLI the pack runs in its own virtualenv (policies/requirements.txt).
    code = (
        "import sys; import policies.registry; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'renderlib', 'infra', 'jsonschema', 'pulumi_aws', 'pulumi_awsx'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACK_DIR.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]", result.stderr
    requirements = (PACK_DIR / "requirements.txt").read_text().split()
    assert {line.split(">=")[0] for line in requirements} == {"pulumi", "pulumi-policy"}


def test_the_pack_manifest_names_a_python_runtime_with_its_own_virtualenv():
    manifest = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"]["virtualenv"] == "venv"
    assert manifest["version"] and manifest["description"]
