"""``renderlib submit``: create a render job, as the studio does."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


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
    parser.add_argument(
        "--api",
        default=None,
        help="jobs API URL (default: $JOBS_API_URL or http://127.0.0.1:4000/graphql)",
    )
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from renderlib.errors import BadInputError
    from renderlib.jobs.submit import submit_generation_run, submit_input_file

    client = client_for(args.api)
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
        )
        print(
            f"generation run {submitted.generation_run.id} "
            f"({submitted.generation_run.artifact_prefix})"
        )
    else:
        submitted = submit_input_file(client, args.source, args.org, args.max_retries)
    print(f"job {submitted.job.id} {submitted.job.status}")
    return 0


def client_for(api_url: str | None):
    """A JobsClient configured from the environment, at ``api_url`` if given."""
    from renderlib.jobs.client import JobsClient

    env = dict(os.environ)
    if api_url:
        env["JOBS_API_URL"] = api_url
    return JobsClient.from_env(env)
