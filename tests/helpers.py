"""Test helpers shared across test folders: decoding frames, their timestamps and hashes,
finding leftover processes."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np


def decode_frames(video: Path) -> np.ndarray:
    """Every frame of ``video`` as an array (frames, height, width, 3) of uint8 RGB."""
    info = json.loads(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height",
                "-of",
                "json",
                str(video),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["streams"][0]
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, info["height"], info["width"], 3)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text`` (e.g. a test's temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(") ")[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(cmdline.strip())
    return found


def video_frame_times(video: Path) -> list[tuple[Fraction, Fraction]]:
    """(presentation time, duration) in seconds of each video packet, in presentation order."""
    info = json.loads(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=time_base:packet=pts,duration",
                "-of",
                "json",
                str(video),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    tick = Fraction(info["streams"][0]["time_base"])
    return sorted((p["pts"] * tick, p["duration"] * tick) for p in info["packets"])


def frame_hashes(video: Path) -> list[str]:
    """The MD5 of every decoded video frame (ffmpeg's framemd5), in order."""
    listing = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:v", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.rsplit(",", 1)[1].strip() for line in listing.splitlines() if line[:1] != "#"]


def audio_hash(video: Path) -> str:
    """The MD5 of the video's decoded audio samples."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a", "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def left_edge(frame: np.ndarray, row: int) -> int:
    """The leftmost bright pixel in ``row`` of a decoded frame (a white box on black)."""
    bright = (frame[row, :, :].mean(axis=1) > 128).nonzero()[0]
    assert bright.size, f"no box in row {row}"
    return int(bright[0])


def stored_record(db_path: Path, entity_name: str, values: dict) -> str:
    """A record written straight into the local API's SQLite file, past every check the
    API makes: how a job (or run) reaches the farm through an API that checks nothing,
    such as a studio's own in attach mode. Returns its id."""
    from renderlib.jobs.models import ENTITIES
    from renderlib.jobs.service import utc_now
    from renderlib.jobs.sqlite_store import SqliteStore

    now = utc_now()
    item = {"id": str(uuid.uuid4()), **values, "createdAt": now, "updatedAt": now}
    SqliteStore(db_path).create(ENTITIES[entity_name], item)
    return item["id"]


def stored_job(db_path: Path, org_id: str, input: dict, *, job_id: str | None = None) -> str:
    """A queued render job stored past the API's checks (see ``stored_record``)."""
    values = {
        "orgId": org_id,
        "kind": "render",
        "status": "queued",
        "inputJson": json.dumps(input),
        "retryCount": 0,
        "maxRetries": 3,
    }
    return stored_record(db_path, "Job", {**values, **({"id": job_id} if job_id else {})})
