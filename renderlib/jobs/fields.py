"""What the farm accepts as ids, names and storage keys, and how large a value may be.

Checked where values enter (the jobs API) and again wherever a file path or S3 key is
made from one (storage, the launcher, the worker), because a job may also reach the
farm through an API that does not check (a studio's own, in attach mode).

- A *token* names one thing: a record id, orgId, videoId, generationRunId, jobId, a
  job's kind. 1 to 64 characters from ``A-Z a-z 0-9 . _ -``, the first a letter or a
  digit. So a token is never empty, ``.`` or ``..``, never holds ``/``, ``\\``, a NUL or
  a space, and never starts like a command-line option: it is safe as a file name and
  as one segment of an S3 key, unchanged.
- A *storage key* is relative: segments joined by ``/``, each 1 to 255 printable
  characters other than ``/`` and ``\\``, never ``.`` or ``..``; at most 1024 bytes
  (S3's limit).
- Sizes: DynamoDB keeps a record in one item of at most 400 KB, so a job's inputJson
  may take 256 KiB of it and every other text field is bounded well below the rest.
"""

from __future__ import annotations

import json
import re

from renderlib.errors import InvalidValueError

TOKEN_RULE = "1 to 64 characters from A-Z a-z 0-9 . _ -, the first a letter or digit"
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A key segment: printable, no '/' or '\'.
_SEGMENT = re.compile(r"[^\x00-\x1f\x7f/\\]{1,255}")
KEY_RULE = (
    "a relative key: segments joined by '/', each 1 to 255 printable characters "
    "other than '/' and '\\', never '.' or '..'; at most 1024 bytes"
)
MAX_KEY_BYTES = 1024

MAX_INPUT_JSON_BYTES = 256 * 1024
MAX_EVENT_DATA_BYTES = 64 * 1024
# failureReason, event messages, claimedByAgentId, taskArn, RenderRun status.
MAX_TEXT_BYTES = 4 * 1024
MAX_RETRIES_LIMIT = 10


def is_token(value: object) -> bool:
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def check_token(what: str, value: object) -> str:
    """``value`` if it is a token; InvalidValueError naming ``what`` and the rule."""
    if not is_token(value):
        raise InvalidValueError(f"{what} {_shown(value)} is not a valid id: use {TOKEN_RULE}")
    return value


def check_key(what: str, value: object) -> str:
    """``value`` if it is a storage key; InvalidValueError naming ``what`` and the rule."""
    ok = isinstance(value, str) and len(value.encode()) <= MAX_KEY_BYTES
    ok = ok and all(
        _SEGMENT.fullmatch(part) and part not in (".", "..") for part in value.split("/")
    )
    if not ok:
        raise InvalidValueError(f"{what} {_shown(value)} is not a valid storage key: {KEY_RULE}")
    return value


def key_in(key: str, *folder: str) -> bool:
    """Whether ``key`` names a file under the folder given as segments (``"renders",
    org``): at the key's start or after a storage prefix; the first occurrence of the
    folder's first segment decides, so ``x/renders/b/renders/a/f`` is under b, not a."""
    parts = key.split("/")
    if folder[0] not in parts:
        return False
    start = parts.index(folder[0])
    return parts[start : start + len(folder)] == list(folder) and len(parts) > start + len(folder)


def check_text(what: str, value: object, limit: int = MAX_TEXT_BYTES) -> str:
    """``value`` if it is a string of at most ``limit`` bytes (UTF-8)."""
    if not isinstance(value, str):
        raise InvalidValueError(f"{what} must be a string, got {_shown(value)}")
    size = len(value.encode())
    if size > limit:
        raise InvalidValueError(f"{what} is {size} bytes; at most {limit} are accepted")
    return value


def clip_text(value: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``value`` cut to at most ``limit`` bytes (UTF-8), marked with '...' when cut."""
    data = value.encode()
    if len(data) <= limit:
        return value
    return data[: limit - 3].decode(errors="ignore") + "..."


def _shown(value: object) -> str:
    """The value for a message: quoted, control characters escaped, long ones cut."""
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
