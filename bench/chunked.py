"""Benchmark: one long video on the local farm as 1 task and as K chunks, and the cloud model.

    python bench/chunked.py [--seconds 300] [--size 1280x720] [--fps 30] [--chunks K]

Renders the same generated composition (a title, a progress bar that moves every frame,
a narration tone) through ``renderlib farm``'s code (LocalFarm: jobs API, dispatcher,
worker processes) once unsplit and once as K chunks (default: the CPU count), and prints
each one's wall time and task-seconds. The chunk tasks run one at a time here, so each has
the machine to itself as each Fargate task has its own vCPUs (run side by side on one
2-core machine, each would take about twice as long, which says nothing about chunking);
``--side-by-side`` runs them at once anyway. Then models the cloud: N Fargate tasks, each
paying ``--provisioning`` seconds to start (default 120), rendering at the measured
per-frame rate, the split and the join measured here; it prints the predicted wall time
of a 30-minute video on 1 vs 10 tasks. Targets: 10 tasks under 1/7 of the single task's
wall time; chunk task-seconds within 15 % of the single task's for pure pages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from renderlib.farm.local import FarmConfig, LocalFarm
from renderlib.jobs.auth import ApiKeyAuth
from renderlib.jobs.client import JobsClient
from renderlib.jobs.records import Job
from renderlib.jobs.status import FINISHED_STATUSES, JobStatus
from renderlib.jobs.submit import submit_generation_run

MODEL_SECONDS = 30 * 60


def write_run(folder: Path, seconds: float, width: int, height: int, fps: int) -> Path:
    (folder / "audio").mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
         "-ar", "48000", str(folder / "audio" / "voice.wav")],
        check=True,
    )  # fmt: skip
    script = {
        "meta": {"title": "Bench", "width": width, "height": height, "fps": fps,
                 "duration": seconds},
        "scenes": [
            {"id": "only", "title": "Chunked", "start": 0, "end": seconds,
             "background": "#203040",
             "layers": [{"type": "title", "subtitle": "chunked bench"},
                        {"type": "progress", "interval": 1 / fps}]}
        ],
    }  # fmt: skip
    timeline = {
        "tracks": [{"name": "narration", "clips": [{"src": "audio/voice.wav", "start": 0}]}]
    }
    (folder / "script.json").write_text(json.dumps(script))
    (folder / "timeline.json").write_text(json.dumps(timeline))
    return folder


def wait(client: JobsClient, job: Job) -> tuple[Job, float]:
    started = time.monotonic()
    while (job := client.get_job(job.id)).status not in FINISHED_STATUSES:
        time.sleep(0.5)
    if job.status != JobStatus.SUCCEEDED:
        raise SystemExit(f"job {job.id} {job.status}: {job.failure_reason}")
    return job, time.monotonic() - started


def seconds_between(start, end) -> float:
    return (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--chunks", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--provisioning", type=float, default=120.0)
    parser.add_argument("--side-by-side", action="store_true", help="run the chunk tasks at once")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(Path(tmp) / "run", args.seconds, width, height, args.fps)
        config = FarmConfig(
            folder=Path(tmp) / "farm",
            max_concurrent=args.chunks if args.side_by_side else 1,
            port=0,
            render_workers=1,
        )
        with LocalFarm(config) as farm:
            client = JobsClient(farm.url, ApiKeyAuth(farm.keys.farm_key()))
            studio = JobsClient(farm.url, ApiKeyAuth(farm.keys.org_key("demo")))
            single = submit_generation_run(studio, run, "demo", str(farm.storage), chunks=1).job
            single, single_wall = wait(client, single)
            chunked = submit_generation_run(
                studio, run, "demo", str(farm.storage), chunks=args.chunks
            ).job
            chunked, chunked_wall = wait(client, chunked)
            chunks = client.list_chunks(chunked.id)
            split_at = next(
                e.created_at
                for e in client.list_events(chunked.id)
                if (e.message or "").startswith("split into")
            )

    single_task = seconds_between(single.started_at, single.finished_at)
    split_task = seconds_between(chunked.started_at, split_at)
    chunk_tasks = [seconds_between(c.started_at, c.finished_at) for c in chunks]
    last = max(chunks, key=lambda c: c.finished_at)
    frames = sum(c.frames for c in chunks)
    print(
        f"video: {args.seconds:g} s, {width}x{height} @ {args.fps} fps, {frames} frames; "
        f"{len(chunks)} chunks"
    )
    print(f"1 task:    wall {single_wall:.1f} s, task-seconds {single_task:.1f}")
    chunked_seconds = split_task + sum(chunk_tasks)
    print(
        f"{len(chunks)} chunks: wall {chunked_wall:.1f} s, task-seconds {chunked_seconds:.1f} "
        f"(split {split_task:.1f} + chunks {' + '.join(f'{t:.1f}' for t in chunk_tasks)}); "
        f"overhead {100 * (chunked_seconds / single_task - 1):+.0f} % (target < 15 %)"
    )

    # The cloud model: per-frame rate and fixed costs from these runs.
    per_frame = sum(chunk_tasks) / frames
    join = seconds_between(max(c.finished_at for c in chunks if c is not last), last.finished_at)
    join = max(0.0, join - (last.frames * per_frame))
    model_frames = MODEL_SECONDS * args.fps
    one = args.provisioning + single_task / frames * model_frames
    ten = 2 * args.provisioning + split_task + model_frames / 10 * per_frame + join
    print(
        f"model, 30-minute video: 1 task {one / 60:.1f} min, 10 tasks {ten / 60:.1f} min "
        f"= 1/{one / ten:.1f} of it (target better than 1/7); "
        f"{args.provisioning:g} s provisioning per task, {per_frame * 1000:.1f} ms a frame"
    )


if __name__ == "__main__":
    main()
