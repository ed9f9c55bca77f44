"""Predict wall time and Fargate cost of a render on 1 or N tasks, from a measured sample.

The model (docs/cost.md explains each term and its defaults):

- every task waits ``provisioning_seconds`` before its process starts (scheduling, ENI,
  image pull); of that Fargate bills ``prices.billed_startup_seconds``;
- a task of V vCPUs runs V browsers (the renderer's default: one per CPU, fewer for
  short ranges), each capturing at ``cpu_efficiency / cpu_seconds_per_frame`` frames/s:
  the sample's CPU cost per frame, moved onto a vCPU of its own;
- each browser first starts (``browser_start_seconds``) and, on a page that is not
  pure, steps through every frame before its range (``step_seconds_per_frame`` each);
- a split job's chunk tasks are launched at once, all provisioned in parallel: the
  dispatcher splits a job that states its length (``renderlib submit`` does) at claim
  time, with no task of its own (docs/farm.md, "Chunked renders");
- a chunk task mixes its part of the audio and uploads it with its segment; one finisher
  then downloads them, joins the segments and the audio parts, muxes, verifies and
  uploads the MP4 (fan-in); a single task mixes the whole audio itself and has nothing to
  transfer but the MP4.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderlib.cost import FargatePrices, TaskSize, run_cost

# The renderer gives a browser at least this many frames (renderlib.renderer).
MIN_FRAMES_PER_BROWSER = 30
# A chunk's part of the audio mix: 48 kHz, 2 channels, 16-bit WAV (renderlib.audio).
AUDIO_BYTES_PER_SECOND = 48_000 * 2 * 2


@dataclass(frozen=True)
class Sample:
    """What a short sample render measured, and the video to predict."""

    frames: int  # frames of the video to predict
    seconds: float  # of the video
    pure: bool
    cpu_seconds_per_frame: float  # capture + encode, whole process tree, one browser
    browser_start_seconds: float  # launch and page load to the first frame
    step_seconds_per_frame: float  # stepping one earlier frame (pages that are not pure)
    audio_mix_seconds: float  # the MoviePy mix for the whole video
    join_fixed_seconds: float  # join + mux + verify of a short file: process start-ups
    bytes_per_frame: float  # of the encoded MP4


@dataclass(frozen=True)
class Model:
    """The assumptions that are not measured."""

    task: TaskSize
    prices: FargatePrices
    provisioning_seconds: float = 90.0
    cpu_efficiency: float = 0.85
    transfer_bytes_per_second: float = 50e6  # S3 from the task, each way
    join_bytes_per_second: float = 200e6  # ffmpeg stream copy + ffprobe of the joined file

    def __post_init__(self) -> None:
        if not 0 < self.cpu_efficiency <= 1:
            raise ValueError(f"cpu_efficiency must be in (0, 1], got {self.cpu_efficiency}")
        if self.provisioning_seconds < 0:
            raise ValueError("provisioning_seconds must not be negative")
        if self.transfer_bytes_per_second <= 0 or self.join_bytes_per_second <= 0:
            raise ValueError("transfer and join rates must be above 0")


@dataclass(frozen=True)
class Prediction:
    tasks: int
    chunk_frames: int  # the largest chunk
    wall_seconds: float  # from the job's launch to the RenderRun
    task_seconds: float  # summed over tasks, as the RenderRun records them
    cost_usd: float
    stepping_seconds: float  # of task_seconds, spent stepping earlier frames
    fan_in_seconds: float


def browsers_per_task(task: TaskSize, frames: int) -> int:
    """The renderer's default: one browser a CPU, at least 30 frames each."""
    return max(1, min(int(task.vcpu), frames // MIN_FRAMES_PER_BROWSER))


def browser_rate(sample: Sample, model: Model) -> float:
    """Frames/s one browser captures on a vCPU of the task."""
    return model.cpu_efficiency / sample.cpu_seconds_per_frame


def chunk_seconds(sample: Sample, model: Model, start: int, end: int, *, steps: bool) -> float:
    """Render time of frames [start, end) in one task: its slowest browser."""
    frames = end - start
    browsers = browsers_per_task(model.task, frames)
    rate = browser_rate(sample, model)
    bounds = [start + frames * i // browsers for i in range(browsers + 1)]
    slowest = max(
        (first if steps else 0) * sample.step_seconds_per_frame + (last - first) / rate
        for first, last in zip(bounds, bounds[1:], strict=False)
    )
    return sample.browser_start_seconds + slowest


def audio_part_bytes(sample: Sample) -> float:
    """The audio mix's bytes, as the chunks' parts of it (none when it has no audio)."""
    return sample.seconds * AUDIO_BYTES_PER_SECOND if sample.audio_mix_seconds else 0.0


def fan_in_seconds(sample: Sample, model: Model, tasks: int) -> float:
    """Join, mux, verify and upload of the whole video: for one task after its mix of the
    whole audio; for chunks after the finisher's download of every segment and audio part
    (each chunk mixed its own part)."""
    size = sample.frames * sample.bytes_per_frame
    if tasks == 1:
        return (
            sample.audio_mix_seconds
            + sample.join_fixed_seconds
            + size / model.join_bytes_per_second
            + size / model.transfer_bytes_per_second
        )
    return (
        sample.join_fixed_seconds
        + size / model.join_bytes_per_second
        + (2 * size + audio_part_bytes(sample)) / model.transfer_bytes_per_second
    )


def predict(sample: Sample, model: Model, tasks: int) -> Prediction:
    """The render of ``sample.frames`` frames as ``tasks`` equal chunks, one task each."""
    if not 1 <= tasks <= sample.frames:
        raise ValueError(f"tasks must be from 1 to the frame count {sample.frames}, got {tasks}")
    bounds = [sample.frames * i // tasks for i in range(tasks + 1)]
    chunks = list(zip(bounds, bounds[1:], strict=False))
    if tasks > 1:
        # Each chunk mixes its part of the audio and uploads it with its segment.
        audio_frame = sample.audio_mix_seconds / sample.frames
        audio_bytes = audio_part_bytes(sample) / sample.frames
        upload = (sample.bytes_per_frame + audio_bytes) / model.transfer_bytes_per_second
    else:
        audio_frame = upload = 0.0

    def chunk_task(start: int, end: int, steps: bool) -> float:
        own = chunk_seconds(sample, model, start, end, steps=steps)
        return own + (end - start) * (audio_frame + upload)

    durations = [chunk_task(a, b, not sample.pure) for a, b in chunks]
    stepping = sum(durations) - sum(chunk_task(a, b, False) for a, b in chunks)
    fan_in = fan_in_seconds(sample, model, tasks)
    # The last chunk to land runs the fan-in: at best the slowest one.
    slowest = max(range(tasks), key=durations.__getitem__)
    durations[slowest] += fan_in
    wall = model.provisioning_seconds + durations[slowest]
    cost = run_cost(model.task, model.prices, durations)
    return Prediction(
        tasks=tasks,
        chunk_frames=max(b - a for a, b in chunks),
        wall_seconds=wall,
        task_seconds=cost.task_seconds,
        cost_usd=cost.cost_usd,
        stepping_seconds=stepping,
        fan_in_seconds=fan_in,
    )
