"""A job reads only its own org's inputs and writes only under its own org's prefix, and
what the studio reads (failureReason, events) never shows a path on the worker's machine.

The jobs here reach the farm the way the API cannot make them (they are written straight
into the API's database, as a studio API that checks nothing would hand them over), so
the worker's own checks are what is tested."""

from __future__ import annotations

import errno
import json
import os

import pytest

from renderlib import renderer
from renderlib.farm.worker import run_worker
from renderlib.jobs.status import JobStatus
from renderlib.jobs.submit import submit_generation_run
from tests.helpers import stored_job, stored_record
from tests.worker.conftest import tiny_run

A, B = "org-a", "org-b"


def run(client, storage, job_id: str, **options):
    job = client.claim(job_id, "test-dispatcher")
    options.setdefault("heartbeat_interval", 0.2)
    options.setdefault("time_limit", 300)
    return run_worker(job.id, job.retry_count, client=client, storage=storage, **options)


def submitted_run(studio, org: str, folder, storage):
    return submit_generation_run(studio(org), tiny_run(folder), org, str(storage.root))


def stored_files(storage) -> list[str]:
    return sorted(p.relative_to(storage.root).as_posix() for p in storage.root.rglob("*.*"))


def assert_failed(client, job_id: str, outcome, *phrases: str) -> str:
    assert outcome.status == "failed", outcome
    job = client.get_job(job_id)
    assert job.status == JobStatus.FAILED and client.list_render_runs(job_id) == []
    for phrase in phrases:
        assert phrase in job.failure_reason, job.failure_reason
    return job.failure_reason


def test_a_job_naming_another_orgs_generation_run_fails(
    client, studio, db_path, local_storage, tmp_path
):
    theirs = submitted_run(studio, B, tmp_path / "b", local_storage).generation_run
    job_id = stored_job(db_path, A, {"generationRunId": theirs.id, "videoId": "v-1"})
    outcome = run(client, local_storage, job_id)
    assert_failed(client, job_id, outcome, f"generation run {theirs.id} is not org {A}'s")
    assert not any(key.startswith("renders/") for key in stored_files(local_storage))


def test_a_run_naming_a_file_outside_its_orgs_folder_fails_before_reading_it(
    client, studio, db_path, local_storage, tmp_path
):
    mine = submitted_run(studio, A, tmp_path / "a", local_storage).generation_run
    # Org B's narration, stored under its renders/, and a timeline of A's that plays it.
    theirs = f"renders/{B}/v-1/j-1/voice.wav"
    local_storage.upload(tmp_path / "a" / "audio" / "voice.wav", theirs)
    timeline = f"generations/{A}/v-1/r-2/timeline.json"
    (tmp_path / "timeline.json").write_text(
        json.dumps({"tracks": [{"name": "narration", "clips": [{"src": "voice.wav", "start": 0}]}]})
    )
    local_storage.upload(tmp_path / "timeline.json", timeline)
    run_id = stored_record(
        db_path,
        "GenerationRun",
        {
            "orgId": A,
            "videoId": "v-1",
            "scriptArtifactKey": mine.script_artifact_key,
            "timelineArtifactKey": timeline,
            "audioArtifactKeys": [theirs],
        },
    )
    job_id = stored_job(db_path, A, {"generationRunId": run_id})
    outcome = run(client, local_storage, job_id)
    assert_failed(client, job_id, outcome, theirs, f"not under generations/{A}/")


@pytest.mark.parametrize(
    ("org", "video"),
    [("org-a/evil", "v-1"), (A, "/abs"), (A, "../../x"), (A, "a\x00b")],
)
def test_ids_that_are_not_tokens_fail_and_nothing_is_written(
    client, studio, db_path, local_storage, tmp_path, org, video
):
    mine = submitted_run(studio, A, tmp_path / "a", local_storage).generation_run
    before = stored_files(local_storage)
    job_id = stored_job(db_path, org, {"generationRunId": mine.id, "videoId": video})
    outcome = run(client, local_storage, job_id)
    assert_failed(client, job_id, outcome, "is not a valid id")
    assert stored_files(local_storage) == before
    assert not (tmp_path / "abs").exists() and not (tmp_path / "x").exists()


def messages(client, job_id: str) -> list[str]:
    job = client.get_job(job_id)
    return [job.failure_reason or ""] + [e.message or "" for e in client.list_events(job_id)]


def assert_no_local_paths(texts: list[str], *paths) -> None:
    for text in texts:
        assert "renderlib-job-" not in text, text
        for path in paths:
            assert str(path) not in text, text


def test_a_missing_stored_file_is_named_by_its_key(
    client, studio, local_storage, marker_tmpdir, tmp_path
):
    submitted = submitted_run(studio, A, tmp_path / "a", local_storage)
    (audio_key,) = submitted.generation_run.audio_artifact_keys
    local_storage.path(audio_key).unlink()
    outcome = run(client, local_storage, submitted.job.id)
    reason = assert_failed(client, submitted.job.id, outcome)
    assert reason.endswith(f"audio/voice.wav is missing: {audio_key} does not exist in storage")
    assert_no_local_paths(messages(client, submitted.job.id), local_storage.root, marker_tmpdir)


def test_a_worker_disk_failure_is_told_without_the_workers_paths(
    client, studio, local_storage, marker_tmpdir, tmp_path, monkeypatch
):
    submitted = submitted_run(studio, A, tmp_path / "a", local_storage)
    replace = os.replace

    def disk_full_for_the_poster(source, target):
        if str(target).endswith(".jpg") and "renderlib-job-" in str(target):
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        replace(source, target)

    monkeypatch.setattr(renderer.os, "replace", disk_full_for_the_poster)
    outcome = run(client, local_storage, submitted.job.id)
    assert outcome.status == "requeued", outcome
    job = client.get_job(submitted.job.id)
    assert job.failure_reason == (
        "internal error: OSError: [Errno 28] No space left on device: 'video.jpg'"
    )
    assert_no_local_paths(messages(client, submitted.job.id), local_storage.root, marker_tmpdir)
