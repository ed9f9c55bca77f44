"""``renderlib farm up``: the local render farm (jobs API, dispatcher, worker processes)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("farm", help="run the render farm on this machine")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser(
        "up",
        help="start the local jobs API, the dispatcher and worker processes (Ctrl-C stops)",
    )
    up.add_argument(
        "--max-concurrent",
        type=int,
        default=2,
        metavar="K",
        help="jobs rendering at once, one worker process each (default: 2)",
    )
    up.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="browsers per job (default: what each worker's CPU count allows)",
    )
    up.add_argument(
        "--dir",
        type=Path,
        default=Path("renderfarm"),
        metavar="FOLDER",
        help="the farm's folder: jobs.db, api-keys.json, storage/ (stands in for S3), "
        "logs/ (default: ./renderfarm)",
    )
    up.add_argument("--port", type=int, default=4000, help="jobs API port (default: 4000)")
    up.add_argument(
        "--org",
        action="append",
        default=None,
        metavar="ORG",
        help="give this org a key to the jobs API if it has none (repeatable; default: demo)",
    )
    up.add_argument(
        "--sweep-seconds",
        type=float,
        default=15.0,
        help="how often the sweep reaps lost jobs (default: 15)",
    )
    up.set_defaults(func=farm_up)


def farm_up(args: argparse.Namespace) -> int:
    import signal
    import threading

    from renderlib.commands.api import describe_keys, print_page_links
    from renderlib.errors import ConfigError
    from renderlib.farm.local import FarmConfig, LocalFarm
    from renderlib.farm.logs import configure_logging

    if args.max_concurrent < 1 or (args.workers is not None and args.workers < 1):
        raise ConfigError("--max-concurrent and --workers must be at least 1")
    config = FarmConfig(
        folder=args.dir,
        max_concurrent=args.max_concurrent,
        port=args.port,
        render_workers=args.workers,
        sweep_interval=args.sweep_seconds,
        orgs=tuple(args.org or ("demo",)),
    )
    # Ctrl-C, and SIGTERM from a process manager, stop the farm cleanly (even where the
    # shell started us with SIGINT ignored, as it does background jobs).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    farm = LocalFarm(config)
    try:
        farm.start()
    except OSError as exc:
        farm.stop()
        raise ConfigError(f"cannot start the jobs API on port {args.port}: {exc}") from None
    keys = farm.keys.path
    # Everything after start is inside the try: a Ctrl-C as early as the first line printed
    # (a watcher may send it as soon as it reads them) still stops the farm's threads.
    try:
        print(f"jobs API at {farm.url}", flush=True)
        print(f"farm folder {farm.folder} (storage: {farm.storage})", flush=True)
        print(
            f"submit with: renderlib submit RUN_FOLDER --org ORG --api {farm.url} "
            f"--storage {farm.storage} --keys {keys}",
            flush=True,
        )
        print(f"watch with:  renderlib jobs --api {farm.url} --keys {keys}", flush=True)
        print(f"API keys in {keys}: {describe_keys(farm.keys)}", flush=True)
        for org, key in sorted(farm.keys.orgs().items()):
            print(f"  org {org}: x-api-key {key}", flush=True)
        print_page_links(farm.page_url, farm.keys)
        print("Ctrl-C stops the farm (running jobs are put back in the queue)", flush=True)
        configure_logging({"agent": "local-farm"})
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping: workers requeue their jobs...", flush=True)
    finally:
        farm.stop()
    return 0
