"""Both jobs API modes of the real program: create (AppSync + DynamoDB + Lambda resolver)
and attach (the studio's API from stack config, nothing of the API created)."""

import json

import pytest

from infra.jobs_api import SCHEMA_PATH, root_fields
from infra.offline import MOCK_DEPLOYER_ROLE, is_secret, run_stack

STREAM = "arn:aws:dynamodb:us-east-1:111122223333:table/Job-abc/stream/2026-01-01T00:00:00.000"
ENDPOINT = "https://studio123.appsync-api.us-east-1.amazonaws.com/graphql"
API_ARN = "arn:aws:appsync:us-east-1:111122223333:apis/studio123"
ATTACH = {
    "jobsApiMode": "attach",
    "jobsApiEndpoint": ENDPOINT,
    "jobsApiStreamArn": STREAM,
    "jobsApiKeyExpires": None,
}
API_KEY = "da2-studio-key-value-0123456789"
API_TYPES = ("aws:appsync/", "aws:dynamodb/", "aws:cognito/")
WORKER_PASSWORD = "Studio-Worker-Passw0rd!"
COGNITO = {
    "jobsApiCognitoClientId": "4studioappclient0123456789",
    "jobsApiWorkerEmail": "render-farm@studio.example",
    "jobsApiWorkerPassword": WORKER_PASSWORD,
}


@pytest.fixture(scope="module")
def created():
    return run_stack("dev")


@pytest.fixture(scope="module")
def attached_iam():
    return run_stack(
        "prod", config_overrides={**ATTACH, "jobsApiAuth": "iam", "jobsApiArn": API_ARN}
    )


@pytest.fixture(scope="module")
def attached_cognito():
    return run_stack("prod", config_overrides={**ATTACH, "jobsApiAuth": "cognito", **COGNITO})


@pytest.fixture(scope="module")
def attached_api_key():
    return run_stack(
        "prod", config_overrides={**ATTACH, "jobsApiAuth": "api_key", "jobsApiKey": API_KEY}
    )


def statements(resource) -> list[dict]:
    key = "policy" if "policy" in resource.inputs else "assumeRolePolicy"
    return json.loads(resource.inputs[key])["Statement"]


def policy_of(run, role_name: str) -> list[dict]:
    (policy,) = [
        p
        for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == f"{role_name}-id"
    ]
    return statements(policy)


def dispatcher_env(run) -> dict:
    function = run.one("aws:lambda/function:Function", "dispatcher-function")
    return function.inputs["environment"]["variables"]


def container(run) -> dict:
    (definition,) = json.loads(
        run.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"]
    )
    return definition


# --- create ------------------------------------------------------------------------------------


def test_tables_follow_the_key_contract(created):
    tables = {
        t.name.removeprefix("jobs-"): t.inputs for t in created.of_type("aws:dynamodb/table:Table")
    }
    assert set(tables) == {"Job", "JobEvent", "RenderRun", "GenerationRun", "RenderChunk"}
    for key, table in tables.items():
        assert table["name"] == f"babulus-render-dev-{key}"
        assert table["hashKey"] == "id"
        assert table["billingMode"] == "PAY_PER_REQUEST"
        assert table["pointInTimeRecovery"] == {"enabled": True}
        assert table["serverSideEncryption"] == {"enabled": True}
        assert all(a["type"] == "S" for a in table["attributes"])

    def indexes(table):
        return {
            i["name"]: [(k["attributeName"], k["keyType"]) for k in i["keySchemas"]]
            for i in table.get("globalSecondaryIndexes", [])
        }

    assert indexes(tables["Job"]) == {"byStatus": [("status", "HASH"), ("createdAt", "RANGE")]}
    assert indexes(tables["JobEvent"]) == {"byJob": [("jobId", "HASH"), ("createdAt", "RANGE")]}
    assert indexes(tables["RenderRun"]) == {"byJob": [("jobId", "HASH")]}
    assert indexes(tables["GenerationRun"]) == {}
    assert indexes(tables["RenderChunk"]) == {
        "byJob": [("jobId", "HASH"), ("createdAt", "RANGE")],
        "byStatus": [("status", "HASH"), ("createdAt", "RANGE")],
    }
    assert tables["Job"]["streamEnabled"] is True
    assert tables["Job"]["streamViewType"] == "NEW_AND_OLD_IMAGES"
    unstreamed = ("JobEvent", "RenderRun", "GenerationRun", "RenderChunk")
    assert not any(tables[k]["streamEnabled"] for k in unstreamed)


