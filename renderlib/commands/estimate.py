"""``renderlib estimate``: wall time and Fargate cost of a render on 1 vs N tasks, from a
short measured sample (docs/cost.md)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from renderlib.commands.render import add_quality_argument

# Prod's task (Pulumi.prod.yaml: taskCpu, taskMemory, taskEphemeralStorageGiB).
PROD_TASK = (4096, 16384, 50)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="predict wall time and Fargate cost on 1 vs N tasks from a short sample render",
    )
    parser.add_argument("source", type=Path, help="composition .json file or generation run folder")
    parser.add_argument(
        "--tasks",
        type=_positive(int),
        default=10,
        metavar="N",
        help="chunk tasks to compare with one task (default: 10)",
    )
    parser.add_argument(
        "--duration",
        type=_positive(float),
        default=None,
        metavar="SECONDS",
        help="predict a video this long at the sample's rates "
        "(default: the composition's duration)",
    )
    parser.add_argument(
        "--samples",
        type=_positive(int),
        default=3,
        help="sample ranges spread over the video (default: 3)",
    )
    parser.add_argument(
        "--sample-seconds",
        type=_positive(float),
        default=2.0,
        help="seconds of video in each sample range (default: 2)",
    )
    parser.add_argument(
        "--task-cpu",
        type=_positive(int),
        default=PROD_TASK[0],
        metavar="UNITS",
        help="task cpu units, 1024 a vCPU (default: prod's 4096)",
    )
    parser.add_argument(
        "--task-memory",
        type=_positive(int),
        default=PROD_TASK[1],
        metavar="MIB",
        help="task memory in MiB (default: prod's 16384)",
    )
    parser.add_argument(
        "--task-storage",
        type=_positive(int),
        default=PROD_TASK[2],
        metavar="GIB",
        help="task ephemeral storage in GiB (default: prod's 50)",
    )
    parser.add_argument(
        "--provisioning-seconds",
        type=float,
        default=90.0,
        help="launch to process start per task (default: 90)",
    )
    parser.add_argument(
        "--cpu-efficiency",
        type=float,
        default=0.85,
        help="share of a vCPU each browser turns into frames (default: 0.85)",
    )
    parser.add_argument(
        "--transfer-mb-per-second",
        type=_positive(float),
        default=50.0,
        help="S3 upload/download rate of a task (default: 50)",
    )
    add_quality_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from renderlib.cost import FargatePrices, TaskSize
    from renderlib.errors import ConfigError
    from renderlib.estimate import Model, predict
    from renderlib.renderer import load_source
    from renderlib.sample_render import measure_sample

    composition = load_source(args.source, quality=args.quality)
    frames = round(args.duration * composition.fps) if args.duration else None
    try:
        model = Model(
            task=TaskSize.from_ecs(args.task_cpu, args.task_memory, args.task_storage),
            prices=FargatePrices.from_env(),
            provisioning_seconds=args.provisioning_seconds,
            cpu_efficiency=args.cpu_efficiency,
            transfer_bytes_per_second=args.transfer_mb_per_second * 1e6,
        )
    except ValueError as exc:
        raise ConfigError(f"renderlib estimate: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="renderlib-estimate-") as work:
        report = measure_sample(
            composition, Path(work), ranges=args.samples, seconds=args.sample_seconds, frames=frames
        )
    sample = report.sample
    task_counts = sorted({1, min(args.tasks, sample.frames)})
    predictions = [predict(sample, model, n) for n in task_counts]
    for line in describe(args.source, composition, report, model):
        print(line)
    print()
    print(f"{'tasks':>5}  {'frames/chunk':>12}  {'wall':>9}  {'task-seconds':>12}  "
          f"{'cost (USD)':>10}  {'stepping':>9}")  # fmt: skip
    for p in predictions:
        stepping = "-" if sample.pure else f"{p.stepping_seconds:,.0f} s"
        print(
            f"{p.tasks:>5}  {p.chunk_frames:>12,}  {_clock(p.wall_seconds):>9}  "
            f"{p.task_seconds:>12,.0f}  {p.cost_usd:>10.4f}  {stepping:>9}"
        )
    return 0


def describe(source: Path, composition, report, model) -> list[str]:
    """What was measured and assumed, a line each."""
    from renderlib.estimate import browser_rate, browsers_per_task

    sample, task, prices = report.sample, model.task, model.prices
    first = report.ranges[0]
    page = "pure page" if sample.pure else "page not pure: chunks step through earlier frames"
    cpu = "CPU from /proc" if report.cpu_measured else "no /proc: one core a browser assumed"
    if sample.pure:
        step = "none (pure page)"
    elif sample.step_seconds_per_frame:
        step = f"{sample.step_seconds_per_frame * 1000:.1f} ms a frame"
    else:
        step = "not measured (needs a second sample range)"
    return [
        f"sample: {len(report.ranges)} x {first.frames} frames of {source} "
        f"({composition.width}x{composition.height} @ {composition.fps:g} fps, {page}), "
        f"one browser each, on this {os.cpu_count()}-CPU machine",
        f"  {sum(t.captures for t in report.ranges)} of "
        f"{sum(t.frames for t in report.ranges)} sampled frames captured, the rest reused "
        "(unchanged); the video is assumed to be like its sample",
        f"  one browser here: {report.browser_frames_per_second:.2f} frames/s wall, "
        f"{sample.cpu_seconds_per_frame:.3f} CPU-s a frame ({cpu})",
        f"  browser start {sample.browser_start_seconds:.1f} s; stepping {step}; "
        f"audio mix {sample.audio_mix_seconds:.1f} s; join+verify {sample.join_fixed_seconds:.1f} s"
        f" + data; {sample.bytes_per_frame / 1000:.1f} kB a frame",
        f"video: {sample.frames / composition.fps:,.1f} s = {sample.frames:,} frames",
        f"task: {task.describe()} / {task.storage_gb:g} GB storage, "
        f"{browsers_per_task(task, sample.frames)} browsers at "
        f"{browser_rate(sample, model):.2f} frames/s each "
        f"(x{model.cpu_efficiency:g} of a vCPU); provisioning {model.provisioning_seconds:g} s "
        f"({prices.billed_startup_seconds:g} s of it billed)",
        f"prices: ${prices.vcpu_hour:g}/vCPU-h, ${prices.gb_hour:g}/GB-h, "
        f"${prices.storage_gb_hour:g}/GB-h storage over 20 GB, one-minute minimum a task",
    ]


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
        return value

    return parse
