"""``renderlib submit``: create a render job, as the studio does."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from renderlib.jobs.api_keys import KEYS_FILE

# Where `renderlib farm up` keeps its keys by default.
DEFAULT_KEYS = Path("renderfarm") / KEYS_FILE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "submit", help="create a render job from a generation run folder or an input JSON file"
    )
    parser.add_argument(
        "source",
        type=Path,
        metavar="RUN_OR_INPUT",
        help="generation run folder, or a JSON file holding the job's input",
    )
    parser.add_argument("--org", required=True, help="organisation id of the job")
    add_api_arguments(parser)
    parser.add_argument(
        "--storage",
        default=os.environ.get("RENDERLIB_STORAGE"),
        help="where a run folder's files are copied for the workers: a local "
        "folder or s3://BUCKET[/PREFIX] (default: $RENDERLIB_STORAGE)",
    )
    parser.add_argument(
        "--video-id",
        default=None,
        help="video id (default: script.json's videoId, else the folder name)",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help="retries after transient failures (default: the API's, 3)",
    )
    parser.add_argument(
        "--chunks",
        type=int,
        default=None,
        help="split the render into this many chunks, each its own task (default: the "
        "farm's, which splits long videos only)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from renderlib.errors import BadInputError
    from renderlib.jobs.submit import submit_generation_run, submit_input_file

    client = client_for(args.api, args.keys, org=args.org)
    if args.source.is_dir():
        if not args.storage:
            raise BadInputError(
                "submitting a generation run folder needs --storage (a folder or "
                "s3://BUCKET[/PREFIX]) so the workers can read its files"
            )
        submitted = submit_generation_run(
            client,
            args.source,
            args.org,
            args.storage,
            video_id=args.video_id,
            max_retries=args.max_retries,
            chunks=args.chunks,
        )
        print(
            f"generation run {submitted.generation_run.id} "
            f"({submitted.generation_run.artifact_prefix})"
        )
    else:
        submitted = submit_input_file(client, args.source, args.org, args.max_retries)
    print(f"job {submitted.job.id} {submitted.job.status}")
    return 0


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    """--api and --keys: where the jobs API is, and the local farm's keys to it."""
    parser.add_argument(
        "--api",
        default=None,
        help="jobs API URL (default: $JOBS_API_URL or http://127.0.0.1:4000/graphql)",
    )
    parser.add_argument(
        "--keys",
        type=Path,
        default=None,
        help=f"the local API's keys file (default: $RENDERLIB_API_KEYS, else {DEFAULT_KEYS} "
        "if it exists); unused when $JOBS_API_AUTH is set",
    )


def client_for(api_url: str | None, keys_file: Path | None = None, *, org: str | None = None):
    """A JobsClient at ``api_url`` (default $JOBS_API_URL). With $JOBS_API_AUTH set, it
    authenticates as the environment says (JobsClient.from_env); else with a key from the
    local API's keys file: ``org``'s key, or the farm's (which sees every org's jobs)."""
    from renderlib.jobs.api_keys import ApiKeys
    from renderlib.jobs.auth import ApiKeyAuth
    from renderlib.jobs.client import DEFAULT_API_URL, JobsClient

    env = dict(os.environ)
    if api_url:
        env["JOBS_API_URL"] = api_url
    if env.get("JOBS_API_AUTH"):
        return JobsClient.from_env(env)
    path = keys_file or (Path(env["RENDERLIB_API_KEYS"]) if env.get("RENDERLIB_API_KEYS") else None)
    if path is None and DEFAULT_KEYS.exists():
        path = DEFAULT_KEYS
    url = env.get("JOBS_API_URL") or DEFAULT_API_URL
    if path is None:
        return JobsClient(url)  # the API will say which key it wants
    keys = ApiKeys(path)
    return JobsClient(url, ApiKeyAuth(keys.org_key(org) if org else keys.farm_key()))
