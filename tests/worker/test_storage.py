"""Storage: the local folder and S3 (moto) put a file at its key only once it is
complete, and map missing files to bad input and outages to transient errors."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from renderlib.errors import ArtifactNotFoundError, BadInputError, StorageError
from renderlib.farm import storage as storage_module
from renderlib.farm.storage import (
    LocalStorage,
    S3Storage,
    download_generation_run,
    storage_from_env,
    storage_from_url,
)
from renderlib.jobs.records import GenerationRun

MIB = 1024 * 1024


def test_local_upload_appears_whole_or_not_at_all(local_storage, tmp_path, monkeypatch):
    source = tmp_path / "video.mp4"
    source.write_bytes(b"x" * 1000)
    local_storage.upload(source, "renders/o/v/j/video.mp4")
    target = local_storage.root / "renders/o/v/j/video.mp4"
    assert target.read_bytes() == b"x" * 1000

    def copy_half_then_fail(src, dst):
        with open(dst, "wb") as out:
            out.write(b"y" * 500)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", copy_half_then_fail)
    with pytest.raises(StorageError, match="No space left"):
        local_storage.upload(source, "renders/o/v/j/other.mp4")
    with pytest.raises(StorageError):
        local_storage.upload(source, "renders/o/v/j/video.mp4")
    assert sorted(p.name for p in target.parent.iterdir()) == ["video.mp4"]
    assert target.read_bytes() == b"x" * 1000  # the earlier file was never half-replaced


def test_local_keys_stay_inside_the_folder(local_storage, tmp_path):
    for key in ("generations/../../etc/passwd", "/etc/passwd", "a\x00b", "a//b", ""):
        with pytest.raises(BadInputError, match="is not a valid storage key"):
            local_storage.download(key, tmp_path / "x")
    with pytest.raises(ArtifactNotFoundError, match="^generations/none.json does not exist"):
        local_storage.download("generations/none.json", tmp_path / "x")


def test_keys_the_farm_makes_are_built_from_tokens_only(local_storage):
    assert local_storage.key("renders", "o", "v", "j") == "renders/o/v/j"
    for bad in ("org-a/evil", "/abs", "..", "a\x00b", ""):
        with pytest.raises(BadInputError, match="is not a valid id"):
            local_storage.key("renders", bad, "v", "j")


def test_s3_large_file_goes_up_in_parts(s3_storage, bucket, tmp_path, monkeypatch):
    monkeypatch.setattr(storage_module, "MULTIPART_CHUNK_BYTES", 5 * MIB)
    source = tmp_path / "big.mp4"
    source.write_bytes(bytes(range(256)) * (11 * MIB // 256))
    s3_storage.upload(source, "renders/o/v/j/video.mp4", "video/mp4")
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=bucket, Key="renders/o/v/j/video.mp4")
    assert head["ETag"].strip('"').endswith("-3")  # a three-part multipart upload
    assert head["ContentLength"] == source.stat().st_size
    s3_storage.download("renders/o/v/j/video.mp4", tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == source.read_bytes()


def test_s3_failed_multipart_upload_leaves_no_object(s3_storage, bucket, tmp_path, monkeypatch):
    monkeypatch.setattr(storage_module, "MULTIPART_CHUNK_BYTES", 5 * MIB)
    source = tmp_path / "big.mp4"
    source.write_bytes(b"\0" * 11 * MIB)
    parts = []

    def fail_the_last_part(params, **_):
        parts.append(params["PartNumber"])
        if params["PartNumber"] == 3:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")

    s3_storage.client.meta.events.register(
        "before-parameter-build.s3.UploadPart", fail_the_last_part
    )
    with pytest.raises(StorageError, match="cannot upload"):
        s3_storage.upload(source, "renders/o/v/j/video.mp4")
    assert 3 in parts
    assert not s3_storage.exists("renders/o/v/j/video.mp4")
    assert boto3.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_s3_missing_key_is_bad_input(s3_storage, bucket, tmp_path):
    with pytest.raises(ArtifactNotFoundError, match=f"s3://{bucket}/generations/x does not"):
        s3_storage.download("generations/x", tmp_path / "x")


def test_storage_from_env_and_url(bucket, tmp_path):
    cloud = storage_from_env({"RENDER_BUCKET": bucket})
    assert isinstance(cloud, S3Storage) and cloud.bucket == bucket
    assert cloud.key("renders", "o", "v", "j") == "renders/o/v/j"
    prefixed = storage_from_env({"RENDERLIB_STORAGE": f"s3://{bucket}/farm/"})
    assert isinstance(prefixed, S3Storage) and prefixed.key("renders", "o") == "farm/renders/o"
    local = storage_from_env({"RENDERLIB_STORAGE": str(tmp_path)})
    assert isinstance(local, LocalStorage) and local.root == tmp_path
    with pytest.raises(BadInputError, match="RENDER_BUCKET or RENDERLIB_STORAGE"):
        storage_from_env({})
    with pytest.raises(BadInputError, match="s3://BUCKET"):
        storage_from_url("s3:///prefix")


def test_generation_run_is_laid_out_as_a_run_folder(local_storage, tmp_path):
    files = {
        "generations/o/v/r/script.json": b"{}",
        "generations/o/v/r/timeline.json": b"[]",
        "generations/o/v/r/audio/n1.wav": b"RIFF1",
        "generations/o/shared/bed.wav": b"RIFF2",
    }
    for key, data in files.items():
        (tmp_path / "f").write_bytes(data)
        local_storage.upload(tmp_path / "f", key)
    now = datetime.now(UTC)
    run = GenerationRun(
        id="r",
        org_id="o",
        video_id="v",
        script_artifact_key="generations/o/v/r/script.json",
        timeline_artifact_key="generations/o/v/r/timeline.json",
        created_at=now,
        updated_at=now,
        artifact_prefix="generations/o/v/r/",
        audio_artifact_keys=("generations/o/v/r/audio/n1.wav", "generations/o/shared/bed.wav"),
    )
    with pytest.raises(BadInputError, match="generation run r is not org p's"):
        download_generation_run(local_storage, run, tmp_path / "run", "p")
    folder = download_generation_run(local_storage, run, tmp_path / "run", "o")
    got = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert got == {
        "script.json": b"{}",
        "timeline.json": b"[]",
        "audio/n1.wav": b"RIFF1",
        "bed.wav": b"RIFF2",
    }
