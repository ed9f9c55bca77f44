"""A render split into chunks on the segment grid, each rendered alone and joined, is the
single render: the same decoded frames, the same duration, one continuous audio mix."""

import subprocess
import wave
from fractions import Fraction

import numpy as np
import pytest

from renderlib import Composition, join_chunks, render, render_chunk
from renderlib.audio import join_audio, mix_audio
from renderlib.chunks import chunk_ranges
from renderlib.errors import AudioError, CompositionError
from renderlib.verify import probe
from tests.helpers import frame_hashes
from tests.render.conftest import write_composition

PAGE = """<body style="margin:0;background:#234"><div style="position:absolute;width:10px;
height:10px;background:#fc3;animation:m 3s linear infinite"></div>
<style>@keyframes m{to{left:190px;transform:rotate(180deg)}}</style></body>"""
FPS = 10
FRAMES = 80  # 4 chunks of 20 frames: two grid segments each
SAMPLE_RATE = 48000


def test_chunks_are_whole_segments():
    rate = Fraction(FPS)
    assert chunk_ranges(FRAMES, rate, chunks=4) == [(0, 20), (20, 40), (40, 60), (60, 80)]
    assert chunk_ranges(FRAMES, rate, chunk_frames=30) == [(0, 40), (40, 80)]
    assert chunk_ranges(85, rate, chunks=4) == [(0, 40), (40, 80), (80, 85)]
    assert chunk_ranges(15, rate, chunks=4) == [(0, 15)]
    assert chunk_ranges(1800, Fraction(30), chunk_frames=600) == [
        (0, 600),
        (600, 1200),
        (1200, 1800),
    ]


@pytest.mark.parametrize(
    "arguments", [{}, {"chunks": 2, "chunk_frames": 20}, {"chunks": 0}, {"chunk_frames": 0}]
)
def test_a_bad_chunking_says_what_to_give(arguments):
    with pytest.raises(CompositionError, match="chunk"):
        chunk_ranges(FRAMES, Fraction(FPS), **arguments)


def _pcm(video) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a", "-f", "f32le", "-ac", "1", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.float32)


@pytest.fixture(scope="module")
def composition(tmp_path_factory) -> Composition:
    folder = tmp_path_factory.mktemp("chunks")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=9"]
        + ["-ar", str(SAMPLE_RATE), str(folder / "tone.wav")],
        check=True,
    )
    path = write_composition(
        folder,
        PAGE,
        width=200,
        height=80,
        fps=FPS,
        frames=FRAMES,
        pure=True,
        audio=[{"src": "tone.wav"}],
    )
    return Composition.load(path)


def test_four_chunks_joined_are_the_single_render(composition, tmp_path):
    single = render(composition, tmp_path / "single" / "video.mp4", workers=1)
    ranges = chunk_ranges(FRAMES, composition.frame_rate, chunks=4)
    chunks = [
        render_chunk(
            composition, tmp_path / "chunks" / f"{index:04d}.mp4", frame_range=span, workers=1
        )
        for index, span in enumerate(ranges)
    ]
    assert [(chunk.start, chunk.end) for chunk in chunks] == ranges
    assert all(probe(chunk.path).audio_duration is None for chunk in chunks)
    posters = [chunk.poster for chunk in chunks if chunk.poster is not None]
    assert len(posters) == 1  # only the chunk holding the poster frame (the middle) keeps it

    # Each chunk's part of the audio mix, as a chunk task makes it.
    pieces = [
        mix_audio(composition, tmp_path / "chunks" / f"{index:04d}.wav", frame_range=span)
        for index, span in enumerate(ranges)
    ]
    joined = join_chunks(
        composition,
        [chunk.path for chunk in chunks],
        tmp_path / "joined" / "video.mp4",
        poster=posters[0],
        captures=sum(chunk.captures for chunk in chunks),
        audio_pieces=pieces,
    )
    assert joined.frames == FRAMES
    assert frame_hashes(joined.path) == frame_hashes(single.path)
    assert probe(joined.path).duration == probe(single.path).duration
    assert joined.poster_path.read_bytes() == single.poster_path.read_bytes()

    audio, reference = _pcm(joined.path), _pcm(single.path)
    assert audio.size == reference.size
    np.testing.assert_array_equal(audio, reference)
    # No gap and no click where one chunk meets the next: the sine goes on, its level
    # and its largest step from one sample to the next as everywhere else.
    steady = audio[SAMPLE_RATE : 2 * SAMPLE_RATE - 1000]
    level, largest_step = np.sqrt(np.mean(steady**2)), np.abs(np.diff(steady)).max()
    for start, _ in ranges[1:]:
        at = start * SAMPLE_RATE // FPS
        window = audio[at - 480 : at + 480]
        assert np.sqrt(np.mean(window**2)) == pytest.approx(level, rel=0.05)
        assert np.abs(np.diff(window)).max() < 1.5 * largest_step


def _frames(path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


def test_the_chunks_parts_of_the_mix_joined_are_the_whole_mix_sample_for_sample(tmp_path):
    """Loops, offsets, fades, volume and ducking, each across a chunk boundary, at an NTSC
    rate whose 2 s grid is not whole seconds."""
    for name, frequency, seconds in (("voice", 330, 1.7), ("music", 550, 2.3)):
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
             f"sine=frequency={frequency}:duration={seconds}", "-ar", "44100",
             str(tmp_path / f"{name}.wav")],
            check=True,
        )  # fmt: skip
    path = write_composition(
        tmp_path,
        PAGE,
        fps=29.97,
        frames=250,
        audio=[
            {"src": "voice.wav", "start": 1.9, "fade_in": 0.4, "fade_out": 0.5, "track": "voice"},
            {"src": "voice.wav", "start": 5.5, "offset": 0.3, "volume": 0.7, "track": "voice"},
            {"src": "music.wav", "loop": True, "fade_in": 2.5, "fade_out": 1.0,
             "duck_under": "voice", "duck_volume": 0.2, "track": "music"},
        ],
    )  # fmt: skip
    composition = Composition.load(path)
    ranges = chunk_ranges(composition.frame_count, composition.frame_rate, chunks=4)
    assert len(ranges) == 3 and ranges[0] == (0, 120)  # 2.002 s segments
    whole = mix_audio(composition, tmp_path / "whole.wav")
    pieces = [
        mix_audio(composition, tmp_path / f"{index}.wav", frame_range=span)
        for index, span in enumerate(ranges)
    ]
    joined = join_audio(composition, pieces, tmp_path / "joined.wav")
    assert _frames(joined) == _frames(whole)
    with wave.open(str(whole), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (48000, 2)
        assert wav.getnframes() == round(250 * 1001 / 30000 * 48000)
    with pytest.raises(AudioError, match="the 2 audio pieces hold .* samples, the video's mix"):
        join_audio(composition, pieces[:2], tmp_path / "short.wav")
