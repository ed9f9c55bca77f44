"""``renderlib render``: a composition file or generation run folder to MP4."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="render a composition file (or generation run folder) to an MP4"
    )
    parser.add_argument("source", type=Path, help="composition .json file or generation run folder")
    parser.add_argument("-o", "--output", type=Path, required=True, help="MP4 to write")
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel browsers (default: from the CPU count)"
    )
    parser.add_argument(
        "--frames",
        type=_frame_range,
        default=None,
        metavar="START:END",
        help="render only frames START (inclusive) to END (exclusive)",
    )
    add_quality_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def add_quality_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quality",
        choices=["draft", "standard", "high"],
        default=None,
        help="encoding quality preset (default: the composition's)",
    )


def run(args: argparse.Namespace) -> int:
    from renderlib.progress import ProgressBar
    from renderlib.renderer import load_source, render

    composition = load_source(args.source, quality=args.quality)
    with ProgressBar(enabled=not args.no_progress) as progress:
        result = render(
            composition,
            args.output,
            workers=args.workers,
            frame_range=args.frames,
            progress=progress,
        )
    print(result.summary())
    return 0


def _frame_range(text: str) -> tuple[int, int]:
    start, sep, end = text.partition(":")
    try:
        first, last = int(start), int(end)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END frame numbers, got {text!r}"
        ) from None
    if not sep or first < 0 or last <= first:
        raise argparse.ArgumentTypeError(f"expected 0 <= START < END, got {text!r}")
    return first, last
