"""A split job's tasks in-process against the local jobs API: the split, each chunk's
attempt, the one fan-in; a finisher that died after landing; a retried job that resumes."""

from __future__ import annotations

import pytest

from renderlib import renderer
from renderlib.composition import Composition
from renderlib.cost import FargatePrices, TaskSize, run_cost
from renderlib.errors import EncodeError
from renderlib.farm.chunk_worker import run_chunk_worker
from renderlib.farm.worker import run_worker
from renderlib.jobs.status import JobStatus
from renderlib.verify import probe
from tests.worker.conftest import submit_and_claim, tiny_run

OPTIONS = {"heartbeat_interval": 0.2, "time_limit": 300, "workers": 1}


@pytest.fixture
def split(client, studio, local_storage, tmp_path):
    """A 4-second job split into two chunks of 20 frames, each claimed for attempt 0."""
    run = tiny_run(tmp_path / "run", 4.0, width=160)
    job = submit_and_claim(
        client, studio, str(local_storage.root), run, chunks=2, max_retries=0
    ).job
    outcome = run_worker(job.id, 0, client=client, storage=local_storage, **OPTIONS)
    assert outcome.status == "split", outcome.reason
    chunks = client.list_chunks(job.id)
    assert [(c.start_frame, c.end_frame) for c in chunks] == [(0, 20), (20, 40)]
    for chunk in chunks:
        client.claim_chunk(chunk.id, "test-dispatcher")
    return client.get_job(job.id)


def run_chunk(client, storage, job, index: int, attempt: int = 0):
    return run_chunk_worker(job.id, index, attempt, client=client, storage=storage, **OPTIONS)


def test_the_last_chunk_to_land_joins_and_records_the_one_render_run(
    client, local_storage, split, monkeypatch
):
    monkeypatch.setattr("renderlib.farm.worker.process_seconds", lambda: 7.0)
    assert split.status == JobStatus.RUNNING and split.chunk_count == 2
    assert run_chunk(client, local_storage, split, 1).status == "landed"
    half = client.get_job(split.id)
    assert half.chunks_landed == "01" and half.progress == 0.5  # 20 of 40 frames
    done = run_chunk(client, local_storage, split, 0)
    assert done.status == "succeeded", done.reason
    job = client.get_job(split.id)
    assert job.status == JobStatus.SUCCEEDED and job.chunks_done == 2
    (render_run,) = client.list_render_runs(split.id)
    assert render_run == done.render_run and render_run.frames == 40
    assert probe(local_storage.path(render_run.mp4_artifact_key)).frames == 40
    assert [c.status for c in client.list_chunks(split.id)] == [JobStatus.SUCCEEDED] * 2
    # Its cost counts the other chunk's task (start to landing) and the finisher's own run.
    other = client.list_chunks(split.id)[1]
    other_seconds = (other.finished_at - other.started_at).total_seconds()
    assert render_run.task_seconds == pytest.approx(other_seconds + 7.0, abs=1e-3)
    expected = run_cost(TaskSize.from_env(), FargatePrices.from_env(), [other_seconds, 7.0])
    assert render_run.estimated_cost_usd == pytest.approx(expected.cost_usd, abs=1e-6)


def test_a_finisher_that_died_after_landing_is_rerun_and_joins(client, local_storage, split):
    assert run_chunk(client, local_storage, split, 0).status == "landed"
    # Chunk 1's first attempt landed, then its task died before the join: the reaper
    # requeues the chunk, and its next attempt finds the count already whole.
    client.land_chunk(split.id, 1)
    chunk = client.mark_chunk_running(client.list_chunks(split.id)[1].id, attempt=0)
    client.requeue_chunk(chunk, "task stopped")
    client.claim_chunk(chunk.id, "test-dispatcher")
    done = run_chunk(client, local_storage, split, 1, attempt=1)
    assert done.status == "succeeded", done.reason
    assert client.get_job(split.id).status == JobStatus.SUCCEEDED
    assert len(client.list_render_runs(split.id)) == 1


def test_a_chunk_out_of_retries_fails_the_job_and_a_retry_resumes_it(
    client, local_storage, split, monkeypatch
):
    assert run_chunk(client, local_storage, split, 0).status == "landed"
    real_join = renderer.join_chunks

    def broken_join(*args, **kwargs):
        raise EncodeError("ffmpeg failed to join the video: disk full")

    monkeypatch.setattr(renderer, "join_chunks", broken_join)
    failed = run_chunk(client, local_storage, split, 1)
    assert failed.status == "failed"
    job = client.get_job(split.id)
    assert job.status == JobStatus.FAILED
    assert job.failure_reason == (
        "chunk 1 (frames 20:40) failed: ffmpeg failed to join the video: disk full "
        "(gave up after 1 attempts)"
    )
    assert job.chunks_landed == "11"

    # Retried: the split task finds every chunk landed and joins them itself; no chunk
    # is rendered again.
    monkeypatch.setattr(renderer, "join_chunks", real_join)
    client.requeue(split.id, "retry", expected_status=JobStatus.FAILED)
    client.claim(split.id, "test-dispatcher")
    done = run_worker(split.id, 1, client=client, storage=local_storage, **OPTIONS)
    assert done.status == "succeeded", done.reason
    assert [c.retry_count for c in client.list_chunks(split.id)] == [0, 0]
    assert client.list_chunks(split.id)[1].status == JobStatus.FAILED  # landed: not rerun
    assert len(client.list_render_runs(split.id)) == 1


def test_a_chunk_of_a_page_that_is_not_pure_says_it_steps_through_the_frames_before_it(
    client, local_storage, split, monkeypatch, tmp_path
):
    """Farm jobs are generation runs, whose template is pure: the run is swapped for a
    page that is not (the same 40 frames at 10 fps, as the job states)."""
    page = tmp_path / "page"
    page.mkdir()
    (page / "index.html").write_text(
        "<!doctype html><body style='background:#333'><script>"
        "let drawn = 0; window.renderFrame = () => { drawn += 1; };</script></body>"
    )
    impure = Composition(
        page="index.html", width=160, height=90, fps=10, frames=40, base_dir=page, pure=False
    )
    monkeypatch.setattr(renderer, "load_source", lambda _path: impure)
    assert run_chunk(client, local_storage, split, 1).status == "landed"
    (said,) = [e.message for e in client.list_events(split.id) if "not pure" in (e.message or "")]
    assert said.startswith(
        "chunk 1 (frames 20:40): the page is not pure (its state builds up frame by frame), "
        "so this chunk steps through the 20 frames before its own first"
    )
    assert run_chunk(client, local_storage, split, 0).status == "succeeded"
    assert len([e for e in client.list_events(split.id) if "not pure" in (e.message or "")]) == 1
