"""The farm's JSON log lines and EMF metrics."""

from __future__ import annotations

import io
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from renderlib.farm import logs


@pytest.fixture
def stream(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # restored after the test
    monkeypatch.setattr(root, "level", root.level)
    out = io.StringIO()
    logs.configure_logging({"jobId": "j-1", "attempt": 2}, "INFO", out)
    logs.cluster_name.cache_clear()
    yield out
    logs.cluster_name.cache_clear()


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_logger_writes_json_with_the_job(stream):
    logging.getLogger("botocore.anything").warning("throttled %d times", 3)
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("renderlib.x").exception("it broke", extra={"fields": {"videoId": "v"}})
    first, second = lines(stream)
    assert first["message"] == "throttled 3 times" and first["level"] == "WARNING"
    assert first["jobId"] == "j-1" and first["attempt"] == 2 and first["time"].endswith("+00:00")
    assert second["videoId"] == "v" and "ValueError: bad" in second["exception"]


def test_metric_lines_are_embedded_metric_format(stream, monkeypatch):
    monkeypatch.setenv("ECS_CLUSTER", "babulus-render-cluster")
    logs.emit_metric(logging.getLogger("w"), "RendersFailed")
    (line,) = lines(stream)
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive == {
        "Namespace": "BabulusRender",
        "Dimensions": [["Cluster"]],
        "Metrics": [{"Name": "RendersFailed", "Unit": "Count"}],
    }
    assert line["Cluster"] == "babulus-render-cluster" and line["RendersFailed"] == 1
    assert line["jobId"] == "j-1" and isinstance(line["_aws"]["Timestamp"], int)


def test_cluster_from_the_ecs_task_metadata_endpoint(stream, monkeypatch):
    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self):
            assert self.path == "/v4/abc/task"
            body = json.dumps({"Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod-farm"})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("ECS_CLUSTER", raising=False)
        monkeypatch.setenv(
            "ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{server.server_port}/v4/abc"
        )
        assert logs.cluster_name() == "prod-farm"
    finally:
        server.shutdown()
        server.server_close()


def test_cluster_is_local_without_ecs(stream, monkeypatch):
    monkeypatch.delenv("ECS_CLUSTER", raising=False)
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    assert logs.cluster_name() == "local"
