"""The ``renderlib`` command line: one subcommand module per concern.

Each module in renderlib.commands exposes ``register(subparsers)``, which adds
its subcommand and sets ``func`` on it. Errors renderlib raises on purpose are
printed as one line and exit 1; nothing else is caught.
"""

from __future__ import annotations

import argparse
import signal
import sys

from renderlib.commands import COMMANDS
from renderlib.errors import RenderlibError

# Modules that only the "farm" extra installs (renderlib alone renders without them).
FARM_MODULES = {"boto3", "botocore", "gql", "ariadne", "werkzeug", "requests"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="renderlib", description="Render narrated web-page videos to MP4."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM stops a command the way Ctrl-C does, so it cleans up (browsers, ffmpeg,
    # temp files) instead of leaving them behind.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return args.func(args) or 0
    except RenderlibError as exc:
        print(f"renderlib: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in FARM_MODULES:
            raise
        print(
            f"renderlib: error: 'renderlib {args.command}' needs the farm extra "
            f"({exc.name} is not installed): pip install 'babulus-render[farm]'",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("renderlib: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
