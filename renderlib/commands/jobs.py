"""``renderlib jobs``: list jobs by status; ``renderlib jobs show ID``: one job and its events."""

from __future__ import annotations

import argparse
from pathlib import Path

from renderlib.commands.submit import add_api_arguments, client_for
from renderlib.jobs.status import JobStatus


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("jobs", help="list render jobs, or show one with its events")
    parser.add_argument(
        "--status",
        choices=[s.value for s in JobStatus],
        default=None,
        help="only jobs in this status (default: every status)",
    )
    parser.add_argument("--limit", type=int, default=50, help="at most this many per status")
    parser.add_argument(
        "--org",
        default=None,
        help="act as this org's studio (its jobs only); default: the local farm's key, "
        "which sees every org's jobs",
    )
    add_api_arguments(parser)
    parser.set_defaults(func=list_jobs)
    actions = parser.add_subparsers(dest="action")
    show = actions.add_parser("show", help="one job, with its events")
    show.add_argument("job_id", metavar="ID")
    show.add_argument("--api", default=argparse.SUPPRESS, help="jobs API URL")
    show.add_argument("--keys", default=argparse.SUPPRESS, type=Path, help="API keys file")
    show.add_argument("--org", default=argparse.SUPPRESS, help="act as this org's studio")
    show.set_defaults(func=show_job)


def list_jobs(args: argparse.Namespace) -> int:
    client = client_for(args.api, args.keys, org=args.org)
    statuses = [JobStatus(args.status)] if args.status else list(JobStatus)
    print(f"{'ID':36}  {'STATUS':9}  {'PROGRESS':>8}  {'RETRIES':>7}  {'ORG':16}  CREATED")
    for status in statuses:
        for job in client.list_jobs(status, limit=args.limit, oldest_first=False).items:
            progress = "" if job.progress is None else f"{job.progress:.0%}"
            print(
                f"{job.id:36}  {job.status:9}  {progress:>8}  "
                f"{job.retry_count:>3}/{job.max_retries:<3}  {job.org_id:16}  "
                f"{job.created_at:%Y-%m-%d %H:%M:%S}"
                + (f"  {job.failure_reason}" if job.failure_reason else "")
            )
    return 0


def show_job(args: argparse.Namespace) -> int:
    client = client_for(args.api, args.keys, org=args.org)
    job = client.get_job(args.job_id)
    fields = [
        ("id", job.id),
        ("status", job.status.value),
        ("kind", job.kind),
        ("org", job.org_id),
        ("input", job.input_json),
        ("progress", job.progress),
        ("retries", f"{job.retry_count}/{job.max_retries}"),
        ("claimed by", job.claimed_by_agent_id),
        ("task", job.task_arn),
        ("failure", job.failure_reason),
        ("created", job.created_at),
        ("started", job.started_at),
        ("heartbeat", job.heartbeat_at),
        ("finished", job.finished_at),
    ]
    for name, value in fields:
        if value is not None:
            print(f"{name + ':':12} {value}")
    if job.chunked:
        chunks = client.list_chunks(job.id)
        frames = sum(
            c.frames if c.status == JobStatus.SUCCEEDED else c.frames_done or 0 for c in chunks
        )
        print(
            f"{'chunks:':12} {job.chunks_done}/{job.chunk_count} done, "
            f"{frames}/{sum(c.frames for c in chunks)} frames rendered"
        )
        for c in chunks:
            print(
                f"  {c.name}: {c.status} (attempt {c.retry_count}), "
                f"{c.frames_done or 0}/{c.frames} frames"
                + (f", {c.task_arn}" if c.task_arn else "")
            )
    for run in client.list_render_runs(job.id):
        print(f"{'render run:':12} {run.id} {run.status} {run.mp4_artifact_key or ''}")
        if run.task_seconds is not None:
            cost = "" if run.estimated_cost_usd is None else f", ~${run.estimated_cost_usd:.4f}"
            print(f"{'cost:':12} {run.task_seconds:.1f} task-seconds{cost} (Fargate, estimated)")
    print("events:")
    for event in client.list_events(job.id):
        progress = "" if event.progress is None else f" {event.progress:.0%}"
        when = event.created_at.isoformat(timespec="milliseconds")
        print(f"  {when}  {event.type:8}{progress}  {event.message or ''}")
    return 0