def test_api_from_the_schema_file_with_iam_cognito_and_api_key(created):
    api = created.one("aws:appsync/graphQLApi:GraphQLApi").inputs
    assert api["schema"] == SCHEMA_PATH.read_text()
    assert api["authenticationType"] == "AWS_IAM"
    extra = {p["authenticationType"]: p for p in api["additionalAuthenticationProviders"]}
    assert set(extra) == {"AMAZON_COGNITO_USER_POOLS", "API_KEY"}
    pool = created.one("aws:cognito/userPool:UserPool")
    assert (
        extra["AMAZON_COGNITO_USER_POOLS"]["userPoolConfig"]["userPoolId"]
        == created.outputs["userPoolId"]
        == f"{pool.inputs['name']}-id"
    )
    key = created.one("aws:appsync/apiKey:ApiKey").inputs
    assert key["apiId"] == f"{api['name']}-id"
    assert key["expires"] == created.config["babulus-render:jobsApiKeyExpires"]
    holder = created.one("aws:secretsmanager/secret:Secret", name="jobs-studio-key")
    version = created.one("aws:secretsmanager/secretVersion:SecretVersion", name="jobs-studio-key")
    assert version.inputs["secretId"] == f"{holder.inputs['name']}-id"
    assert created.outputs["studioApiKeySecretArn"].split(":")[-1].startswith(holder.inputs["name"])
    assert created.outputs["jobsApiEndpoint"].endswith("/graphql")


def test_one_direct_lambda_resolver_per_query_and_mutation_field(created):
    fields = root_fields(SCHEMA_PATH.read_text())
    assert {("Mutation", "createJob"), ("Mutation", "updateJob"), ("Query", "getJob")} <= set(
        fields
    )
    resolvers = created.of_type("aws:appsync/resolver:Resolver")
    assert sorted((r.inputs["type"], r.inputs["field"]) for r in resolvers) == sorted(fields)
    source = created.one("aws:appsync/dataSource:DataSource").inputs
    assert source["type"] == "AWS_LAMBDA"
    for resolver in resolvers:
        assert resolver.inputs["dataSource"] == source["name"]
        assert resolver.inputs["kind"] == "UNIT"
        assert "requestTemplate" not in resolver.inputs and "code" not in resolver.inputs
    function = created.one("aws:lambda/function:Function", "jobs-resolver")
    assert (
        source["lambdaConfig"]["functionArn"]
        == f"arn:aws:lambda:us-east-1:123456789012:function:{function.inputs['name']}"
    )
    invoke_role = next(
        r
        for r in created.of_type("aws:iam/role:Role")
        if source["serviceRoleArn"].endswith(f"role/{r.inputs['name']}")
    )
    assert statements(invoke_role)[0]["Principal"] == {"Service": "appsync.amazonaws.com"}
    (invoke,) = policy_of(created, invoke_role.inputs["name"])
    assert invoke["Action"] == ["lambda:InvokeFunction"]
    assert invoke["Resource"] == [source["lambdaConfig"]["functionArn"]]


