"""Submitting render jobs the way the studio does: from an input JSON, or from a
generation run folder whose files are first copied to the farm's storage and
registered as a GenerationRun.

Storage is a local folder (the local farm's stand-in for S3) or ``s3://BUCKET[/PREFIX]``.
A run's files land under ``[PREFIX/]generations/<orgId>/<videoId>/<runId>/``, keeping
their paths relative to the folder; those keys are what the GenerationRun records.
``generations/`` (``GENERATIONS_PREFIX``) is the prefix the cloud workers may read; the
task role's policy is built from the same constant.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from renderlib.errors import BadInputError, GenerationRunError, RenderlibError
from renderlib.farm.storage import GENERATIONS_PREFIX, storage_from_url
from renderlib.jobs.client import JobsClient
from renderlib.jobs.fields import check_token
from renderlib.jobs.records import GenerationRun, Job

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".ogg", ".m4a", ".aac", ".flac", ".opus"})


@dataclass(frozen=True)
class Submitted:
    job: Job
    generation_run: GenerationRun | None = None


def submit_input_file(
    client: JobsClient, path: Path, org_id: str, max_retries: int | None = None
) -> Submitted:
    """A render job whose inputJson is the JSON object in ``path``."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot read a JSON input: {exc}") from None
    if not isinstance(payload, dict):
        raise BadInputError(f"{path}: the job input must be a JSON object")
    return Submitted(client.create_job(org_id, payload, max_retries=max_retries))


def submit_generation_run(
    client: JobsClient,
    folder: Path,
    org_id: str,
    storage: str,
    *,
    video_id: str | None = None,
    max_retries: int | None = None,
    chunks: int | None = None,
) -> Submitted:
    """Copy the run to ``storage``, register its GenerationRun, create the render job
    (split into ``chunks`` chunks, if given: docs/farm.md, "Chunked renders"). The job
    states the video's length (``frames``, ``fps``) when renderlib can load the run, so
    the dispatcher can split it at claim time; a run it cannot load is submitted as it
    is, and its job fails with the reason."""
    for name in ("script.json", "timeline.json"):
        if not (folder / name).is_file():
            raise GenerationRunError(f"{folder}: a generation run needs {name}")
    check_token("--org", org_id)
    video_id = check_token(
        "the video id (--video-id, else script.json's videoId, else the folder's name)",
        video_id or _video_id(folder),
    )
    run_id = str(uuid.uuid4())
    store = storage_from_url(storage)
    base = store.folder(GENERATIONS_PREFIX, org_id, video_id, run_id)
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    keys = {p: base + p.relative_to(folder).as_posix() for p in files}
    for path, key in keys.items():
        store.upload(path, key)
    run = client.create_generation_run(
        org_id,
        video_id,
        keys[folder / "script.json"],
        keys[folder / "timeline.json"],
        [key for path, key in keys.items() if path.suffix.lower() in AUDIO_SUFFIXES],
        artifact_prefix=base,
        run_id=run_id,
    )
    job_input = {"generationRunId": run.id, "videoId": video_id, **_stated_length(folder)}
    if chunks is not None:
        job_input["chunks"] = chunks
    job = client.create_job(org_id, job_input, max_retries=max_retries)
    return Submitted(job, run)


def _video_id(folder: Path) -> str:
    try:
        script = json.loads((folder / "script.json").read_text())
    except ValueError as exc:
        raise GenerationRunError(f"{folder / 'script.json'}: not valid JSON: {exc}") from None
    if isinstance(script, dict):
        meta = script.get("meta") if isinstance(script.get("meta"), dict) else {}
        for candidate in (script.get("videoId"), meta.get("videoId")):
            if isinstance(candidate, str) and candidate:
                return candidate
    return folder.resolve().name


def _stated_length(folder: Path) -> dict:
    """``{"frames": N, "fps": F}`` of the run in ``folder``, or {} if it does not load."""
    from renderlib.generation_run import load_generation_run

    try:
        composition = load_generation_run(folder)
    except RenderlibError:
        return {}
    return {"frames": composition.frame_count, "fps": composition.fps}
