"""Chunked renders on the local farm: real jobs API, dispatcher, one worker process per
chunk attempt, Chromium and ffmpeg. The chunks joined are the single-task render; a chunk
whose worker is killed is rendered again alone; one join, one RenderRun."""

from __future__ import annotations

import os
import signal
import time

from renderlib.farm.local import FarmConfig, LocalFarm
from renderlib.jobs.status import FINISHED_STATUSES, JobStatus
from renderlib.jobs.submit import submit_generation_run
from renderlib.verify import probe
from tests.farm.test_farm_local import farm_and_studio, tiny_run
from tests.helpers import audio_hash, frame_hashes, processes_mentioning

SECONDS = 8.0  # 80 frames at 10 fps: 4 chunks of two 2-second segments


def farm_config(tmp_path, **overrides) -> FarmConfig:
    values = dict(
        folder=tmp_path / "farm",
        max_concurrent=2,
        port=0,
        render_workers=1,
        sweep_interval=2.0,
        heartbeat_interval=0.5,
    )
    return FarmConfig(**{**values, **overrides})


def wait_finished(client, job_id: str, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while (job := client.get_job(job_id)).status not in FINISHED_STATUSES:
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    return job


def test_four_chunks_on_the_farm_are_the_single_task_render(tmp_path):
    run = tiny_run(tmp_path / "run", SECONDS)
    with LocalFarm(farm_config(tmp_path)) as farm:
        client, studio = farm_and_studio(farm)
        single = submit_generation_run(studio, run, "demo", str(farm.storage), chunks=1).job
        chunked = submit_generation_run(studio, run, "demo", str(farm.storage), chunks=4).job
        assert wait_finished(client, single.id).status == JobStatus.SUCCEEDED
        done = wait_finished(client, chunked.id)
        assert done.status == JobStatus.SUCCEEDED, done.failure_reason
        assert (done.chunk_count, done.chunks_landed) == (4, "1111")
        assert client.get_job(single.id).chunk_count is None  # one chunk: today's path
        (joined,) = client.list_render_runs(chunked.id)
        final_folder = (farm.storage / joined.mp4_artifact_key).parent
        # The dispatcher deletes the segments once the finisher's task has stopped.
        segments = final_folder / "chunks"
        deadline = time.monotonic() + 120
        while segments.exists():
            assert time.monotonic() < deadline, sorted(segments.iterdir())
            time.sleep(0.2)
        assert sorted(p.name for p in final_folder.iterdir()) == ["poster.jpg", "video.mp4"]
        # The finisher marks its own chunk succeeded just after the job.
        while any(c.status == JobStatus.RUNNING for c in client.list_chunks(chunked.id)):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        chunks = client.list_chunks(chunked.id)
        assert [(c.start_frame, c.end_frame) for c in chunks] == [
            (0, 20),
            (20, 40),
            (40, 60),
            (60, 80),
        ]
        assert [(c.status, c.retry_count) for c in chunks] == [(JobStatus.SUCCEEDED, 0)] * 4
        (one,) = client.list_render_runs(single.id)
        assert joined.frames == 80
        single_mp4, joined_mp4 = (
            farm.storage / one.mp4_artifact_key,
            farm.storage / joined.mp4_artifact_key,
        )
        assert frame_hashes(joined_mp4) == frame_hashes(single_mp4)
        assert probe(joined_mp4).duration == probe(single_mp4).duration
        # The chunks' parts of the mix joined are the single task's mix, sample for sample.
        assert audio_hash(joined_mp4) == audio_hash(single_mp4)
        events = [e.message or "" for e in client.list_events(chunked.id)]
        assert any("split into 4 chunks of 20 frames" in m for m in events)
        assert any("frames rendered" in m and "chunks done" in m for m in events)
        # The job states its length (submit counts it): the dispatcher split it at claim
        # time, so no task of its own ran, only the chunks'.
        assert chunked.input["frames"] == 80 and chunked.input["fps"] == 10
        logs = sorted(p.name for p in (farm.folder / "logs").iterdir() if chunked.id in p.name)
        assert logs == [f"{chunked.id}-chunk{i}-0.log" for i in range(4)]
    assert processes_mentioning(str(tmp_path)) == []


def test_a_killed_chunk_worker_reruns_that_chunk_alone(tmp_path):
    run = tiny_run(tmp_path / "run", SECONDS)
    with LocalFarm(farm_config(tmp_path)) as farm:
        client, studio = farm_and_studio(farm)
        job = submit_generation_run(studio, run, "demo", str(farm.storage), chunks=4).job
        deadline = time.monotonic() + 600
        while True:
            assert time.monotonic() < deadline, client.get_job(job.id)
            chunks = client.list_chunks(job.id)
            victim = next((c for c in chunks if c.index == 1 and c.frames_done), None)
            if victim is not None and victim.status == JobStatus.RUNNING:
                break
            time.sleep(0.1)
        # As ECS kills a task: the worker and every process it started, at once.
        os.killpg(int(victim.task_arn.split("/")[-1]), signal.SIGKILL)
        done = wait_finished(client, job.id)
        assert done.status == JobStatus.SUCCEEDED, done.failure_reason
        retries = {c.index: c.retry_count for c in client.list_chunks(job.id)}
        assert retries == {0: 0, 1: 1, 2: 0, 3: 0}
        assert done.retry_count == 0
        assert len(client.list_render_runs(job.id)) == 1
        requeued = [
            e.message for e in client.list_events(job.id) if "requeued" in (e.message or "")
        ]
        assert len(requeued) == 1 and "chunk 1 (frames 20:40)" in requeued[0]
        assert "exit code 137" in requeued[0]
        logs = sorted(p.name for p in (farm.folder / "logs").iterdir())
        assert [name for name in logs if name.endswith("-1.log")] == [f"{job.id}-chunk1-1.log"]
        final = farm.storage / client.list_render_runs(job.id)[0].mp4_artifact_key
        assert sorted(p.name for p in final.parent.iterdir() if p.is_file()) == [
            "poster.jpg",
            "video.mp4",
        ]
        assert probe(final).frames == 80
    assert processes_mentioning(str(tmp_path)) == []
