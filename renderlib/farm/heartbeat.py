"""The running job's heartbeat: a thread that refreshes the job's heartbeatAt at a
steady interval and reports progress as JobEvents: each new stage ("loading",
"rendering 0%", "encoding", "uploading") at once, the capture's percentage at the
next beat ("rendering 40%", with ``{"frames": {"done": D, "total": T}}`` as the event's
data), never one event per frame.

When the jobs API says the job is no longer this attempt's (the reaper requeued
it, someone canceled it), ``lost`` is set and the next progress call raises
ClaimLostError, which stops the render."""

from __future__ import annotations

import logging
import threading

from renderlib.errors import ClaimLostError, JobsApiError
from renderlib.jobs.client import JobsClient

log = logging.getLogger(__name__)

# A progress report: message, fraction of the job, event data.
_Update = tuple[str, float, dict | None]

# Share of the whole job each stage ends at; capture fills the span before "encode".
_STAGE_PROGRESS = {"audio": 0.05, "capture": 0.1, "encode": 0.9, "verify": 0.93}
_STAGE_MESSAGE = {"audio": "mixing audio", "encode": "encoding", "verify": "verifying"}


class Heartbeat:
    def __init__(self, client: JobsClient, job_id: str, attempt: int, interval: float) -> None:
        self.client = client
        self.job_id = job_id
        self.attempt = attempt
        self.interval = interval
        self.lost = threading.Event()
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._stage_name = ""
        self._current: _Update = ("loading", 0.0, None)
        self._pending: list[_Update] = []
        # The worker announces "loading" itself; the first beat must not report it too.
        self._reported: _Update | None = self._current
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def set_stage(self, message: str, progress: float, data: dict | None = None) -> None:
        """A new stage: reported as an event by the thread straight away."""
        self._check()
        with self._lock:
            self._current = (message, progress, data)
            self._pending.append(self._current)
        self._wake.set()

    def render_progress(self, stage: str, done: int, total: int) -> None:
        """renderlib's progress callback (called from the render's threads): a new
        stage is announced, capture progress within it waits for the next beat."""
        self._check()
        if stage == "capture":
            fraction = done / total if total else 1.0
            span = _STAGE_PROGRESS["encode"] - _STAGE_PROGRESS["capture"]
            update = (
                f"rendering {int(fraction * 100)}%",
                _STAGE_PROGRESS["capture"] + span * fraction,
                {"frames": {"done": done, "total": total}},
            )
        elif stage in _STAGE_MESSAGE:
            update = (_STAGE_MESSAGE[stage], _STAGE_PROGRESS[stage], None)
        else:
            return
        with self._lock:
            new_stage, self._stage_name = stage != self._stage_name, stage
        if new_stage:
            self.set_stage(*update)
        else:
            with self._lock:
                self._current = update

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join()

    def _report(self, message: str | None, progress: float | None, data: dict | None) -> None:
        """One beat: refresh the heartbeat, with a progress event given a message or progress."""
        self.client.heartbeat(self.job_id, progress, message, attempt=self.attempt, data=data)

    def _check(self) -> None:
        if self.lost.is_set():
            raise ClaimLostError(
                f"job {self.job_id} is no longer attempt {self.attempt}'s to run: stopping"
            )

    def _run(self) -> None:
        # Wait first: mark_running has just set heartbeatAt, a stage change wakes us.
        while not self.lost.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self._beat()
            if self._stopped.is_set():
                return

    def _beat(self) -> None:
        with self._lock:
            updates, self._pending = self._pending, []
            current = self._current
        if not updates and current != self._reported:
            updates = [current]
        try:
            for message, progress, data in updates or [(None, None, None)]:
                self._report(message, None if progress is None else round(progress, 3), data)
                self._reported = (message, progress, data) if message else self._reported
        except ClaimLostError:
            log.warning("the job is no longer this attempt's (requeued or canceled): stopping")
            self.lost.set()
        except JobsApiError as exc:
            log.warning("heartbeat failed, will try again: %s", exc)
        except Exception:  # noqa: BLE001 - a dead heartbeat thread would get the job reaped
            log.exception("heartbeat failed, will try again")
