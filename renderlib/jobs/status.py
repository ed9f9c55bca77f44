"""Job statuses and the transitions allowed between them, written down once.

The service refuses any update that moves a job along an edge not listed here;
the check is part of the store's atomic conditional write, so it holds under
concurrent requests. Updating a job without changing its status (a heartbeat)
is not a transition.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


# A job is created queued; the conditional claim is the only way to claimed.
INITIAL_STATUS = JobStatus.QUEUED

ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.CLAIMED, JobStatus.FAILED, JobStatus.CANCELED}),
    JobStatus.CLAIMED: frozenset(
        {JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.FAILED, JobStatus.CANCELED}
    ),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.QUEUED, JobStatus.CANCELED}
    ),
    # A failed job may be queued again by hand (like rq's requeue of a failed job).
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}

FINISHED_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})


def parse_status(value: object) -> JobStatus:
    """The JobStatus named by ``value``; ValueError naming the allowed values otherwise."""
    try:
        return JobStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise ValueError(f"{value!r} is not a JobStatus; expected one of {allowed}") from None


def can_transition(old: JobStatus, new: JobStatus) -> bool:
    return old == new or new in ALLOWED_TRANSITIONS[old]


def predecessors(new: JobStatus) -> frozenset[JobStatus]:
    """Every status a job may be in for an update to ``new`` to be allowed."""
    return frozenset(old for old in JobStatus if can_transition(old, new))


def chunk_predecessors(new: JobStatus | None) -> frozenset[JobStatus]:
    """Every status a job's chunk may be in for an update to ``new`` (None: no status
    change). A chunk moves as a job does but never out of succeeded; and a chunk that
    failed or was canceled goes back to queued when its job is retried."""
    if new is None:
        return frozenset(JobStatus) - FINISHED_STATUSES
    allowed = predecessors(new) - FINISHED_STATUSES
    if new is JobStatus.QUEUED:
        allowed |= {JobStatus.FAILED, JobStatus.CANCELED}
    return allowed
