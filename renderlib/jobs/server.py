"""The local jobs API: the schema-first GraphQL server over SQLite.

Ariadne executes schema.graphql with the AppSync scalars and the shared JobsService;
a threaded Werkzeug server answers at ``http://HOST:PORT/graphql``, on loopback unless
told otherwise. Every request names its caller with an ``x-api-key`` header holding a
key from the farm folder's api-keys.json (renderlib/jobs/api_keys.py); a request without
a known key is refused with HTTP 401, as AppSync refuses one. Errors carry an
AppSync-style ``errorType`` and come back with HTTP 200, as AppSync answers them.

Beside ``/graphql`` the same origin serves the farm page at ``/`` and, given the farm's
storage folder, the render files the API links to (renderlib/jobs/file_server.py).

In-process (tests, the local farm)::

    keys = ApiKeys.create("farm/api-keys.json", orgs=["demo"])
    with start_server("farm/jobs.db", keys) as server:   # port 0: a free port
        client = JobsClient(server.url, ApiKeyAuth(keys.org_key("demo")))
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ariadne import MutationType, QueryType, ScalarType, make_executable_schema
from ariadne.wsgi import GraphQL
from graphql import GraphQLError, GraphQLSchema
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from renderlib.jobs.api_errors import ApiError, UnauthorizedException
from renderlib.jobs.api_keys import ApiKeys
from renderlib.jobs.fields import MAX_INPUT_JSON_BYTES
from renderlib.jobs.file_server import files_app, is_file_path, is_page_path, page_app
from renderlib.jobs.media_links import LocalLinks
from renderlib.jobs.service import JobsService
from renderlib.jobs.sqlite_store import SqliteStore
from renderlib.jobs.store import Store

GRAPHQL_PATH = "/graphql"
# A request may carry one inputJson at its limit, escaped as a JSON string (up to 2x).
MAX_REQUEST_BYTES = 4 * MAX_INPUT_JSON_BYTES
CALLER = "renderlib.caller"
log = logging.getLogger(__name__)
# Ariadne logs every GraphQL error; expected ones (conditions, validation) are answers,
# not faults, and format_error logs the unexpected ones.
_ARIADNE_LOGGER = "renderlib.jobs.server.ariadne"
logging.getLogger(_ARIADNE_LOGGER).addHandler(logging.NullHandler())
logging.getLogger(_ARIADNE_LOGGER).propagate = False


def schema_sdl() -> str:
    """The contract: schema.graphql exactly as AppSync is given it."""
    return resources.files("renderlib.jobs").joinpath("schema.graphql").read_text()


def build_schema(service: JobsService) -> GraphQLSchema:
    prelude = resources.files("renderlib.jobs").joinpath("appsync_prelude.graphql").read_text()
    query, mutation = QueryType(), MutationType()
    for parent_type, field_name in service.fields:
        bindable = query if parent_type == "Query" else mutation
        bindable.set_field(field_name, _resolver(service, parent_type, field_name))
    return make_executable_schema([prelude, schema_sdl()], query, mutation, *_scalars())


def _resolver(service: JobsService, parent_type: str, field_name: str):
    def resolve(_obj: Any, info: Any, **arguments: Any) -> Any:
        return service.resolve(parent_type, field_name, arguments, info.context[CALLER])

    return resolve


def _scalars() -> list[ScalarType]:
    aws_json = ScalarType("AWSJSON")

    @aws_json.serializer
    def serialize_json(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    @aws_json.value_parser
    def parse_json(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("AWSJSON must be a JSON document given as a string")
        try:
            json.loads(value)
        except ValueError as exc:
            raise ValueError(f"AWSJSON must be valid JSON: {exc}") from None
        return value

    aws_datetime = ScalarType("AWSDateTime")

    @aws_datetime.value_parser
    def parse_datetime(value: Any) -> str:
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValueError(
                f"AWSDateTime must be ISO 8601 with a zone, like 2026-01-31T12:00:00.000Z; "
                f"got {value!r}"
            )
        return value

    return [aws_json, aws_datetime]


def format_error(error: GraphQLError, debug: bool = False) -> dict:
    """An error as AppSync shapes it: message, errorType, path, locations."""
    formatted = error.formatted
    original = error.original_error
    if isinstance(original, ApiError):
        error_type = original.error_type
    elif error.path is None:
        error_type = "ValidationError"  # parse, validation or variable errors
    else:
        log.exception("jobs API resolver failed", exc_info=original)
        error_type = "InternalFailure"
    return {
        "message": formatted["message"],
        "errorType": error_type,
        "path": formatted.get("path"),
        "locations": formatted.get("locations"),
        "data": None,
        "errorInfo": None,
    }


class _JobsGraphQL(GraphQL):
    def return_response_from_result(self, start_response, result) -> list[bytes]:
        _success, response = result
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(response).encode("utf-8")]


def make_app(db: str | Path | Store, keys: ApiKeys, storage: Path | None = None):
    """The WSGI application: POST /graphql, the caller named by its ``x-api-key``; the
    page at /; the files of the storage folder ``storage`` that the API links to.

    ``db`` is the SQLite file, or any Store (tests serve the DynamoDB store this way).
    """
    store = db if isinstance(db, Store) else SqliteStore(db)
    links = LocalLinks()
    serve_file = files_app(storage, links)
    graphql_app = _JobsGraphQL(
        build_schema(JobsService(store, links=links if storage is not None else None)),
        context_value=lambda environ, _data: {CALLER: environ[CALLER]},
        error_formatter=format_error,
        logger=_ARIADNE_LOGGER,
    )

    def app(environ: dict, start_response):
        path = environ.get("PATH_INFO") or "/"
        if is_page_path(path):
            return page_app(environ, start_response)
        if is_file_path(path):
            return serve_file(environ, start_response)
        if path.rstrip("/") != GRAPHQL_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"the jobs API answers at {GRAPHQL_PATH}\n".encode()]
        try:
            caller = keys.caller(environ.get("HTTP_X_API_KEY"))
        except UnauthorizedException as refused:  # a key file naming a bad org
            return _refuse(start_response, "401 Unauthorized", refused.error_type, str(refused))
        if caller is None:
            return _refuse(
                start_response,
                "401 Unauthorized",
                "UnauthorizedException",
                "You are not authorized to make this call: send an x-api-key header with a "
                f"key from {keys.path} (renderlib farm up and renderlib api serve print it)",
            )
        size = int(environ.get("CONTENT_LENGTH") or 0)
        if size > MAX_REQUEST_BYTES:
            return _refuse(
                start_response,
                "413 Request Entity Too Large",
                "ValidationError",
                f"the request is {size} bytes; the jobs API takes at most {MAX_REQUEST_BYTES} "
                f"(an inputJson at most {MAX_INPUT_JSON_BYTES})",
            )
        environ[CALLER] = caller
        return graphql_app(environ, start_response)

    return app


def _refuse(start_response, status: str, error_type: str, message: str) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json")])
    body = {"errors": [{"errorType": error_type, "message": message}]}
    return [json.dumps(body).encode()]


@dataclass
class RunningServer:
    """A jobs API server running in a background thread of this process."""

    url: str
    port: int
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *_args: Any) -> None:
        pass


class _AccessLogHandler(WSGIRequestHandler):
    """The access log without query strings: a file link's signature is a credential."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s %s" %s %s', self.command, path, self.request_version, code, size)


def create_server(
    db: str | Path | Store,
    keys: ApiKeys,
    port: int = 0,
    host: str = "127.0.0.1",
    access_log: bool = False,
    storage: Path | None = None,
) -> BaseWSGIServer:
    """A threaded HTTP server for the jobs API (one thread per request); not yet serving."""
    server = make_server(
        host,
        port,
        make_app(db, keys, storage),
        threaded=True,
        request_handler=_AccessLogHandler if access_log else _QuietHandler,
    )
    server.daemon_threads = True
    return server


def start_server(
    db: str | Path | Store,
    keys: ApiKeys,
    port: int = 0,
    host: str = "127.0.0.1",
    storage: Path | None = None,
) -> RunningServer:
    """Serve the jobs API over ``db`` (a SQLite file or a Store) to the callers ``keys``
    names, in a background thread, with links to the files of the storage folder
    ``storage`` (if given); port 0 picks a free port."""
    server = create_server(db, keys, port, host, storage=storage)
    thread = threading.Thread(target=server.serve_forever, name="jobs-api", daemon=True)
    thread.start()
    url = f"http://{host}:{server.server_port}{GRAPHQL_PATH}"
    return RunningServer(url=url, port=server.server_port, _server=server, _thread=thread)
