"""Fixtures for the jobs API: a local server on a temporary SQLite file, and DynamoDB
on a moto server started here on 127.0.0.1 (dummy credentials, us-east-1)."""

from __future__ import annotations

import json
import threading

import pytest

from renderlib.jobs.client import JobsClient
from renderlib.jobs.models import ENTITIES
from renderlib.jobs.server import start_server
from tests.conftest import REGION

TABLES = {
    "Job": "test-Job",
    "JobEvent": "test-JobEvent",
    "RenderRun": "test-RenderRun",
    "GenerationRun": "test-GenerationRun",
}


@pytest.fixture
def dynamodb(aws_env):
    """A DynamoDB resource with the four tables laid out as infra/jobs_api.py makes them."""
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
def any_client(request, tmp_path):
    """A JobsClient over HTTP against the local server, backed by SQLite or by DynamoDB."""
    if request.param == "sqlite":
        db = tmp_path / "jobs.db"
    else:
        db = request.getfixturevalue("dynamo_store")
    with start_server(db) as server:
        yield JobsClient(server.url, retries=1, backoff_seconds=0.01)


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
