"""pytest plugin (``-p tests.iam.recorder``): records the AWS calls the farm's own code
makes while the end-to-end tests run, for the IAM authorization test to judge.

Every botocore client gets a ``provide-client-params`` hook (it fires for real calls,
moto-served or Stubber-answered alike), and every jobs API call is recorded by its root
fields (AppSync authorizes ``appsync:GraphQL`` per type and field). A call is the farm's
when the outermost frame of the repository's code on its stack (its module, or its
module and function) belongs to one of the farm's roles (``CALLERS``); calls test code
makes itself (creating buckets, tables and clusters) have no such frame and are left out;
calls tests make through a library they drive directly (``LIBRARIES``: the jobs client,
the storage classes) are setup or checks, not a role's; the studio's own calls
(submitting) are recorded as the studio's, which no farm role answers for. A call from
repository code these tables do not place fails the IAM test, so no new caller goes
unjudged.

The calls go, one JSON object a line, to the file named by IAM_CALLS_FILE.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CALLERS = {
    "handlers/worker.py": "task",
    "renderlib/farm/worker.py": "task",
    "renderlib/farm/heartbeat.py": "task",
    "renderlib/farm/chunk_worker.py": "task",
    # The worker's uploads (in parts, aborted on failure), driven by the storage tests.
    "renderlib/farm/storage.py::S3Storage.upload": "task",
    "handlers/trigger.py": "dispatcher",
    "renderlib/farm/dispatcher.py": "dispatcher",
    "renderlib/farm/launcher.py": "dispatcher",
    "handlers/jobs_resolver.py": "resolver",
    "renderlib/jobs/lambda_resolver.py": "resolver",
    "renderlib/jobs/dynamo_store.py": "resolver",
    "renderlib/jobs/server.py": "resolver",  # the local API over DynamoDB: the resolver's code
    "renderlib/jobs/submit.py": "studio",
}
# Library code tests drive directly, playing a caller (setup): not a role's call.
LIBRARIES = (
    "renderlib/jobs/client.py",
    "renderlib/jobs/chunk_client.py",
    "renderlib/farm/storage.py",
)
_calls: list[dict[str, Any]] = []
_current_test: list[str] = [""]


def _caller() -> str | None:
    """The repository module of the outermost repository frame, or None (test code).
    A thread counts the frames of whoever started it as its own outer frames (the
    worker's heartbeat thread, boto3's transfer threads)."""
    inherited = getattr(threading.current_thread(), "_iam_caller", None)
    if inherited is not None:
        return inherited
    frame = sys._getframe(1)
    outermost = None
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(ROOT) and path.parts[len(ROOT.parts)] in ("renderlib", "handlers"):
            outermost = f"{path.relative_to(ROOT).as_posix()}::{frame.f_code.co_qualname}"
        frame = frame.f_back
    return outermost


def _role(caller: str) -> str | None:
    """The role of a ``module::function`` caller: by function, else by module."""
    return CALLERS.get(caller) or CALLERS.get(caller.split("::")[0])


def _plain(value: Any) -> Any:
    """The JSON-able part of API parameters (bodies and streams left out)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if _plain(v) is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool):
        return value
    return None


def _record(service: str, operation: str, params: dict) -> None:
    caller = _caller()
    if caller is not None:
        _calls.append(
            {
                "module": caller.split("::")[0],
                "function": caller.split("::")[1],
                "caller": _role(caller),
                "service": service,
                "operation": operation,
                "params": _plain(params),
                "test": _current_test[0],
            }
        )


def _on_params(params: dict, model: Any, **_kwargs: Any) -> None:
    _record(model.service_model.signing_name, model.name, params)


def _install() -> None:
    import botocore.session
    import graphql

    from renderlib.jobs import client as jobs_client

    create_client = botocore.session.Session.create_client

    def recording_create_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("provide-client-params.*.*", _on_params)
        return client

    botocore.session.Session.create_client = recording_create_client

    start = threading.Thread.start

    def inheriting_start(self):
        self._iam_caller = _caller()
        return start(self)

    threading.Thread.start = inheriting_start

    call = jobs_client.JobsClient._call

    def recording_call(self, document: str, variables: dict):
        parsed = graphql.parse(document)
        for definition in parsed.definitions:
            if isinstance(definition, graphql.OperationDefinitionNode):
                type_name = definition.operation.value.capitalize()  # Query, Mutation
                fields = [s.name.value for s in definition.selection_set.selections]
                _record("appsync", "GraphQL", {"type": type_name, "fields": fields})
        return call(self, document, variables)

    jobs_client.JobsClient._call = recording_call


def pytest_configure(config) -> None:
    _install()


def pytest_runtest_setup(item) -> None:
    _current_test[0] = item.nodeid


def pytest_unconfigure(config) -> None:
    target = os.environ.get("IAM_CALLS_FILE")
    if target:
        Path(target).write_text("".join(json.dumps(c) + "\n" for c in _calls))