def test_resolver_lambda_environment_and_table_access(created):
    function = created.one("aws:lambda/function:Function", "jobs-resolver").inputs
    assert function["handler"] == "handlers.jobs_resolver.handler"
    assert function["environment"]["variables"] == {
        "JOB_TABLE": "babulus-render-dev-Job",
        "JOB_EVENT_TABLE": "babulus-render-dev-JobEvent",
        "RENDER_RUN_TABLE": "babulus-render-dev-RenderRun",
        "GENERATION_RUN_TABLE": "babulus-render-dev-GenerationRun",
        "RENDER_CHUNK_TABLE": "babulus-render-dev-RenderChunk",
        "DEFAULT_MAX_RETRIES": created.config["babulus-render:maxRetries"],
        # The resolver's farm: exactly the worker task role and the dispatcher role.
        "FARM_ROLE_ARNS": "arn:aws:iam::123456789012:role/babulus-render-dev-task,"
        "arn:aws:iam::123456789012:role/babulus-render-dev-dispatcher",
        "RENDER_BUCKET": created.outputs["bucketName"],
    }
    role_names = {r.inputs["name"] for r in created.of_type("aws:iam/role:Role")}
    assert {"babulus-render-dev-task", "babulus-render-dev-dispatcher"} <= role_names
    data = policy_of(created, "babulus-render-dev-jobs-resolver")[0]
    assert "dynamodb:Scan" not in data["Action"]
    assert not any("Delete" in a for a in data["Action"])
    assert "dynamodb:Query" in data["Action"]
    assert len(data["Resource"]) == 9  # 5 tables and the indexes of the 4 that have one
    # It presigns links to renders, and may read nothing else of the bucket.
    presign = policy_of(created, "babulus-render-dev-jobs-resolver")[2]
    assert presign["Action"] == ["s3:GetObject"]
    assert [r.split(":::")[-1] for r in presign["Resource"]] == [
        created.outputs["bucketName"] + "/renders/*"
    ]


def test_the_api_key_acts_for_an_org_only_where_the_stack_binds_it():
    run = run_stack("dev", config_overrides={"jobsApiKeyOrg": "studio-one"})
    function = run.one("aws:lambda/function:Function", "jobs-resolver").inputs
    assert function["environment"]["variables"]["API_KEY_ORG_ID"] == "studio-one"


def test_farm_roles_call_the_created_api_with_iam(created):
    api_arn = "arn:aws:appsync:us-east-1:123456789012:apis/babulus-render-dev-jobs"
    for role in ("babulus-render-dev-task", "babulus-render-dev-dispatcher"):
        calls = [s for s in policy_of(created, role) if s["Action"] == ["appsync:GraphQL"]]
        assert [s["Resource"] for s in calls] == [[f"{api_arn}/types/*/fields/*"]]


def test_root_fields_follow_schema_definition_and_extensions():
    sdl = """
    type Q { a: Int  b(x: ID!): String }
    type M { c: Int }
    type Subscription { s: Int }
    extend type M { d: Int }
    schema { query: Q  mutation: M  subscription: Subscription }
    """
    assert root_fields(sdl) == [("Q", "a"), ("Q", "b"), ("M", "c"), ("M", "d")]


# --- attach ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["attached_iam", "attached_api_key", "attached_cognito"])
def test_attach_creates_no_api_tables_or_user_pool(mode, request):
    run = request.getfixturevalue(mode)
    assert not [r.type for r in run.resources if r.type.startswith(API_TYPES)]
    assert not [
        r for r in run.of_type("aws:lambda/function:Function") if r.name != "dispatcher-function"
    ]
    assert run.outputs["jobsApiEndpoint"] == ENDPOINT
    assert run.outputs["jobStreamArn"] == STREAM
    assert not {"studioApiKeySecretArn", "userPoolId", "userPoolClientId"} & set(run.outputs)
    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["eventSourceArn"] == STREAM
    assert dispatcher_env(run)["JOBS_API_URL"] == ENDPOINT
    env = {e["name"]: e["value"] for e in container(run)["environment"]}
    assert env["JOBS_API_URL"] == ENDPOINT
    stream_reads = [
        s for s in policy_of(run, "babulus-render-dispatcher") if s.get("Sid") == "ReadTheJobStream"
    ]
    assert [s["Resource"] for s in stream_reads] == [[STREAM]]


def test_attach_iam_grants_graphql_on_the_studio_api(attached_iam):
    run = attached_iam
    assert dispatcher_env(run)["JOBS_API_AUTH"] == "iam"
    for role in ("babulus-render-task", "babulus-render-dispatcher"):
        calls = [s for s in policy_of(run, role) if s["Action"] == ["appsync:GraphQL"]]
        assert [s["Resource"] for s in calls] == [[f"{API_ARN}/types/*/fields/*"]]
    # IAM needs no stored key and no password.
    assert not run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert container(run)["secrets"] == []


