"""Fixtures every test folder shares: AWS is a moto server on 127.0.0.1, nothing else;
the local jobs API over real HTTP, with a keys file naming the farm and each org."""

import pytest

from renderlib.jobs.api_keys import ApiKeys
from renderlib.jobs.auth import ApiKeyAuth
from renderlib.jobs.client import JobsClient
from renderlib.jobs.server import start_server

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """A moto server started here on 127.0.0.1 (real HTTP), for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, moto_endpoint) -> str:
    """AWS variables pointing boto3 at the moto server (also inherited by subprocesses)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    return moto_endpoint


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "jobs.db"


@pytest.fixture
def api_keys(tmp_path) -> ApiKeys:
    """The local API's keys file: the farm's key (orgs get theirs from ``studio``)."""
    return ApiKeys.create(tmp_path / "api-keys.json")


@pytest.fixture
def api(db_path, api_keys):
    """The local jobs API on a fresh SQLite file, over real HTTP on 127.0.0.1."""
    with start_server(db_path, api_keys) as server:
        yield server


def farm_client(url: str, keys: ApiKeys) -> JobsClient:
    return JobsClient(url, ApiKeyAuth(keys.farm_key()), retries=1, backoff_seconds=0.01)


def studio_client(url: str, keys: ApiKeys, org: str) -> JobsClient:
    return JobsClient(url, ApiKeyAuth(keys.add_org(org)), retries=1, backoff_seconds=0.01)


@pytest.fixture
def client(api, api_keys) -> JobsClient:
    """The farm's client (dispatcher and workers): claims, runs and reports jobs."""
    return farm_client(api.url, api_keys)


@pytest.fixture
def studio(api, api_keys):
    """``studio(org)``: a studio's client, acting for ``org`` only."""
    return lambda org: studio_client(api.url, api_keys, org)
