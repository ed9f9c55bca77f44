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
per-frame rate of a chunk task, the join measured here scaled to the video's length; it
prints the predicted wall time of a 30-minute video on 1 task and on N, and the bound no
number of tasks can beat (the one start-up every render waits for). The submitted job
states its length, so the dispatcher splits it at claim time: one start-up before the
chunks render, as in the cloud. Targets: 10 tasks under 1/7 of the single task's wall
time; chunk task-seconds within 15 % of the single task's for pure pages.
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
            events = client.list_events(chunked.id)
            join = next(
                json.loads(e.data)["joinSeconds"]
                for e in events
                if (e.message or "").startswith("joined")
            )
            logs = [p.name for p in (farm.folder / "logs").iterdir() if chunked.id in p.name]
            split_by_dispatcher = all("-chunk" in name for name in logs)

    single_task = seconds_between(single.started_at, single.finished_at)
    chunk_tasks = {c.index: seconds_between(c.started_at, c.finished_at) for c in chunks}
    finisher = max(chunks, key=lambda c: c.finished_at)
    frames = sum(c.frames for c in chunks)
    print(
        f"video: {args.seconds:g} s, {width}x{height} @ {args.fps} fps, {frames} frames; "
        f"{len(chunks)} chunks, split by {'the dispatcher' if split_by_dispatcher else 'its task'}"
    )
    print(f"1 task:    wall {single_wall:.1f} s, task-seconds {single_task:.1f}")
    chunked_seconds = sum(chunk_tasks.values())
    print(
        f"{len(chunks)} chunks: wall {chunked_wall:.1f} s, task-seconds {chunked_seconds:.1f} "
        f"({' + '.join(f'{t:.1f}' for t in chunk_tasks.values())}, the last joining in "
        f"{join:.1f}); overhead {100 * (chunked_seconds / single_task - 1):+.0f} % "
        "(target < 15 %)"
    )

    # The cloud model: per-frame rates and the join from these runs, scaled to the video.
    rendering = [c for c in chunks if c.index != finisher.index]
    per_frame = sum(chunk_tasks[c.index] for c in rendering) / sum(c.frames for c in rendering)
    model_frames = MODEL_SECONDS * args.fps
    scale = model_frames / frames
    provisioning = args.provisioning
    one = provisioning + single_task * scale
    print(
        f"model, 30-minute video ({model_frames} frames, {provisioning:g} s to start a task, "
        f"{per_frame * 1000:.1f} ms a frame in a chunk task, join {join * scale:.0f} s): "
        f"1 task {one / 60:.1f} min"
    )
    for tasks in (2, 5, 10, 20):
        many = provisioning + model_frames / tasks * per_frame + join * scale
        target = " (target better than 1/7)" if tasks == 10 else ""
        print(f"  {tasks:2d} tasks {many / 60:.1f} min = 1/{one / many:.1f} of it{target}")
    print(
        f"  no number of tasks beats 1/{one / (provisioning + join * scale):.1f}: every render "
        f"waits for one task start-up ({provisioning:g} s) and the join"
    )
    # (P + T) / (P + T/10 + J) >= 7  <=>  T >= (6P + 7J) / 0.3
    needed = (6 * provisioning + 7 * join * scale) / 0.3
    print(
        f"  1/7 on 10 tasks needs a single-task render of at least {needed / 60:.1f} min at "
        f"this start-up and join; this one renders the video in {(one - provisioning) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
