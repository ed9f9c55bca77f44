"""Every error renderlib raises on purpose is a RenderlibError.

Each subclass names one kind of problem so callers (the CLI, the worker) can
decide what to do: the CLI prints ``str(error)`` as one line, the worker fails
a job at once on a ``BadInputError`` and retries it on anything transient.
"""


class RenderlibError(Exception):
    """Base of every error renderlib raises on purpose."""


class BadInputError(RenderlibError):
    """The user's input is wrong; retrying the same input cannot succeed."""


class CompositionError(BadInputError):
    """The composition (file or object) is invalid."""


class GenerationRunError(BadInputError):
    """A generation run folder (script.json, timeline.json, audio) is invalid."""


class AudioError(BadInputError):
    """An audio track is missing or cannot be decoded."""


class PageError(BadInputError):
    """The page failed: it threw while loading or rendering a frame."""


class HoldTimeoutError(PageError):
    """A hold placed by the page was not released in time."""


class OutputPathError(BadInputError):
    """The output path cannot be written."""


class InvalidValueError(BadInputError):
    """An id, name, storage key or text the farm does not accept: not a path-safe token,
    or too long (the rules: renderlib/jobs/fields.py)."""


class ArtifactNotFoundError(GenerationRunError):
    """A file a generation run names is not in storage (or may not be read there)."""


class BrowserError(RenderlibError):
    """Chromium or chromedriver failed (crashed, could not start): transient."""


class EncodeError(RenderlibError):
    """ffmpeg failed while encoding, joining or muxing."""


class VerificationError(RenderlibError):
    """The produced file does not match what was asked for."""


class ConfigError(RenderlibError):
    """A setting (an environment variable, a command-line option) is missing or invalid."""


class LaunchError(RenderlibError):
    """A worker task could not be launched (RunTask refused or failed, a process would not
    start). ``task_may_exist``: the request may have gone through before the error (a
    timeout), so a new launch must reuse the same idempotency token."""

    def __init__(self, message: str, *, task_may_exist: bool) -> None:
        super().__init__(message)
        self.task_may_exist = task_may_exist


class StorageError(RenderlibError):
    """S3 or the storage folder failed (unreachable, throttled, disk full): transient."""


class JobsApiError(RenderlibError):
    """The jobs API refused a request or answered with a GraphQL error."""

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type


class JobsUnavailableError(JobsApiError):
    """The jobs API could not be reached, even after retries: transient."""


class ClaimLostError(JobsApiError):
    """A conditional update lost: the job is no longer in the state the caller expected.

    Another agent claimed it, the reaper requeued it, or it finished. Never retried.
    """


class NotAuthorizedError(JobsApiError):
    """The jobs API refused the caller: no valid credentials, or the caller may not do
    this (another org's record, a farm-only operation)."""


class JobNotFoundError(JobsApiError):
    """No job has the given id."""


class GenerationRunNotFoundError(JobsApiError, GenerationRunError):
    """A job names a generation run the jobs API does not know: bad input."""


class PolicyConfigError(BadInputError):
    """A policy pack config file (enforcement levels, policy settings) is invalid."""
