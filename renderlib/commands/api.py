"""``renderlib api serve``: the local jobs API (GraphQL over SQLite)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("api", help="run the local jobs API")
    actions = parser.add_subparsers(dest="action", required=True)
    serve = actions.add_parser(
        "serve", help="serve the jobs GraphQL API over a SQLite file at http://HOST:PORT/graphql"
    )
    serve.add_argument("--db", type=Path, required=True, help="SQLite file (created if missing)")
    serve.add_argument("--port", type=int, default=4000, help="port (default 4000; 0: any)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--api-key", default=None, help="require this x-api-key header, as an AppSync API key would"
    )
    serve.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    from renderlib.jobs.server import GRAPHQL_PATH, create_server

    server = create_server(args.db, args.port, args.host, args.api_key, access_log=True)
    print(
        f"jobs API at http://{args.host}:{server.server_port}{GRAPHQL_PATH} (database {args.db})",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
