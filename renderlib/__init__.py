"""renderlib: turn a web page into a frame-exact MP4 (and the render farm's logic).

from renderlib import Composition, render
result = render(Composition.load("examples/showcase/composition.json"), "out.mp4")
"""

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
from renderlib.render import RenderResult, load_source, render

__all__ = [
    "AudioError",
    "AudioTrack",
    "BadInputError",
    "BrowserError",
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
    "load_source",
    "render",
]
