"""Where the external programs renderlib drives are found.

Each can be overridden with an environment variable; otherwise the system
install (scripts/setup.sh, the Dockerfile) is used. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
import shutil

from renderlib.errors import RenderlibError

_TOOLS = {
    "ffmpeg": ("RENDERLIB_FFMPEG", "ffmpeg"),
    "ffprobe": ("RENDERLIB_FFPROBE", "ffprobe"),
    "chromium-headless-shell": ("RENDERLIB_HEADLESS_SHELL", "/usr/bin/chromium-headless-shell"),
    "chromedriver": ("RENDERLIB_CHROMEDRIVER", "/usr/bin/chromedriver"),
}


class ToolMissingError(RenderlibError):
    """A program renderlib needs is not installed."""


def tool_path(name: str) -> str:
    """The executable for ``name`` (ffmpeg, ffprobe, chromium-headless-shell, chromedriver)."""
    variable, default = _TOOLS[name]
    wanted = os.environ.get(variable, default)
    found = shutil.which(wanted)
    if found is None:
        raise ToolMissingError(
            f"{name} not found (looked for {wanted!r}; set {variable} to override); "
            "run scripts/setup.sh to install the system packages"
        )
    return found
