"""Fixtures for the jobs API: a local server on a temporary SQLite file, and DynamoDB
on a moto server started here on 127.0.0.1 (dummy credentials, us-east-1)."""

from __future__ import annotations

import json
import threading

import pytest

from handlers import jobs_resolver
from renderlib.jobs.client import JobsClient
from renderlib.jobs.models import ENTITIES
from renderlib.jobs.server import start_server
from tests.conftest import REGION, farm_client, studio_client

FARM_ROLE = "arn:aws:iam::123456789012:role/babulus-render-dispatcher"

TABLES = {
    "Job": "test-Job",
    "JobEvent": "test-JobEvent",
    "RenderRun": "test-RenderRun",
    "GenerationRun": "test-GenerationRun",
    "RenderChunk": "test-RenderChunk",
}


@pytest.fixture
def dynamodb(aws_env):
    """A DynamoDB resource with the tables laid out as infra/jobs_api.py makes them."""
    import boto3

    resource = boto3.resource("dynamodb", endpoint_url=aws_env, region_name=REGION)
    for entity, table_name in TABLES.items():
        attributes = {"id"}
        indexes = []
        for name, hash_key, range_key in (
            (i.name, i.hash_key, i.range_key) for i in ENTITIES[entity].indexes.values()
        ):
            schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            attributes.add(hash_key)
            if range_key:
                schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
                attributes.add(range_key)
            indexes.append(
                {"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}
            )
        arguments = {
            "TableName": table_name,
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if indexes:
            arguments["GlobalSecondaryIndexes"] = indexes
        resource.create_table(**arguments)
    yield resource
    for table_name in TABLES.values():
        resource.Table(table_name).delete()


@pytest.fixture
def table_names():
    return dict(TABLES)


@pytest.fixture
def dynamo_store(dynamodb):
    from renderlib.jobs.dynamo_store import DynamoStore

    return DynamoStore(TABLES, resource=dynamodb)


@pytest.fixture(params=["sqlite", "dynamodb"])
def any_api(request, tmp_path, api_keys):
    """The local server over HTTP, backed by SQLite or by DynamoDB."""
    if request.param == "sqlite":
        db = tmp_path / "jobs.db"
    else:
        db = request.getfixturevalue("dynamo_store")
    with start_server(db, api_keys) as server:
        yield server


@pytest.fixture
def any_client(any_api, api_keys) -> JobsClient:
    """The farm's client of ``any_api``."""
    return farm_client(any_api.url, api_keys)


@pytest.fixture
def any_studio(any_api, api_keys):
    """``any_studio(org)``: a studio's client of ``any_api``, acting for ``org``."""
    return lambda org: studio_client(any_api.url, api_keys, org)


def appsync_event(parent_type: str, field_name: str, identity, arguments, headers=None) -> dict:
    """A direct Lambda resolver event as AppSync sends it."""
    return {
        "arguments": arguments,
        "identity": identity,
        "request": {"headers": headers or {}, "domainName": None},
        "info": {
            "parentTypeName": parent_type,
            "fieldName": field_name,
            "selectionSetList": ["id"],
            "variables": {},
        },
        "source": None,
        "prev": None,
        "stash": {},
    }


@pytest.fixture
def resolver_env(dynamodb, table_names, monkeypatch):
    monkeypatch.setenv("JOB_TABLE", table_names["Job"])
    monkeypatch.setenv("JOB_EVENT_TABLE", table_names["JobEvent"])
    monkeypatch.setenv("RENDER_RUN_TABLE", table_names["RenderRun"])
    monkeypatch.setenv("GENERATION_RUN_TABLE", table_names["GenerationRun"])
    monkeypatch.setenv("RENDER_CHUNK_TABLE", table_names["RenderChunk"])
    monkeypatch.setenv("FARM_ROLE_ARNS", FARM_ROLE)
    jobs_resolver._dependencies.cache_clear()
    yield monkeypatch
    jobs_resolver._dependencies.cache_clear()


class ScriptedApi:
    """An HTTP endpoint on 127.0.0.1 that records requests and answers from a script:
    ``respond(request) -> (status, body dict)``; by default forwards to ``upstream``."""

    def __init__(self, respond):
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        self.requests: list[dict] = []
        self.respond = respond

        @Request.application
        def app(request):
            body = request.get_data()
            recorded = {
                "method": request.method,
                "url": request.url,
                "headers": dict(request.headers),
                "body": body,
            }
            self.requests.append(recorded)
            status, answer = self.respond(recorded)
            return Response(json.dumps(answer), status=status, mimetype="application/json")

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/graphql"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted_api():
    started = []

    def start(respond):
        api = ScriptedApi(respond)
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()
