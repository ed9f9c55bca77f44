"""A job whose id is not a path-safe token never names a file and never stalls the farm.

Such a job cannot be created through this API; it can reach the queue through a studio's
own API (attach mode), which checks nothing: it is written straight into the database
here. The dispatcher runs with the real LocalLauncher (its worker command a no-op)."""

from __future__ import annotations

import sys

import pytest

from renderlib.farm.dispatcher import handle_event
from renderlib.farm.launcher import LocalLauncher
from renderlib.farm.local import SCHEDULED_EVENT, queued_stream_event
from renderlib.farm.settings import DispatchSettings
from renderlib.jobs.status import JobStatus
from tests.helpers import stored_job


@pytest.fixture
def farm_folder(tmp_path):
    folder = tmp_path / "a" / "farm"
    folder.mkdir(parents=True)
    return folder


def bad_ids(tmp_path) -> list[str]:
    (tmp_path / "abs").mkdir()
    return ["../../x", str(tmp_path / "abs" / "job"), "job\x00id", "-rf", "a" * 200]


def test_bad_job_ids_fail_unclaimed_once_and_the_good_job_still_runs(
    client, db_path, farm_folder, tmp_path, org1
):
    ids = bad_ids(tmp_path)
    for job_id in ids:
        stored_job(db_path, "org-1", {"videoId": "v"}, job_id=job_id)
    good = org1.create_job("org-1", {"videoId": "v"})
    launcher = LocalLauncher({}, farm_folder / "logs", command=[sys.executable, "-c", "pass"])
    settings = DispatchSettings(max_concurrent_tasks=10)

    def dispatch(event):
        return handle_event(event, client=client, launcher=launcher, settings=settings)

    report = dispatch(queued_stream_event([*ids, good.id]))
    assert sorted(report.failed) == sorted(ids) and report.launched == [good.id]
    for job_id in ids:
        job = client.get_job(job_id)
        assert job.status == JobStatus.FAILED and job.retry_count == 0
        assert job.claimed_by_agent_id is None and job.task_arn is None
        assert "is not a valid id" in job.failure_reason
    # Nothing was written anywhere but the farm's own log folder (beside the record of
    # running workers there).
    logs = sorted(p.name for p in (farm_folder / "logs").glob("*.log"))
    assert logs == [f"{good.id}-0.log"]
    assert not (tmp_path / "a" / "x-0.log").exists()
    assert list((tmp_path / "abs").iterdir()) == []
    # Later sweeps find nothing left to do about them.
    for _ in range(2):
        again = dispatch(SCHEDULED_EVENT)
        assert again.failed == [] and again.claims_lost == 0
    launcher.stop_all()
