"""renderlib: turn a web page into a frame-exact MP4 (and the render farm's logic).

    from renderlib import Composition, render
    result = render(Composition.load("examples/showcase/composition.json"), "out.mp4")

The rendering names are imported on first use, so the farm's Lambda code can
import ``renderlib.jobs`` without Selenium or MoviePy installed.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from renderlib.composition import AudioTrack, Composition, OutputSettings
from renderlib.errors import (
    AudioError,
    BadInputError,
    BrowserError,
    CompositionError,
    EncodeError,
    GenerationRunError,
    HoldTimeoutError,
    OutputPathError,
    PageError,
    RenderlibError,
    VerificationError,
)

try:
    __version__ = version("babulus-render")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

_RENDER_NAMES = (
    "ChunkResult",
    "RenderResult",
    "join_chunks",
    "load_source",
    "render",
    "render_chunk",
)


def __getattr__(name: str):
    if name in _RENDER_NAMES:
        return getattr(import_module("renderlib.renderer"), name)
    raise AttributeError(f"module 'renderlib' has no attribute {name!r}")


__all__ = [
    "AudioError",
    "AudioTrack",
    "BadInputError",
    "BrowserError",
    "ChunkResult",
    "Composition",
    "CompositionError",
    "EncodeError",
    "GenerationRunError",
    "HoldTimeoutError",
    "OutputPathError",
    "OutputSettings",
    "PageError",
    "RenderResult",
    "RenderlibError",
    "VerificationError",
    "join_chunks",
    "load_source",
    "render",
    "render_chunk",
]
