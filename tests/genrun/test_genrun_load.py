"""Loading a generation run: what the Composition gets, and every bad input's error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from genrun_helpers import make_tone, small_run, write_run

from renderlib.audio import probe_audio
from renderlib.errors import GenerationRunError
from renderlib.generation_run import TEMPLATE_DIR, load_generation_run
from renderlib.renderer import load_source


@pytest.fixture
def run(tmp_path) -> Path:
    return small_run(tmp_path / "run")


def edit(run: Path, name: str, change) -> None:
    path = run / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_run_becomes_a_pure_composition_on_the_standard_template(run):
    composition = load_source(run)
    assert composition.pure
    assert composition.base_dir == TEMPLATE_DIR.resolve()
    assert composition.page_path == TEMPLATE_DIR.resolve() / "index.html"
    assert (composition.width, composition.height, composition.fps) == (320, 180, 10)
    assert composition.frame_count == 62
    assert composition.output.poster_frame == 35
    assert [s["id"] for s in composition.props["scenes"]] == ["intro", "details", "outro"]
    assert composition.props["scenes"][1]["transition"] == {"type": "fade", "duration": 0.4}
    assert composition.props["duration"] == pytest.approx(6.2)
    tracks = [(t.track, t.start, t.loop, t.duck_under, t.duck_volume) for t in composition.audio]
    assert tracks == [
        ("narration", 2.8, False, None, 0.3),
        ("narration", 5.2, False, None, 0.3),
        ("music", 1.0, True, "narration", 0.25),
        ("sfx", 4.5, False, None, 0.3),
    ]
    assert all(Path(t.src).is_absolute() and Path(t.src).is_file() for t in composition.audio)


def test_duration_is_the_longest_of_declared_scenes_and_audio(run):
    assert load_generation_run(run).seconds == pytest.approx(6.2)  # audio ends last

    edit(run, "script.json", lambda s: s["meta"].update(duration=7.5))
    assert load_generation_run(run).seconds == pytest.approx(7.5)  # declared is longest

    def long_scene(s):
        s["meta"]["duration"] = 1
        s["scenes"][-1]["end"] = 8.05

    edit(run, "script.json", long_scene)
    assert load_generation_run(run).frame_count == 81  # 8.05 s at 10 fps, rounded up

    def no_declared(s):
        del s["meta"]["duration"]
        s["scenes"][-1]["end"] = 5.5

    edit(run, "script.json", no_declared)
    edit(run, "timeline.json", lambda t: t["tracks"][0]["clips"][1].update(duration=0.3))
    assert load_generation_run(run).seconds == pytest.approx(5.5)  # the last scene


def test_missing_script_json(run):
    (run / "script.json").unlink()
    with pytest.raises(GenerationRunError, match=r"script\.json: missing"):
        load_generation_run(run)


def test_missing_timeline_json(run):
    (run / "timeline.json").unlink()
    with pytest.raises(GenerationRunError, match=r"timeline\.json: missing"):
        load_generation_run(run)


def test_script_that_is_not_json(run):
    (run / "script.json").write_text("{ not json")
    with pytest.raises(GenerationRunError, match=r"script\.json: not valid JSON"):
        load_generation_run(run)


def test_clip_pointing_at_a_missing_file(run):
    edit(run, "timeline.json", lambda t: t["tracks"][0]["clips"][1].update(src="audio/gone.ogg"))
    with pytest.raises(
        GenerationRunError,
        match=r"timeline\.json: tracks\[0\]\.clips\[1\]\.src: audio file .*gone\.ogg "
        r"does not exist",
    ):
        load_generation_run(run)


def test_undecodable_audio(run):
    (run / "audio" / "ding.ogg").write_bytes(b"OggS but then nothing sensible" * 20)
    with pytest.raises(
        GenerationRunError,
        match=r"timeline\.json: tracks\[2\]\.clips\[0\]\.src: audio file .*ding\.ogg cannot be "
        r"decoded",
    ):
        load_generation_run(run)


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "script.json",
            lambda s: s["scenes"][0].update(start=-1),
            r"script\.json: scenes\[0\]\.start: expected a number >= 0, got -1",
        ),
        (
            "timeline.json",
            lambda t: t["tracks"][2]["clips"][0].update(start=-0.5),
            r"timeline\.json: tracks\[2\]\.clips\[0\]\.start: expected a number >= 0, got -0\.5",
        ),
        (
            "script.json",
            lambda s: s["scenes"][1].update(end=1.5),
            r"script\.json: scenes\[1\]\.end: expected a time after the scene's start \(2\), "
            r"got 1\.5",
        ),
        (
            "script.json",
            lambda s: s["scenes"][1]["transition"].update(type="zoom"),
            r"script\.json: scenes\[1\]\.transition\.type: expected one of fade, slide, wipe, "
            r'got "zoom"',
        ),
        (
            "script.json",
            lambda s: s["scenes"][1]["transition"].update(duration=3),
            r"scenes\[1\]\.transition\.duration: expected a number > 0 and <= 2\.5, got 3",
        ),
        (
            "script.json",
            lambda s: s["scenes"][2].update(start=4),
            r"scenes\[2\]\.start: expected a time >= 4\.5, the end of the scene before "
            r"\('details'\)",
        ),
        (
            "script.json",
            lambda s: s["scenes"][1]["cues"][0].update(start=9),
            r"scenes\[1\]\.cues\[0\]\.start: expected a time inside its scene \(2 to 4\.5\)",
        ),
        (
            "script.json",
            lambda s: s["scenes"][1]["layers"].append({"type": "chart"}),
            r"scenes\[1\]\.layers\[3\]\.type: expected one of title, bullets, captions, progress",
        ),
        (
            "script.json",
            lambda s: s["scenes"][0].update(titel="x"),
            r"scenes\[0\]: unknown field\(s\) titel; allowed: id, title, start, end",
        ),
        (
            "script.json",
            lambda s: s["meta"].update(width=321),
            r"meta\.width: expected an even number \(H\.264 needs one\), got 321",
        ),
        (
            "script.json",
            lambda s: s["meta"].pop("fps"),
            r"meta\.fps: expected a value \(required\), it is missing",
        ),
        (
            "script.json",
            lambda s: s.update(scenes=[]),
            r"script\.json: scenes: expected a non-empty list, got \[\]",
        ),
        (
            "timeline.json",
            lambda t: t["tracks"][1]["duck"].update(under="voice"),
            r"tracks\[1\]\.duck\.under: expected the name of another track \(narration, sfx\), "
            r'got "voice"',
        ),
        (
            "timeline.json",
            lambda t: t["tracks"][0]["clips"][0].update(src="../../etc/passwd"),
            r"tracks\[0\]\.clips\[0\]\.src: expected a path inside the run folder",
        ),
        (
            "timeline.json",
            lambda t: t["tracks"][1]["clips"][0].update(loop="yes"),
            r'tracks\[1\]\.clips\[0\]\.loop: expected true or false, got "yes"',
        ),
        (
            "timeline.json",
            lambda t: t["tracks"][1]["clips"][0].update(start=9),
            r"tracks\[1\]\.clips\[0\]\.start: expected a time before the video's end "
            r"\(6\.2 s\), got 9",
        ),
        (
            "timeline.json",
            lambda t: t["tracks"][0]["clips"][0].update(offset=100),
            r"tracks\[0\]\.clips\[0\]\.offset: expected less than the file's length",
        ),
        (
            "timeline.json",
            lambda t: t.update(clips=[]),
            r"timeline\.json: unknown field\(s\) clips; allowed: tracks$",
        ),
    ],
    ids=[
        "negative-scene-start",
        "negative-clip-start",
        "end-before-start",
        "unknown-transition",
        "transition-too-long",
        "overlapping-scenes",
        "cue-outside-scene",
        "unknown-layer",
        "unknown-field",
        "odd-width",
        "missing-fps",
        "no-scenes",
        "duck-unknown-track",
        "src-outside-run",
        "loop-not-bool",
        "looping-clip-after-the-end",
        "offset-past-the-file",
        "top-level-unknown",
    ],
)
def test_bad_input_names_file_field_and_expectation(run, file, change, message):
    edit(run, file, change)
    with pytest.raises(GenerationRunError, match=message):
        load_generation_run(run)


def test_cli_reports_a_bad_run_in_one_line_and_writes_nothing(run, tmp_path):
    edit(run, "script.json", lambda s: s["scenes"][1]["transition"].update(type="zoom"))
    out = tmp_path / "out" / "video.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "renderlib", "render", str(run), "-o", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "scenes[1].transition.type: expected one of fade, slide, wipe" in lines[0]
    assert not out.exists() and not out.with_suffix(".jpg").exists()


def test_the_shipped_example_is_a_valid_narrated_run():
    example = Path(__file__).parents[2] / "examples" / "narrated"
    composition = load_generation_run(example)
    assert (composition.width, composition.height, composition.fps) == (1280, 720, 30)
    assert composition.seconds >= 60
    assert {t.track for t in composition.audio} == {"narration", "music", "sfx"}
    assert any(t.loop and t.duck_under == "narration" for t in composition.audio)
    size = sum(f.stat().st_size for f in example.rglob("*") if f.is_file())
    assert size < 2_000_000
    # Each narration clip fits its cue: nothing overlaps the next cue.
    cues = [c for s in composition.props["scenes"] for c in s["cues"]]
    for cue in cues:
        clip = next(t for t in composition.audio if Path(t.src).stem == cue["id"])
        assert clip.start == cue["start"]
        assert probe_audio(Path(clip.src)) <= cue["end"] - cue["start"] + 0.02


def test_the_documented_example_is_a_valid_run(tmp_path):
    doc = (Path(__file__).parents[2] / "docs" / "generation-run.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", doc, flags=re.S)
    script, timeline = json.loads(blocks[0]), json.loads(blocks[1])
    (tmp_path / "audio").mkdir()
    for track in timeline["tracks"]:
        for clip in track["clips"]:
            make_tone(tmp_path / clip["src"], 1.0)
    write_run(tmp_path, script, timeline)
    composition = load_generation_run(tmp_path)
    assert composition.seconds == 12
    assert composition.output.poster_frame == 255