def test_attach_api_key_keeps_the_key_in_its_own_secret(attached_api_key):
    run = attached_api_key
    versions = {v.name: v for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    key_version = versions["jobs-api-key"]
    assert is_secret(key_version.inputs["secretString"])
    assert key_version.inputs["secretString"]["value"] == API_KEY
    key_secret = run.one("aws:secretsmanager/secret:Secret", "jobs-api-key")
    key_arn = dispatcher_env(run)["JOBS_API_KEY_SECRET_ARN"]
    assert key_arn.split(":")[-1].startswith(key_secret.inputs["name"])
    assert dispatcher_env(run)["JOBS_API_AUTH"] == "api_key"
    assert {"name": "JOBS_API_KEY", "valueFrom": key_arn} in container(run)["secrets"]
    env = {e["name"]: e["value"] for e in container(run)["environment"]}
    assert env["JOBS_API_AUTH"] == "api_key"
    for role in ("babulus-render-task-execution", "babulus-render-dispatcher"):
        reads = [s for s in policy_of(run, role) if s.get("Sid") == "ReadTheJobsApiKey"]
        assert [s["Resource"] for s in reads] == [[key_arn]]
    assert not any(
        s["Action"] == ["appsync:GraphQL"] for s in policy_of(run, "babulus-render-task")
    )
    for resource in run.resources:
        assert API_KEY not in json.dumps(
            {k: v for k, v in resource.inputs.items() if not is_secret(v)}, default=str
        ), resource.name


def test_attach_cognito_signs_in_as_the_studio_user_from_one_secret(attached_cognito):
    run = attached_cognito
    (version,) = run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert is_secret(version.inputs["secretString"])
    assert json.loads(version.inputs["secretString"]["value"]) == {
        "email": COGNITO["jobsApiWorkerEmail"],
        "password": WORKER_PASSWORD,
    }
    secret_arn = run.outputs["workerCredentialsSecretArn"]
    client_id = COGNITO["jobsApiCognitoClientId"]
    # Both callers of the API read the secret, and nothing else holds the password.
    assert container(run)["secrets"] == [{"name": "WORKER_CREDENTIALS", "valueFrom": secret_arn}]
    env = {e["name"]: e["value"] for e in container(run)["environment"]}
    assert env["JOBS_API_AUTH"] == "cognito" and env["COGNITO_CLIENT_ID"] == client_id
    assert dispatcher_env(run)["JOBS_API_AUTH"] == "cognito"
    assert dispatcher_env(run)["WORKER_CREDENTIALS_SECRET_ID"] == secret_arn
    assert dispatcher_env(run)["COGNITO_CLIENT_ID"] == client_id
    for role in ("babulus-render-task-execution", "babulus-render-dispatcher"):
        reads = [s for s in policy_of(run, role) if s.get("Sid") == "ReadTheWorkerCredentials"]
        assert [s["Resource"] for s in reads] == [[secret_arn]]
    assert not any(
        s["Action"] == ["appsync:GraphQL"] for s in policy_of(run, "babulus-render-task")
    )
    for resource in run.resources:
        assert WORKER_PASSWORD not in json.dumps(
            {k: v for k, v in resource.inputs.items() if not is_secret(v)}, default=str
        ), resource.name


def test_only_the_farm_roles_and_the_deployer_may_read_the_sign_in(attached_cognito):
    (deny,) = statements(attached_cognito.one("aws:secretsmanager/secretPolicy:SecretPolicy"))
    assert deny["Effect"] == "Deny" and deny["Action"] == "secretsmanager:GetSecretValue"
    # The deployer's role, not its STS session: aws:PrincipalArn of a session is its role.
    assert deny["Condition"] == {
        "StringNotEquals": {
            "aws:PrincipalArn": [
                "arn:aws:iam::123456789012:role/babulus-render-task-execution",
                "arn:aws:iam::123456789012:role/babulus-render-dispatcher",
                MOCK_DEPLOYER_ROLE,
            ]
        }
    }


def test_attach_cognito_needs_the_client_the_user_and_its_password():
    for missing in COGNITO:
        config = {**ATTACH, "jobsApiAuth": "cognito", **COGNITO, missing: None}
        with pytest.raises(Exception, match=missing):
            run_stack("prod", config_overrides=config)


def test_the_policy_pack_passes_the_cognito_attach_stack():
    from policies.check import check_stack

    config = {**ATTACH, "jobsApiAuth": "cognito", **COGNITO}
    assert check_stack("prod", config_overrides=config) == []
