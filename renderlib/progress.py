"""Progress reporting: a callback renderlib calls, and a terminal progress bar that is one.

A progress callback is any callable ``progress(stage, done, total)``; stages are
``audio``, ``capture`` (done/total in frames), ``encode`` and ``verify``. It
may be called from several worker threads at once.
"""

from __future__ import annotations

import sys
import threading
from typing import Protocol

from tqdm import tqdm


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...


def no_progress(stage: str, done: int, total: int) -> None:
    """The default callback: report nothing."""


class ProgressBar:
    """A tqdm bar for the capture stage, shown only on a terminal (stderr)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled and sys.stderr.isatty()
        self._bar: tqdm | None = None
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._enabled:
            return
        with self._lock:
            if stage == "capture":
                if self._bar is None:
                    self._bar = tqdm(
                        total=total,
                        unit="frame",
                        desc="rendering",
                        file=sys.stderr,
                        dynamic_ncols=True,
                    )
                self._bar.update(done - self._bar.n)
            elif self._bar is not None:
                self._bar.set_description(stage)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
