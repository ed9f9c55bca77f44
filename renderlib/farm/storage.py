"""Where the farm keeps files: an S3 bucket in the cloud, a local folder on a laptop.

Keys are the bucket's keys (``generations/<org>/<video>/<run>/script.json``,
``renders/<org>/<video>/<job>/video.mp4``); a local folder holds the same keys as
relative paths. A storage may carry a key prefix (``s3://bucket/prefix``): it is put
in front of the keys the farm makes up (``storage.key(...)``, from path-safe tokens
only); keys read from a record (a GenerationRun's artifact keys) are used as they are,
once checked (renderlib/jobs/fields.py) and, for a job, found under its org's folder.
Errors name keys, never the local folder that holds them.

An upload appears at its key only once the whole file is there: S3 publishes an
object (single or multipart upload) only when it completes, and a local upload is
written under a temporary name in the same folder and then renamed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from renderlib.errors import ArtifactNotFoundError, BadInputError, StorageError
from renderlib.jobs.fields import check_key, check_token
from renderlib.jobs.records import GenerationRun

GENERATIONS_PREFIX = "generations"
RENDERS_PREFIX = "renders"
# A chunked job's segments wait for the fan-in here, beside its MP4, until it succeeds.
CHUNKS_FOLDER = "chunks"
# Files above this go up in parts of this size, several at once.
MULTIPART_CHUNK_BYTES = 16 * 1024 * 1024


class Storage(ABC):
    def __init__(self, prefix: str = "") -> None:
        prefix = prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""

    def key(self, *parts: str) -> str:
        """A key the farm makes up: the storage's prefix, then ``parts`` (each a token:
        InvalidValueError otherwise) joined by '/'."""
        return self.prefix + "/".join(check_token("key part", part) for part in parts)

    def folder(self, *parts: str) -> str:
        """The key prefix of a folder the farm makes up, ending in '/'."""
        return self.key(*parts) + "/"

    @abstractmethod
    def url(self, key: str) -> str:
        """Where ``key`` is, for messages: s3://bucket/key or a local path."""

    @abstractmethod
    def download(self, key: str, path: Path) -> None:
        """Copy ``key`` to ``path``. ArtifactNotFoundError if it is missing or may not
        be read; StorageError if storage failed."""

    @abstractmethod
    def upload(self, path: Path, key: str, content_type: str | None = None) -> None:
        """Put ``path`` at ``key``, visible there only once complete. StorageError on failure."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete_folder(self, folder: str) -> int:
        """Delete every file under ``folder`` (a key prefix ending in '/'); how many.
        Only the farm's cleanup (the dispatcher) may: the worker tasks' role has no delete."""


class LocalStorage(Storage):
    """A folder standing in for the bucket (the local farm)."""

    def __init__(self, root: Path | str, prefix: str = "") -> None:
        super().__init__(prefix)
        self.root = Path(root).absolute()

    def path(self, key: str) -> Path:
        """The file holding ``key``, always inside the root (InvalidValueError for a key
        that is not a storage key)."""
        return self.root.joinpath(*PurePosixPath(check_key("storage key", key)).parts)

    def url(self, key: str) -> str:
        return str(self.path(key))

    def download(self, key: str, path: Path) -> None:
        source = self.path(key)
        if not source.is_file():
            raise ArtifactNotFoundError(f"{key} does not exist in storage")
        try:
            shutil.copyfile(source, path)
        except OSError as exc:
            raise StorageError(f"cannot read {key} from storage: {exc.strerror}") from exc

    def upload(self, path: Path, key: str, content_type: str | None = None) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(handle)
            try:
                shutil.copyfile(path, partial)
                os.chmod(partial, 0o644)  # mkstemp makes it private; a stored render is not
                os.replace(partial, target)
            except BaseException:
                Path(partial).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"cannot write {key} to storage: {exc.strerror}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete_folder(self, folder: str) -> int:
        root = self.path(folder.rstrip("/"))
        files = [path for path in root.rglob("*") if path.is_file()] if root.is_dir() else []
        shutil.rmtree(root, ignore_errors=True)
        return len(files)


class S3Storage(Storage):
    """A bucket, through a boto3 S3 client (its retries apply to every call)."""

    def __init__(self, bucket: str, client, prefix: str = "") -> None:
        super().__init__(prefix)
        self.bucket = bucket
        self.client = client

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def download(self, key: str, path: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.download_file(self.bucket, key, str(path))
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ArtifactNotFoundError(f"{self.url(key)} does not exist") from None
            if code in ("403", "AccessDenied", "Forbidden"):
                # Without s3:ListBucket a missing key also answers 403.
                raise ArtifactNotFoundError(
                    f"{self.url(key)} cannot be read: it is missing, or outside the "
                    f"'{GENERATIONS_PREFIX}/' prefix the workers may read"
                ) from None
            raise StorageError(f"cannot download {self.url(key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot download {self.url(key)}: {exc}") from exc

    def upload(self, path: Path, key: str, content_type: str | None = None) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import S3UploadFailedError

        config = TransferConfig(
            multipart_threshold=MULTIPART_CHUNK_BYTES, multipart_chunksize=MULTIPART_CHUNK_BYTES
        )
        extra = {"ContentType": content_type} if content_type else None
        try:
            # A failed multipart upload is aborted by boto3, so no part is left behind.
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra, Config=config)
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise StorageError(f"cannot upload {self.url(key)}: {exc}") from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"cannot read {self.url(key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {self.url(key)}: {exc}") from exc
        return True

    def delete_folder(self, folder: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        deleted = 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder
            )
            for page in pages:  # at most 1000 keys a page, as DeleteObjects takes
                keys = [{"Key": item["Key"]} for item in page.get("Contents") or []]
                if keys:
                    self.client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                    )
                    deleted += len(keys)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot delete {self.url(folder)}: {exc}") from exc
        return deleted


def storage_from_url(location: str, client=None) -> Storage:
    """``s3://BUCKET[/PREFIX]`` or a local folder."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        if not bucket:
            raise BadInputError(f"storage {location!r}: expected s3://BUCKET[/PREFIX]")
        return S3Storage(bucket, client or s3_client(), prefix)
    return LocalStorage(location)


