"""Fixtures every test folder shares: AWS is a moto server on 127.0.0.1, nothing else."""

import pytest

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
def api(db_path):
    """The local jobs API on a fresh SQLite file, over real HTTP on 127.0.0.1."""
    with start_server(db_path) as server:
        yield server


@pytest.fixture
def client(api) -> JobsClient:
    return JobsClient(api.url, retries=1, backoff_seconds=0.01)
