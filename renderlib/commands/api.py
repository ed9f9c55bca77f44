"""``renderlib api serve``: the local jobs API (GraphQL over SQLite); ``renderlib api key``:
an org's key to it."""

from __future__ import annotations

import argparse
from pathlib import Path

from renderlib.errors import ConfigError
from renderlib.jobs.api_keys import KEYS_FILE, ApiKeys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("api", help="run the local jobs API, or hand out its keys")
    actions = parser.add_subparsers(dest="action", required=True)
    serve = actions.add_parser(
        "serve", help="serve the jobs GraphQL API over a SQLite file at http://HOST:PORT/graphql"
    )
    serve.add_argument("--db", type=Path, required=True, help="SQLite file (created if missing)")
    serve.add_argument("--port", type=int, default=4000, help="port (default 4000; 0: any)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--keys",
        type=Path,
        default=None,
        help=f"the API keys file, created if missing (default: {KEYS_FILE} beside --db)",
    )
    serve.add_argument(
        "--org",
        action="append",
        default=[],
        metavar="ORG",
        help="give this org a key if it has none (repeatable)",
    )
    serve.add_argument(
        "--storage",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="the farm's storage folder, whose renders the page plays (default: storage/ "
        "beside --db, if it exists)",
    )
    serve.set_defaults(func=serve_command)

    key = actions.add_parser("key", help="print an org's key to the local API (made if missing)")
    key.add_argument("org", metavar="ORG")
    key.add_argument(
        "--keys",
        type=Path,
        default=Path("renderfarm") / KEYS_FILE,
        help=f"the API keys file (default: renderfarm/{KEYS_FILE}, as renderlib farm up makes)",
    )
    key.set_defaults(func=key_command)


def serve_command(args: argparse.Namespace) -> int:
    from renderlib.jobs.server import GRAPHQL_PATH, create_server

    keys = ApiKeys.create(args.keys or args.db.parent / KEYS_FILE, args.org)
    storage = args.storage
    if storage is None and (args.db.parent / "storage").is_dir():
        storage = args.db.parent / "storage"
    if storage is not None and not storage.is_dir():
        raise ConfigError(f"--storage {storage} is not a folder")
    server = create_server(args.db, keys, args.port, args.host, access_log=True, storage=storage)
    origin = f"http://{args.host}:{server.server_port}"
    print(f"jobs API at {origin}{GRAPHQL_PATH} (database {args.db})", flush=True)
    print(f"API keys in {keys.path}: {describe_keys(keys)}", flush=True)
    if storage is None:
        print("no storage folder: the page shows renders without their video", flush=True)
    print_page_links(f"{origin}/", keys)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def key_command(args: argparse.Namespace) -> int:
    if not args.keys.exists():
        raise ConfigError(f"{args.keys} does not exist: renderlib farm up or api serve makes it")
    print(ApiKeys(args.keys).add_org(args.org))
    return 0


def print_page_links(page_url: str, keys: ApiKeys) -> None:
    """The farm page, signed in as each org: the key rides in the URL's fragment, which
    the browser never sends to the server (and the page drops from its address bar)."""
    for org, key in sorted(keys.orgs().items()):
        print(f"farm page for org {org}: {page_url}#key={key}", flush=True)
    if not keys.orgs():
        print(f"farm page: {page_url} (paste an org key from {keys.path})", flush=True)


def describe_keys(keys: ApiKeys) -> str:
    orgs = ", ".join(sorted(keys.orgs())) or "none yet"
    return f"the farm's, and one for each org ({orgs}; renderlib api key ORG adds one)"