def storage_from_env(env: Mapping[str, str] | None = None) -> Storage:
    """RENDER_BUCKET (the cloud worker's bucket) or RENDERLIB_STORAGE (a folder or
    s3://BUCKET[/PREFIX])."""
    env = os.environ if env is None else env
    if env.get("RENDER_BUCKET"):
        return S3Storage(env["RENDER_BUCKET"], s3_client())
    if env.get("RENDERLIB_STORAGE"):
        return storage_from_url(env["RENDERLIB_STORAGE"])
    raise BadInputError("no storage configured: set RENDER_BUCKET or RENDERLIB_STORAGE")


def s3_client():
    """An S3 client that retries throttling and connection errors (standard mode);
    AWS_ENDPOINT_URL and the usual AWS variables configure it."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        config=Config(
            retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60
        ),
    )


def run_prefix(run: GenerationRun) -> str:
    """The key prefix of a run's files: its artifactPrefix, else the script's folder."""
    if run.artifact_prefix:
        return run.artifact_prefix.rstrip("/") + "/"
    folder = run.script_artifact_key.rpartition("/")[0]
    return f"{folder}/" if folder else ""


def download_generation_run(
    storage: Storage, run: GenerationRun, folder: Path, org_id: str
) -> Path:
    """Lay the run's files out in ``folder`` as a generation run folder, after checking
    that the run and every file it names are org ``org_id``'s (BadInputError otherwise).

    script.json and timeline.json get those names; each audio file keeps its path
    relative to the run's prefix (which is what timeline.json refers to), or its
    bare name if it lies outside the prefix.
    """
    if run.org_id != org_id:
        raise BadInputError(f"generation run {run.id} is not org {org_id}'s")
    org_folder = storage.folder(GENERATIONS_PREFIX, org_id)
    keys = [run.script_artifact_key, run.timeline_artifact_key, *run.audio_artifact_keys]
    for key in keys:
        check_key(f"generation run {run.id}: file", key)
        if not key.startswith(org_folder):
            raise BadInputError(
                f"generation run {run.id} names {key}, which is not under {org_folder}: "
                "a job reads only its own org's files"
            )
    prefix = run_prefix(run)
    wanted = {"script.json": run.script_artifact_key, "timeline.json": run.timeline_artifact_key}
    for key in run.audio_artifact_keys:
        wanted[key[len(prefix) :] if key.startswith(prefix) else key.rpartition("/")[2]] = key
    folder.mkdir(parents=True, exist_ok=True)
    for relative, key in wanted.items():
        target = folder.joinpath(*PurePosixPath(relative).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            storage.download(key, target)
        except ArtifactNotFoundError as exc:
            raise ArtifactNotFoundError(
                f"generation run {run.id}: {relative} is missing: {exc}"
            ) from None
    return folder


def _error_code(exc) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
