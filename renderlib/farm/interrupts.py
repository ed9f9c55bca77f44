"""Stopping a job from outside: SIGTERM (task stopped, Spot reclaim) and the job's
hard time limit both raise an exception in the main thread, wherever it is.

renderlib.render() runs its capture workers in threads and waits for them in the
calling thread; an exception arriving there stops every worker and closes every
Chromium and ffmpeg it started. These exceptions derive from BaseException so no
``except Exception`` on the way can swallow them.
"""

from __future__ import annotations

import signal
import threading


class WorkerInterrupt(BaseException):
    """The job must stop now."""


class Terminated(WorkerInterrupt):
    """The process was asked to stop (SIGTERM, or SIGINT at a terminal)."""


class TimeLimitExceeded(WorkerInterrupt):
    """The job ran past its time limit."""


class Interrupts:
    """While active (main thread only): SIGTERM/SIGINT raise Terminated, and
    ``time_limit`` seconds after entry SIGALRM raises TimeLimitExceeded.

    ``disarm()`` ends the raising (the worker is then reporting the outcome and must
    not be cut off); a signal arriving after it is ignored.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, time_limit: float | None) -> None:
        self.time_limit = time_limit
        self._armed = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the worker must run in the main thread: it stops jobs with signals")
        for signum in (*self.SIGNALS, signal.SIGALRM):
            self._previous[signum] = signal.signal(signum, self._handle)
        self._armed = True
        if self.time_limit:
            signal.setitimer(signal.ITIMER_REAL, self.time_limit)
        return self

    def disarm(self) -> None:
        self._armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def __exit__(self, *exc) -> None:
        self.disarm()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame) -> None:
        if signum == signal.SIGALRM:
            if self._armed:
                self._armed = False
                raise TimeLimitExceeded(f"the job ran past its time limit of {self.time_limit:g} s")
            return
        name = signal.Signals(signum).name
        if self._armed:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise Terminated(f"the worker received {name}")
